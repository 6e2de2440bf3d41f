// seccomp(2) and prctl(PR_SET_SECCOMP): an app's own filters. Each test
// installs its filter in a forked child (a filter can never be removed)
// and reports through the child's exit status.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

constexpr uint32_t kRetErrno = 0x00050000u, kRetAllow = 0x7fff0000u, kRetTrap = 0x00030000u,
                   kRetKillProcess = 0x80000000u, kRetKillThread = 0, kRetTrace = 0x7ff00000u, kRetLog = 0x7ffc0000u;

// Runs `body` in a child; returns its wait status. `body` returns the exit code.
int InChild(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

int Install(std::vector<sock_filter> prog, unsigned flags = 0) {
  sock_fprog fp{static_cast<unsigned short>(prog.size()), prog.data()};
  return static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp));
}

// nr == `nr` (and, if `arg0` is set, args[0]'s low word == it): `match`;
// else ALLOW.
std::vector<sock_filter> OnSyscall(int nr, uint32_t match, std::optional<uint32_t> arg0 = std::nullopt) {
  std::vector<sock_filter> p = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, kRetKillProcess),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
  if (arg0.has_value()) {
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 3));
    p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, *arg0, 0, 1));
  } else {
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
  }
  p.push_back(BPF_STMT(BPF_RET | BPF_K, match));
  p.push_back(BPF_STMT(BPF_RET | BPF_K, kRetAllow));
  return p;
}

bool HasCapSysAdmin() {
  return prctl(PR_CAPBSET_READ, 21) == 1 && [] {
    // CapEff bit 21 of /proc/self/status.
    FILE* f = fopen("/proc/self/status", "r");
    if (f == nullptr) return false;
    char line[256];
    unsigned long long eff = 0;
    while (fgets(line, sizeof(line), f) != nullptr) {
      if (sscanf(line, "CapEff: %llx", &eff) == 1) break;
    }
    fclose(f);
    return ((eff >> 21) & 1) != 0;
  }();
}

TEST(Seccomp, ErrnoActionFailsTheCallWithTheFiltersErrno) {
  const int status = InChild([] {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 10;
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 42)) != 0) return 11;
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != 42) return 12;
    if (syscall(SYS_getpid) != getpid()) return 13;  // others still run
    if (prctl(PR_GET_SECCOMP) != 2) return 14;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, ErrnoDataAboveMaxErrnoIsCapped) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 0xffff)) != 0) return 11;
    errno = 0;
    const long r = syscall(SYS_getppid);
    return r == -1 && errno == 4095 ? 0 : 12;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, ArgumentFilterMatchesOnlyThatArgument) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_close, kRetErrno | EACCES, 1000)) != 0) return 11;
    errno = 0;
    if (close(1000) != -1 || errno != EACCES) return 12;
    errno = 0;
    if (close(1001) != -1 || errno != EBADF) return 13;  // ran: not an open fd
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, NewestFilterOfEqualActionWinsAndStricterActionWins) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 5)) != 0) return 11;
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 7)) != 0) return 12;
    if (Install(OnSyscall(SYS_getppid, kRetLog)) != 0) return 13;  // less strict than ERRNO
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != 7) return 14;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, FilterIsInheritedByForkedChildren) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 9)) != 0) return 11;
    const pid_t pid = fork();
    if (pid == 0) _exit(syscall(SYS_getppid) == -1 && errno == 9 ? 0 : 1);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return 12;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 13;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Seccomp: and Seccomp_filters: of /proc/self/status (-1 if absent).
std::pair<int, int> StatusSeccomp() {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return {-1, -1};
  char line[256];
  int mode = -1, filters = -1;
  while (fgets(line, sizeof(line), f) != nullptr) {
    sscanf(line, "Seccomp: %d", &mode);
    sscanf(line, "Seccomp_filters: %d", &filters);
  }
  fclose(f);
  return {mode, filters};
}

TEST(Seccomp, ProcStatusShowsTheModeAndHowManyFilters) {
  const int status = InChild([] {
    const auto [mode0, filters0] = StatusSeccomp();
    if (mode0 < 0 || filters0 < 0) return 10;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 9)) != 0) return 11;
    if (Install(OnSyscall(SYS_getpgid, kRetErrno | 9)) != 0) return 12;
    const auto [mode, filters] = StatusSeccomp();
    if (mode != 2) return 13;  // SECCOMP_MODE_FILTER
    return filters == filters0 + 2 ? 0 : 14;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

siginfo_t g_sigsys;
void OnSigsys(int, siginfo_t* info, void*) { g_sigsys = *info; }

TEST(Seccomp, TrapDeliversSigsysWithTheSyscallAndData) {
  const int status = InChild([] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, nullptr);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetTrap | 77)) != 0) return 11;
    syscall(SYS_getppid);
    if (g_sigsys.si_signo != SIGSYS) return 12;
    if (g_sigsys.si_code != 1 /* SYS_SECCOMP */) return 13;
    if (g_sigsys.si_syscall != SYS_getppid) return 14;
    if (g_sigsys.si_arch != AUDIT_ARCH_X86_64) return 15;
    if (g_sigsys.si_errno != 77) return 16;
    if (g_sigsys.si_call_addr == nullptr) return 17;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, TrapOfABlockedSigsysKillsWithSigsys) {
  const int status = InChild([] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    sigprocmask(SIG_BLOCK, &s, nullptr);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetTrap)) != 0) return 11;
    syscall(SYS_getppid);
    return 12;
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << status;
}

TEST(Seccomp, KillProcessAndKillThreadOfALoneThreadDieBySigsys) {
  for (uint32_t action : {kRetKillProcess, kRetKillThread}) {
    const int status = InChild([action] {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      if (Install(OnSyscall(SYS_getppid, action)) != 0) return 11;
      syscall(SYS_getppid);
      return 12;
    });
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << action << " " << status;
  }
}

TEST(Seccomp, TraceWithoutATracerIsEnosysAndLogAllows) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetTrace)) != 0) return 11;
    if (Install(OnSyscall(SYS_getpid, kRetLog)) != 0) return 12;
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != ENOSYS) return 13;
    if (syscall(SYS_getpid) <= 0) return 14;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, StrictModeAllowsReadWriteExitOnly) {
  int status = InChild([] {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) return 11;
    if (write(1, "", 0) != 0) return 12;
    syscall(SYS_exit, 0);
    return 13;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  status = InChild([] {
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, nullptr) != 0) return 11;
    syscall(SYS_getpid);
    syscall(SYS_exit, 12);
    return 12;
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST(Seccomp, FilterWithoutNoNewPrivsNeedsCapSysAdmin) {
  if (HasCapSysAdmin()) GTEST_SKIP() << "runs with CAP_SYS_ADMIN";
  const int status = InChild([] {
    errno = 0;
    if (Install(OnSyscall(SYS_getppid, kRetErrno | 1)) != -1 || errno != EACCES) return 11;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, MalformedProgramsAreEinval) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    const std::vector<std::vector<sock_filter>> bad = {
        {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)},                                      // no return last
        {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // unaligned
        {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // past seccomp_data
        {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // byte load
        {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // out of range
        {BPF_STMT(BPF_LD | BPF_MEM, 0), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // read before store
        {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, kRetAllow)},  // divide by 0
    };
    for (size_t i = 0; i < bad.size(); ++i) {
      errno = 0;
      if (Install(bad[i]) != -1 || errno != EINVAL) return 20 + static_cast<int>(i);
    }
    sock_fprog empty{0, nullptr};
    errno = 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &empty) != -1 || errno != EINVAL) return 11;
    errno = 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, UnmappedAddress()) != -1 || errno != EFAULT) return 12;
    errno = 0;
    if (syscall(SYS_seccomp, 99, 0, nullptr) != -1 || errno != EINVAL) return 13;
    // Scratch memory stored first, then read: fine.
    if (Install({BPF_STMT(BPF_LD | BPF_IMM, kRetAllow), BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_LD | BPF_MEM, 3),
                 BPF_STMT(BPF_RET | BPF_A, 0)}) != 0) {
      return 14;
    }
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, TsyncGivesEveryThreadTheFilterAndPrctlInstallsOne) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    std::atomic<int> phase{0};
    std::atomic<long> got{0};
    std::atomic<int> err{0};
    std::thread th([&] {
      while (phase.load() != 1) sched_yield();
      errno = 0;
      got = syscall(SYS_getppid);
      err = errno;
      phase = 2;
    });
    auto prog = OnSyscall(SYS_getppid, kRetErrno | 33);
    if (Install(prog, SECCOMP_FILTER_FLAG_TSYNC) != 0) return 11;
    phase = 1;
    th.join();
    if (got.load() != -1 || err.load() != 33) return 12;
    // prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) stacks another one.
    auto prog2 = OnSyscall(SYS_getppid, kRetErrno | 44);
    sock_fprog fp{static_cast<unsigned short>(prog2.size()), prog2.data()};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) != 0) return 13;
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != 44) return 14;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, KillThreadOfOneOfSeveralThreadsEndsThatThreadOnly) {
  const int status = InChild([] {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (Install(OnSyscall(SYS_getppid, kRetKillThread)) != 0) return 11;
    std::thread th([] {
      syscall(SYS_getppid);
      _exit(12);  // never reached: the thread is gone
    });
    th.join();  // its tid is cleared as it dies
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Seccomp, GetActionAvailKnowsTheActions) {
  uint32_t a = kRetAllow;
  EXPECT_EQ(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), 0);
  a = kRetKillProcess;
  EXPECT_EQ(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), 0);
  a = 0x12340000u;
  errno = 0;
  EXPECT_EQ(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(prctl(PR_GET_SECCOMP), 0);
}

}  // namespace
}  // namespace syscall_test
