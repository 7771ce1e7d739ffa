#include "core/bytes.h"

#include <gtest/gtest.h>

namespace kakunin {
namespace {

TEST(ParseRowIdTest, OnlyOneToEighteenAsciiDigits) {
  EXPECT_EQ(ParseRowId("0"), 0);
  EXPECT_EQ(ParseRowId("12"), 12);
  EXPECT_EQ(ParseRowId("999999999999999999"), 999999999999999999);
  for (const char* bad : {"", "1234567890123456789", "-1", "+1", " 1", "1 ", "1a", "１２",
                          "0x10"}) {
    EXPECT_FALSE(ParseRowId(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kakunin
