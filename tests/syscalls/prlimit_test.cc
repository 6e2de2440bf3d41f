// getrlimit(2), setrlimit(2), prlimit64(2). Limits are restored after each
// test; only soft limits are lowered, never hard ones (that is one-way).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "util.h"

namespace syscall_test {
namespace {

TEST(Prlimit, SoftLimitIsAtMostHardLimit) {
  for (int r : {RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_AS, RLIMIT_CORE, RLIMIT_DATA}) {
    struct rlimit rl;
    ASSERT_THAT(Sys(SYS_getrlimit, r, &rl), Succeeds()) << "resource " << r;
    EXPECT_LE(rl.rlim_cur, rl.rlim_max) << "resource " << r;
  }
}

TEST(Prlimit, NofileLimitAllowsAtLeastSixtyFourFds) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_GE(rl.rlim_cur, 64u);
}

TEST(Prlimit, LoweredSoftLimitReadsBackAndRestores) {
  struct rlimit old, lowered, now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  lowered = {old.rlim_cur - 1, old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, old.rlim_cur - 1);
  EXPECT_EQ(now.rlim_max, old.rlim_max);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
}

TEST(Prlimit, PrlimitReturnsOldValueWhileSettingNew) {
  struct rlimit old, lowered, got;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  lowered = {old.rlim_cur - 1, old.rlim_max};
  ASSERT_THAT(Sys(SYS_prlimit64, 0, RLIMIT_NOFILE, &lowered, &got), Succeeds());
  EXPECT_EQ(got.rlim_cur, old.rlim_cur);
  ASSERT_THAT(Sys(SYS_prlimit64, getpid(), RLIMIT_NOFILE, &old, &got), Succeeds());
  EXPECT_EQ(got.rlim_cur, old.rlim_cur - 1);
}

TEST(Prlimit, SoftAboveHardFailsWithEinval) {
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  if (old.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "hard NOFILE limit is infinite";
  struct rlimit bad = {old.rlim_max + 1, old.rlim_max};
  EXPECT_THAT(Sys(SYS_setrlimit, RLIMIT_NOFILE, &bad), FailsWith(EINVAL));
}

TEST(Prlimit, UnknownResourceFailsWithEinval) {
  struct rlimit rl;
  EXPECT_THAT(Sys(SYS_getrlimit, 100, &rl), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_prlimit64, 0, 100, nullptr, &rl), FailsWith(EINVAL));
}

TEST(Prlimit, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_getrlimit, RLIMIT_NOFILE, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_setrlimit, RLIMIT_NOFILE, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, UnmappedAddress()),
              FailsWith(EFAULT));
}

TEST(Prlimit, MissingPidFailsWithEsrch) {
  struct rlimit rl;
  EXPECT_THAT(Sys(SYS_prlimit64, 5000000, RLIMIT_NOFILE, nullptr, &rl), FailsWith(ESRCH));
}

TEST(Prlimit, LoweredNofileLimitMakesOpenFailWithEmfile) {
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  int probe = open("/dev/null", O_RDONLY);  // The lowest free fd.
  ASSERT_GE(probe, 0);
  close(probe);
  // Every fd number >= probe is free now; allow none of them.
  struct rlimit tight = {static_cast<rlim_t>(probe), old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  SyscallResult r = Sys(SYS_dup, 1);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  if (r.ret >= 0) close(r.ret);
  EXPECT_THAT(r, FailsWith(EMFILE));
}

}  // namespace
}  // namespace syscall_test
