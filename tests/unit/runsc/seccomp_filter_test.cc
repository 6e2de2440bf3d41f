// The host seccomp allowlists (runsc/seccomp_*.cc): loaded in a forked child,
// an allowed call runs, anything else kills the process (SIGSYS) or, in
// --debug mode, is reported with its number and arguments and aborts.
#include "runsc/seccomp_filter.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "base/unique_fd.h"

namespace runsc::seccomp {
namespace {

struct Outcome {
  int status = 0;
  std::string report;  // what the SIGSYS handler wrote to the report fd
};

// Forks; the child loads `policy` and runs `body`, then exits 0.
Outcome RunUnder(const Policy& policy, OnViolation mode, const std::function<void()>& body) {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    // The handler writes to stderr too; keep the test log clean.
    if (!Install(policy, mode, p[1]).ok()) _exit(91);
    body();
    syscall(SYS_exit_group, 0);
  }
  close(p[1]);
  Outcome o;
  char buf[512];
  for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;) o.report.append(buf, static_cast<size_t>(n));
  close(p[0]);
  EXPECT_EQ(waitpid(pid, &o.status, 0), pid);
  return o;
}

bool Killed(const Outcome& o) { return WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS; }
bool Exited0(const Outcome& o) { return WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0; }

TEST(SeccompFilterTest, ViolationKillsTheProcessWithoutDebug) {
  const Policy sentry = SentryPolicy({.memory_fd = -1});
  EXPECT_TRUE(Exited0(RunUnder(sentry, OnViolation::kKillProcess, [] { syscall(SYS_getpid); })));
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); })));
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] { syscall(SYS_execve, "/bin/true", 0, 0); })));
}

TEST(SeccompFilterTest, DebugViolationIsLoggedWithNumberAndArgumentsThenAborts) {
  const Policy sentry = SentryPolicy({.memory_fd = -1});
  const Outcome o = RunUnder(sentry, OnViolation::kTrapAndLog, [] { syscall(SYS_socket, 2, 1, 0x1234); });
  EXPECT_TRUE(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT) << o.status;
  EXPECT_NE(o.report.find("sentry"), std::string::npos) << o.report;
  EXPECT_NE(o.report.find("syscall 41 (socket)"), std::string::npos) << o.report;
  EXPECT_NE(o.report.find("0x2 0x1 0x1234"), std::string::npos) << o.report;
}

TEST(SeccompFilterTest, SentryMayNotMapAnythingExecutableNorFork) {
  base::UniqueFd mem(memfd_create("seccomp-test", MFD_CLOEXEC));
  ASSERT_TRUE(mem.valid());
  ASSERT_EQ(ftruncate(mem.get(), 4096), 0);
  const Policy sentry = SentryPolicy({.memory_fd = mem.get()});
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] {
    mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  })));
  EXPECT_TRUE(Exited0(RunUnder(sentry, OnViolation::kKillProcess, [] {
    mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  })));
  const int fd = mem.get();
  EXPECT_TRUE(Exited0(RunUnder(sentry, OnViolation::kKillProcess, [fd] {
    if (mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED) _exit(3);
  })));
  // Issue #7: not even the memory file may be mapped executable, and no
  // mapping may become executable (only the factory's stubs, outside this
  // filter, map app code).
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [fd] {
    mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  })));
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0) _exit(3);
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
  })));
  // Only threads: the sentry never forks (stubs come from the factory).
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] {
    syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  })));
  // Namespaces: no clone with CLONE_NEW*.
  EXPECT_TRUE(Killed(RunUnder(sentry, OnViolation::kKillProcess, [] {
    syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
  })));
  // Path calls answer ENOENT instead of running.
  EXPECT_TRUE(Exited0(RunUnder(sentry, OnViolation::kKillProcess, [] {
    if (syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY) != -1 || errno != ENOENT) _exit(3);
  })));
}

TEST(SeccompFilterTest, GoferMayNotUseTheNetworkOrExec) {
  const Policy gofer = GoferPolicy();
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); })));
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_ptrace, 0, 0, 0, 0); })));
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] {
    mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  })));
}

// A ceiling, not the exact sizes (docs/security.md quotes those): growing an
// allowlist past it should be a deliberate decision.
TEST(SeccompFilterTest, AllowlistsStaySmallAndEveryRuleSaysWhy) {
  EXPECT_LE(SentryPolicy({.memory_fd = 3}).AllowedCount(), 100u);
  // 48 since writable mounts (#4): fchmod, ftruncate, utimensat, linkat, f*xattr.
  EXPECT_LE(GoferPolicy().AllowedCount(), 52u);
  for (const Policy& p : {SentryPolicy({.memory_fd = 3}), GoferPolicy()}) {
    for (const Rule& r : p.rules) EXPECT_FALSE(r.why.empty()) << p.name << " syscall " << r.nr;
  }
}

}  // namespace
}  // namespace runsc::seccomp
