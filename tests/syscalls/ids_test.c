/* Process and credential ids: getpid, getppid, gettid, getuid & co,
 * getresuid/getresgid, getgroups, getpgid/getsid. Static C. */
#include <sys/syscall.h>
#include <sys/types.h>

#include "check.h"

TEST_CASE(PidIsOneOnlyInsideSandbox) {
  /* runsc makes the app the init process of its own pid namespace. */
  if (check_is_sandboxed()) {
    CHECK_EQ_LONG(getpid(), 1);
  } else {
    CHECK(getpid() > 1);
  }
}

TEST_CASE(ParentPidIsZeroForSandboxInit) {
  if (check_is_sandboxed()) {
    CHECK_EQ_LONG(getppid(), 0);
  } else {
    CHECK(getppid() >= 1);
  }
}

TEST_CASE(MainThreadTidEqualsPid) {
  CHECK_EQ_LONG(syscall(SYS_gettid), getpid());
}

TEST_CASE(GetresuidAgreesWithGetuidAndGeteuid) {
  uid_t r = 12345, e = 12345, s = 12345;
  CHECK_OK(getresuid(&r, &e, &s));
  CHECK_EQ_LONG(r, getuid());
  CHECK_EQ_LONG(e, geteuid());
  CHECK(s != 12345);
}

TEST_CASE(GetresgidAgreesWithGetgidAndGetegid) {
  gid_t r = 12345, e = 12345, s = 12345;
  CHECK_OK(getresgid(&r, &e, &s));
  CHECK_EQ_LONG(r, getgid());
  CHECK_EQ_LONG(e, getegid());
  CHECK(s != 12345);
}

TEST_CASE(GetresuidToBadPointerFailsWithEfault) {
  uid_t ok;
  void* bad = check_unmapped_address();
  CHECK_ERRNO(syscall(SYS_getresuid, &ok, &ok, bad), EFAULT);
  CHECK_ERRNO(syscall(SYS_getresgid, bad, &ok, &ok), EFAULT);
}

TEST_CASE(GetgroupsCountMatchesSecondCall) {
  int n = getgroups(0, NULL);
  CHECK(n >= 0);
  gid_t groups[256];
  if (n >= 0 && n <= 256) CHECK_EQ_LONG(getgroups(n, groups), n);
}

TEST_CASE(GetgroupsWithNegativeSizeFailsWithEinval) {
  gid_t groups[4];
  CHECK_ERRNO(syscall(SYS_getgroups, -1, groups), EINVAL);
}

TEST_CASE(GetgroupsWithTooSmallBufferFailsWithEinval) {
  int n = getgroups(0, NULL);
  if (n > 0) {
    gid_t groups[256];
    CHECK_ERRNO(syscall(SYS_getgroups, n - 1, groups), EINVAL);
  }
}

TEST_CASE(GetpgidAndGetsidOfSelfSucceed) {
  CHECK_EQ_LONG(getpgid(0), getpgrp());
  CHECK_EQ_LONG(syscall(SYS_getpgid, getpid()), getpgrp());
  CHECK_OK(getsid(0));
}

TEST_CASE(GetpgidOfNegativePidFailsWithEsrch) {
  CHECK_ERRNO(syscall(SYS_getpgid, -1), ESRCH);
  CHECK_ERRNO(syscall(SYS_getsid, -1), ESRCH);
}

TEST_CASE(GetpgidOfMissingPidFailsWithEsrch) {
  /* Above the kernel's PID_MAX_LIMIT (4M), so never a live process. */
  CHECK_ERRNO(syscall(SYS_getpgid, 5000000), ESRCH);
}

int main(void) {
  RUN(PidIsOneOnlyInsideSandbox);
  RUN(ParentPidIsZeroForSandboxInit);
  RUN(MainThreadTidEqualsPid);
  RUN(GetresuidAgreesWithGetuidAndGeteuid);
  RUN(GetresgidAgreesWithGetgidAndGetegid);
  RUN(GetresuidToBadPointerFailsWithEfault);
  RUN(GetgroupsCountMatchesSecondCall);
  RUN(GetgroupsWithNegativeSizeFailsWithEinval);
  RUN(GetgroupsWithTooSmallBufferFailsWithEinval);
  RUN(GetpgidAndGetsidOfSelfSucceed);
  RUN(GetpgidOfNegativePidFailsWithEsrch);
  RUN(GetpgidOfMissingPidFailsWithEsrch);
  return check_done();
}
