// The host seccomp allowlists (runsc/seccomp_*.cc): loaded in a forked child,
// an allowed call runs, anything else kills the process (SIGSYS) or, in
// --debug mode, is reported with its number and arguments and aborts.
#include "runsc/seccomp_filter.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "base/unique_fd.h"
#include "platform/ptrace/stub_filter.h"

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

// Argument filters: terminal ioctls only; ptrace never reads or suspends
// seccomp; prctl only names threads; no new filter, no socket.
TEST(SeccompFilterTest, SentryArgumentFiltersHold) {
  const Policy sentry = SentryPolicy({.memory_fd = -1});
  auto killed = [&sentry](const std::function<void()>& body) {
    return Killed(RunUnder(sentry, OnViolation::kKillProcess, body));
  };
  auto ran = [&sentry](const std::function<void()>& body) {
    return Exited0(RunUnder(sentry, OnViolation::kKillProcess, body));
  };
  // ioctl: FIONBIO/TCGETS are terminal requests; TIOCSTI (fake terminal
  // input) and FIOCLEX are not.
  EXPECT_TRUE(ran([] {
    int on = 0;
    (void)ioctl(0, FIONBIO, &on);
  }));
  EXPECT_TRUE(killed([] {
    char c = 'x';
    (void)ioctl(0, TIOCSTI, &c);
  }));
  EXPECT_TRUE(killed([] { (void)ioctl(0, FIOCLEX); }));
  // ptrace: no PTRACE_TRACEME, PTRACE_SECCOMP_GET_FILTER, nor
  // PTRACE_O_SUSPEND_SECCOMP (in SEIZE or SETOPTIONS).
  EXPECT_TRUE(killed([] { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }));
  EXPECT_TRUE(killed([] { syscall(SYS_ptrace, 0x420c /* PTRACE_SECCOMP_GET_FILTER */, 1, 0, 0); }));
  EXPECT_TRUE(killed([] { syscall(SYS_ptrace, PTRACE_SEIZE, 1, 0, 1 << 21 /* O_SUSPEND_SECCOMP */); }));
  EXPECT_TRUE(killed([] { syscall(SYS_ptrace, PTRACE_SETOPTIONS, 1, 0, (1 << 21) | PTRACE_O_EXITKILL); }));
  EXPECT_TRUE(ran([] { (void)syscall(SYS_ptrace, PTRACE_SETOPTIONS, 1, 0, PTRACE_O_EXITKILL); }));
  // prctl: thread names only.
  EXPECT_TRUE(ran([] {
    if (prctl(PR_SET_NAME, "sentry-test", 0, 0, 0) != 0) _exit(3);
  }));
  EXPECT_TRUE(killed([] { prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); }));
  EXPECT_TRUE(killed([] { prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0); }));
  EXPECT_TRUE(killed([] { syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, nullptr); }));
  // No socket, bind or connect: only the inherited socketpair's sendmsg/recvmsg.
  EXPECT_TRUE(killed([] { syscall(SYS_connect, 0, nullptr, 0); }));
  EXPECT_TRUE(killed([] { syscall(SYS_bind, 0, nullptr, 0); }));
  EXPECT_TRUE(killed([] { syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, nullptr); }));
}

// The sentry is multithreaded: glibc's thread creation (clone3 refused with
// ENOSYS, then clone with thread flags) works under its filter.
TEST(SeccompFilterTest, SentryThreadsStartUnderTheFilter) {
  const Policy sentry = SentryPolicy({.memory_fd = -1});
  EXPECT_TRUE(Exited0(RunUnder(sentry, OnViolation::kKillProcess, [] {
    if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) _exit(3);
    int x = 0;
    std::thread t([&x] { x = 1; });
    t.join();
    if (x != 1) _exit(4);
  })));
}

TEST(SeccompFilterTest, GoferMayNotForkNorExec) {
  const Policy gofer = GoferPolicy();
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); })));
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_execve, "/bin/true", 0, 0); })));
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_mount, "none", "/", "tmpfs", 0, 0); })));
  EXPECT_TRUE(Killed(RunUnder(gofer, OnViolation::kKillProcess, [] { syscall(SYS_kill, 1, SIGKILL); })));
}

// docs/security.md quotes each allowlist's size in its table ("| sentry |
// source | syscalls | rules |") and in the --debug log lines it shows; both
// must be the code's, and any other "N syscalls" in the text must be one of
// the sizes. (tests/security checks the logged sizes of a real run too.)
TEST(SeccompFilterTest, SecurityDocQuotesTheAllowlistSizesOfTheCode) {
  const char* src = std::getenv("SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "meson sets SOURCE_DIR";
  std::ifstream f(std::string(src) + "/docs/security.md");
  ASSERT_TRUE(f.good()) << "docs/security.md missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  const Policy sentry = SentryPolicy({.memory_fd = 3});
  const Policy gofer = GoferPolicy();
  struct Size {
    size_t syscalls;
    size_t rules;  // 0: not a libseccomp policy
  };
  const std::map<std::string, Size> code = {
      {"sentry", {sentry.AllowedCount(), sentry.rules.size()}},
      {"gofer", {gofer.AllowedCount(), gofer.rules.size()}},
      {"stub", {static_cast<size_t>(platform::ptrace::StubFilterAllowedCount()), 0}},
      {"stub factory", {static_cast<size_t>(platform::ptrace::FactoryFilterAllowedCount()), 0}},
  };
  std::map<std::string, int> table_rows, log_lines;
  const std::regex row(R"(\n\| (sentry|gofer|stub|stub factory) \| [^|\n]* \| (\d+) \| *(\d*) *\|)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    ++table_rows[name];
    EXPECT_EQ(std::stoul((*it)[2]), code.at(name).syscalls) << "docs/security.md table row " << name;
    const std::string rules = (*it)[3];
    if (code.at(name).rules != 0) {
      EXPECT_EQ(rules, std::to_string(code.at(name).rules)) << "table row " << name;
    }
  }
  const std::regex logged(R"(seccomp: ([a-z ]+?) allowlist(?: installed)?: (\d+) host syscalls allowed(?: \((\d+) rules\))?)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), logged); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    ASSERT_TRUE(code.contains(name)) << name;
    ++log_lines[name];
    EXPECT_EQ(std::stoul((*it)[2]), code.at(name).syscalls) << "docs/security.md log line for " << name;
    if ((*it)[3].matched) {
      EXPECT_EQ(std::stoul((*it)[3]), code.at(name).rules) << "log line for " << name;
    }
  }
  for (const auto& [name, size] : code) {
    EXPECT_EQ(table_rows[name], 1) << "docs/security.md needs one table row for the " << name << " allowlist";
    EXPECT_EQ(log_lines[name], 1) << "docs/security.md needs the --debug log line of the " << name << " allowlist";
  }
  const std::regex any(R"(\b(\d+)[- ](?:host )?syscalls?\b)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), any); it != std::sregex_iterator(); ++it) {
    const size_t n = std::stoul((*it)[1]);
    bool known = false;
    for (const auto& [name, size] : code) known = known || n == size.syscalls;
    EXPECT_TRUE(known) << "docs/security.md says \"" << it->str() << "\", not the size of any allowlist";
  }
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
