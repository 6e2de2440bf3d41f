/* uname(2) and sysinfo(2). Static C. */
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "check.h"

TEST_CASE(UnameReportsLinuxOnX86_64) {
  struct utsname u;
  memset(&u, 0, sizeof(u));
  CHECK_OK(uname(&u));
  CHECK(strcmp(u.sysname, "Linux") == 0);
  CHECK(strcmp(u.machine, "x86_64") == 0);
  CHECK(u.release[0] >= '1' && u.release[0] <= '9');
  CHECK(u.version[0] != '\0');
  CHECK(u.nodename[0] != '\0');
}

TEST_CASE(UnameFieldsAreNulTerminated) {
  struct utsname u;
  memset(&u, 'x', sizeof(u));
  CHECK_OK(uname(&u));
  CHECK(memchr(u.sysname, 0, sizeof(u.sysname)) != NULL);
  CHECK(memchr(u.nodename, 0, sizeof(u.nodename)) != NULL);
  CHECK(memchr(u.release, 0, sizeof(u.release)) != NULL);
  CHECK(memchr(u.version, 0, sizeof(u.version)) != NULL);
  CHECK(memchr(u.machine, 0, sizeof(u.machine)) != NULL);
  CHECK(memchr(u.domainname, 0, sizeof(u.domainname)) != NULL);
}

TEST_CASE(UnameToBadPointerFailsWithEfault) {
  CHECK_ERRNO(syscall(SYS_uname, check_unmapped_address()), EFAULT);
  CHECK_ERRNO(syscall(SYS_uname, NULL), EFAULT);
}

TEST_CASE(GethostnameMatchesUnameNodename) {
  struct utsname u;
  char host[256];
  CHECK_OK(uname(&u));
  CHECK_OK(gethostname(host, sizeof(host)));
  CHECK(strcmp(host, u.nodename) == 0);
}

TEST_CASE(SysinfoReportsPlausibleMemoryAndUptime) {
  struct sysinfo si;
  memset(&si, 0, sizeof(si));
  CHECK_OK(sysinfo(&si));
  CHECK(si.mem_unit >= 1);
  CHECK(si.totalram > 0);
  CHECK(si.freeram <= si.totalram);
  CHECK(si.uptime >= 0);
  CHECK(si.procs >= 1);
}

TEST_CASE(SysinfoToBadPointerFailsWithEfault) {
  CHECK_ERRNO(syscall(SYS_sysinfo, check_unmapped_address()), EFAULT);
  CHECK_ERRNO(syscall(SYS_sysinfo, NULL), EFAULT);
}

int main(void) {
  RUN(UnameReportsLinuxOnX86_64);
  RUN(UnameFieldsAreNulTerminated);
  RUN(UnameToBadPointerFailsWithEfault);
  RUN(GethostnameMatchesUnameNodename);
  RUN(SysinfoReportsPlausibleMemoryAndUptime);
  RUN(SysinfoToBadPointerFailsWithEfault);
  return check_done();
}
