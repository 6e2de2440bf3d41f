#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace base {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Errno::kEINVAL;
  return x / 2;
}

Result<int> Quarter(int x) {
  int h = TRY(Half(x));
  return TRY(Half(h));
}

TEST(Result, ValueAndErrorAreDistinct) {
  Result<int> ok = Half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 2);
  Result<int> bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Errno::kEINVAL);
}

TEST(Result, TryPropagatesTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_EQ(Quarter(6).error(), Errno::kEINVAL);
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<std::string>> r = std::make_unique<std::string>("x");
  ASSERT_TRUE(r.ok());
  std::unique_ptr<std::string> p = std::move(r).value();
  EXPECT_EQ(*p, "x");
}

TEST(Errno, NamesMatchLinux) {
  EXPECT_EQ(ErrnoName(Errno::kENOENT), "ENOENT");
  EXPECT_EQ(ErrnoName(Errno::kEAGAIN), "EAGAIN");
  EXPECT_EQ(ErrnoName(Errno::kERESTARTSYS), "ERESTARTSYS");
  EXPECT_EQ(static_cast<int>(Errno::kEWOULDBLOCK), 11);
}

}  // namespace
}  // namespace base
