#include "registry/purposes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace kakunin::registry {
namespace {

TEST(PurposeCatalogueTest, TheShippedYamanashiSampleLoads) {
  auto c = PurposeCatalogue::Load(std::string(KAKUNIN_SOURCE_DIR) + "/data/purposes/yamanashi.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Purpose* board = c->Find("board.school_aid");
  ASSERT_NE(board, nullptr);
  EXPECT_EQ(board->kind, PurposeKind::kProvision);
  EXPECT_TRUE(board->AllowsField("address"));
  EXPECT_FALSE(board->AllowsField("individual_number"));  // 他の執行機関: without 個人番号
  EXPECT_TRUE(board->AllowsRecipient("agency:yamanashi-board-of-education"));
  EXPECT_FALSE(board->AllowsRecipient("agency:someone-else"));
  EXPECT_NE(board->legal_basis.find("別表第六"), std::string::npos);
  const Purpose* self = c->Find("disclosure.self");
  ASSERT_NE(self, nullptr);
  EXPECT_TRUE(self->AllowsField("individual_number"));
  EXPECT_EQ(c->Find("no.such.purpose"), nullptr);
}

TEST(PurposeCatalogueTest, OnlyThePrefecturesOwnPurposesAreOpenToOperators) {
  auto c = PurposeCatalogue::Parse(SamplePurposeCatalogue());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const char* id : {"registry.maintenance", "pref.passport", "stats.population"}) {
    ASSERT_NE(c->Find(id), nullptr) << id;
    EXPECT_TRUE(c->Find(id)->OpenToOperators()) << id;
  }
  EXPECT_EQ(c->Find("registry.maintenance")->Department(), "dept:registry");
  for (const char* id : {"national.forwarding", "board.school_aid", "disclosure.self"}) {
    ASSERT_NE(c->Find(id), nullptr) << id;
    EXPECT_FALSE(c->Find(id)->OpenToOperators()) << id;
  }
  // Systems: a provision is its recipients' systems'; an internal use only when its entry says
  // so (the passport office's system), never registry.maintenance (review: every item to a
  // system the host registered); the other kinds never.
  for (const char* id : {"board.school_aid", "pref.passport", "pref.ordinance.example"}) {
    EXPECT_TRUE(c->Find(id)->OpenToSystems()) << id;
  }
  for (const char* id :
       {"registry.maintenance", "national.forwarding", "disclosure.self", "stats.population"}) {
    EXPECT_FALSE(c->Find(id)->OpenToSystems()) << id;
  }
  auto national = PurposeCatalogue::Parse(SampleNationalPurposeCatalogue());
  ASSERT_TRUE(national.ok()) << national.status().ToString();
  EXPECT_TRUE(national->Find("nenkin.pension")->OpenToSystems());
  // An internal purpose without a department of the prefecture is not either.
  auto odd = PurposeCatalogue::Parse(
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"internal_use\"\n"
      "recipients = [\"operator\"]\nfields = [\"name\"]\n");
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(odd->Find("a")->OpenToOperators());
}

TEST(PurposeCatalogueTest, StrictAboutWhatCouldWidenAPurpose) {
  const std::string ok =
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"name\"]\n";
  EXPECT_TRUE(PurposeCatalogue::Parse(ok).ok());
  const char* bad[] = {
      "",
      "[[purpose]]\nid = \"a\"\n",
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"whatever\"\n"
      "recipients = [\"x\"]\nfields = [\"name\"]\n",
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"shoe_size\"]\n",
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = []\nfields = [\"name\"]\n",
      "[[purpose]]\nid = \"A B\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"name\"]\n",
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"name\"]\nextra = 1\n",
      // A field named twice: every answer under it held the member twice ({"name":…,"name":…},
      // which a strict JSON reader refuses) and the provision record listed the item twice.
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"name\", \"sex\", \"name\"]\n",
      // `systems` opens an internal use to a department's system, and nothing else.
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"provision\"\n"
      "recipients = [\"x\"]\nfields = [\"name\"]\nsystems = true\n",
      "[[purpose]]\nid = \"a\"\ntitle = \"t\"\nlegal_basis = \"b\"\nkind = \"internal_use\"\n"
      "recipients = [\"dept:x\"]\nfields = [\"name\"]\nsystems = \"yes\"\n",
  };
  for (const char* text : bad) EXPECT_FALSE(PurposeCatalogue::Parse(text).ok()) << text;
  EXPECT_FALSE(PurposeCatalogue::Parse(ok + ok).ok());  // duplicate id
  EXPECT_FALSE(PurposeCatalogue::Parse("other = 1\n" + ok).ok());
}

// Found in review: a FIFO as the catalogue blocked every command for ever, a directory read as
// "no [[purpose]] entries". Both are refused by what they are; a missing file is NotFound.
TEST(PurposeCatalogueTest, OnlyARegularFileIsReadAsTheCatalogue) {
  char tmpl[] = "/tmp/kakunin-purposes-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(::mkfifo((dir + "/fifo.toml").c_str(), 0600), 0);
  ASSERT_EQ(::mkdir((dir + "/dir.toml").c_str(), 0700), 0);
  auto fifo = PurposeCatalogue::Load(dir + "/fifo.toml");
  EXPECT_EQ(fifo.status().code(), StatusCode::kInvalidArgument) << fifo.status().ToString();
  EXPECT_NE(fifo.status().message().find("not a file"), std::string::npos);
  auto directory = PurposeCatalogue::Load(dir + "/dir.toml");
  EXPECT_EQ(directory.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(directory.status().message().find("is a directory"), std::string::npos);
  EXPECT_EQ(PurposeCatalogue::Load(dir + "/missing.toml").status().code(), StatusCode::kNotFound);
  ::unlink((dir + "/fifo.toml").c_str());
  ::rmdir((dir + "/dir.toml").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace kakunin::registry
