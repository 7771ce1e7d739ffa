#include "core/status.h"

#include <gtest/gtest.h>

namespace kakunin {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::InvalidArgument("bad header");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "invalid_argument: bad header");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Status UsesMacro(int x, int* out) {
  KAKUNIN_RETURN_IF_ERROR(Half(x).status());
  *out = *Half(x);
  return Status::Ok();
}

TEST(ResultTest, ValueOrStatus) {
  auto r = Half(4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  auto e = Half(3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  int out = 0;
  EXPECT_FALSE(UsesMacro(3, &out).ok());
  EXPECT_TRUE(UsesMacro(8, &out).ok());
  EXPECT_EQ(out, 4);
}

}  // namespace
}  // namespace kakunin
