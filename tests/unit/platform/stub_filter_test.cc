// The ptrace stub's own seccomp filter (platform/ptrace/stub_filter.h): it
// kills a stub that makes any host syscall beyond its start-up and the
// tracer's injections, yet never sees app syscalls (PTRACE_SYSEMU skips
// seccomp).
#include "platform/ptrace/stub_filter.h"

#include <dirent.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "base/unique_fd.h"
#include "platform/platform.h"
#include "platform/ptrace/ptrace.h"
#include "platform/ptrace/stub.h"

namespace platform {
namespace {

// The stub traced by the calling thread (the factory, not the test, is its
// parent).
pid_t TracedStubPid() {
  const std::string want = fmt::format("TracerPid:\t{}", syscall(SYS_gettid));
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream status(fmt::format("/proc/{}/status", e->d_name));
    std::string line;
    while (std::getline(status, line)) {
      if (line == want) found = std::stoi(e->d_name);
    }
    if (found > 0) break;
  }
  closedir(d);
  return found;
}

constexpr uint64_t kStubPage = 4096;
constexpr uint64_t kStubCodeAddr = 0x400000;

// Forks a child that loads the stub filter for `fd` and runs `body`, which
// makes one syscall; the child exits 0 if that syscall returned. Returns the
// wait status.
int RunFiltered(int fd, const std::function<void()>& body) {
  ptrace::StubFilter filter = ptrace::BuildStubFilter(fd);
  const pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    if (ptrace::InstallStubFilter(filter, static_cast<pid_t>(syscall(SYS_getpid))) != 0) _exit(91);
    body();
    _exit(0);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

bool KilledBySeccomp(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }
bool ExitedZero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

class StubFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = base::UniqueFd(memfd_create("stub-filter-test", MFD_CLOEXEC));
    ASSERT_TRUE(fd_.valid());
    ASSERT_EQ(ftruncate(fd_.get(), 4 * kStubPage), 0);
  }
  base::UniqueFd fd_;
};

TEST_F(StubFilterTest, HostSyscallsOutsideTheStubAllowlistKillTheStub) {
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(SYS_getuid); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(SYS_execve, "/bin/true", nullptr, nullptr); })));
  // x86-64 numbers only: an i386 int 0x80 (getpid is 20 there) and x32.
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] {
    long r;
    asm volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
  })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd_.get(), [] { syscall(0x40000000 | SYS_getpid); })));
}

TEST_F(StubFilterTest, ArgumentFiltersHold) {
  const int fd = fd_.get();
  // Anonymous memory is never executable; the memory file may be.
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] {
    syscall(SYS_mmap, 0x500000, kStubPage, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  })));
  EXPECT_TRUE(ExitedZero(RunFiltered(fd, [fd] {
    if (syscall(SYS_mmap, 0x500000, kStubPage, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0) != 0x500000) {
      _exit(1);
    }
    if (syscall(SYS_mprotect, 0x500000, kStubPage, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) _exit(2);
    if (syscall(SYS_munmap, 0x500000, kStubPage) != 0) _exit(3);
  })));
  // Another fd, even mapped shared, is refused.
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [fd] {
    syscall(SYS_mmap, 0x500000, kStubPage, PROT_READ, MAP_SHARED | MAP_FIXED, fd + 100, 0);
  })));
  // prctl: only PR_SET_DUMPABLE; clone: only the stub-thread flags (no fork).
  EXPECT_TRUE(ExitedZero(RunFiltered(fd, [] { (void)syscall(SYS_prctl, PR_SET_DUMPABLE, 0); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] { syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] { syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); })));
  // kill: only SIGSTOP to itself.
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] { syscall(SYS_kill, getppid(), SIGSTOP); })));
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] { syscall(SYS_kill, syscall(SYS_getpid), SIGCONT); })));
  // mremap: only start-up's move to kStubBase.
  EXPECT_TRUE(KilledBySeccomp(RunFiltered(fd, [] {
    void* p = reinterpret_cast<void*>(0x500000);
    syscall(SYS_mremap, p, kStubPage, kStubPage, MREMAP_MAYMOVE | MREMAP_FIXED, 0x600000);
  })));
  EXPECT_GT(ptrace::StubFilterAllowedCount(), 10);
  EXPECT_LT(ptrace::StubFilterAllowedCount(), 25);
}

// The syscall numbers a filter built by stub_filter.cc has a rule for: after
// the 6-instruction prologue (arch check, x32 check, load of nr) each rule is
// `if (nr == N) { body ending in a return }`, skipped by its jump's jf.
absl::flat_hash_set<uint32_t> RuleNumbers(const std::vector<sock_filter>& insns) {
  absl::flat_hash_set<uint32_t> nrs;
  size_t pc = 6;
  while (pc < insns.size() && insns[pc].code == (BPF_JMP | BPF_JEQ | BPF_K)) {
    nrs.insert(insns[pc].k);
    pc += 1 + insns[pc].jf;
  }
  // The fall-through: everything else is killed.
  EXPECT_EQ(pc + 1, insns.size());
  if (pc < insns.size()) {
    EXPECT_EQ(insns[pc].code, BPF_RET | BPF_K);
    EXPECT_EQ(insns[pc].k, static_cast<uint32_t>(SECCOMP_RET_KILL_PROCESS));
  }
  return nrs;
}

// The counts logged by --debug and quoted in docs/security.md are those of
// the BPF programs themselves, and every syscall the stub filter allows is
// in the factory filter too (filters stack: the stricter one decides, so a
// stub syscall missing from the factory's list would kill every stub).
TEST_F(StubFilterTest, AllowedCountsAreThoseOfTheBpfPrograms) {
  const auto stub = RuleNumbers(ptrace::BuildStubFilter(fd_.get()).insns);
  const auto factory = RuleNumbers(ptrace::BuildFactoryFilter());
  EXPECT_EQ(static_cast<size_t>(ptrace::StubFilterAllowedCount()), stub.size());
  EXPECT_EQ(static_cast<size_t>(ptrace::FactoryFilterAllowedCount()), factory.size());
  for (uint32_t nr : stub) EXPECT_TRUE(factory.contains(nr)) << "stub syscall " << nr << " not in the factory filter";
}

// The factory (and a stub before its own filter) may not open, connect,
// trace or exec either.
TEST_F(StubFilterTest, FactoryFilterRefusesOpenSocketPtraceExec) {
  const std::vector<sock_filter> insns = ptrace::BuildFactoryFilter();
  auto run = [&insns](const std::function<void()>& body) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
      if (ptrace::InstallFilter(insns) != 0) _exit(91);
      body();
      _exit(0);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return status;
  };
  EXPECT_TRUE(ExitedZero(run([] { syscall(SYS_getpid); })));
  EXPECT_TRUE(KilledBySeccomp(run([] { syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); })));
  EXPECT_TRUE(KilledBySeccomp(run([] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); })));
  EXPECT_TRUE(KilledBySeccomp(run([] { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); })));
  EXPECT_TRUE(KilledBySeccomp(run([] { syscall(SYS_execve, "/bin/true", nullptr, nullptr); })));
  EXPECT_TRUE(KilledBySeccomp(run([] { syscall(SYS_getuid); })));
}

// App code making host syscalls that the stub filter would kill (getuid,
// openat, socket) still stops at the tracer: SYSEMU runs before seccomp.
TEST_F(StubFilterTest, AppSyscallsReachTheSentryNotTheStubFilter) {
  void* p = mmap(nullptr, kStubPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  const std::vector<uint8_t> code = {
      0xb8, 0x66, 0x00, 0x00, 0x00,  // mov $102 (getuid), %eax
      0x0f, 0x05,                    // syscall
      0xb8, 0x01, 0x01, 0x00, 0x00,  // mov $257 (openat), %eax
      0x0f, 0x05,                    // syscall
      0xb8, 0x29, 0x00, 0x00, 0x00,  // mov $41 (socket), %eax
      0x0f, 0x05,                    // syscall
  };
  std::memset(p, 0xcc, kStubPage);
  std::memcpy(p, code.data(), code.size());
  munmap(p, kStubPage);
  std::string why;
  auto plat = ptrace::NewPtracePlatform(fd_.get(), &why);
  ASSERT_TRUE(plat.ok()) << why;
  auto as = plat.value()->NewAddressSpace();
  ASSERT_TRUE(as.ok());
  auto ctx = plat.value()->NewContext();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE(as.value()->Map(kStubCodeAddr, kStubPage, kProtRead | kProtExec, fd_.get(), 0).ok());
  Registers regs = InitialRegisters(kStubCodeAddr, 0);
  for (uint64_t nr : {102, 257, 41}) {
    auto info = ctx.value()->Switch(*as.value(), regs);
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info.value().reason, StopReason::kSyscall);
    EXPECT_EQ(regs.regs.orig_rax, nr);
    regs.regs.rax = static_cast<uint64_t>(-ENOSYS);
  }
  // The stub is alive, and it runs under a filter of its own.
  const pid_t stub = TracedStubPid();
  ASSERT_GT(stub, 0);
  std::ifstream status(fmt::format("/proc/{}/status", stub));
  std::string line, seccomp;
  while (std::getline(status, line)) {
    if (line.rfind("Seccomp:", 0) == 0) seccomp = line;
  }
  EXPECT_EQ(seccomp, "Seccomp:\t2");
}

// The kernel emulates the [vsyscall] page through seccomp (time,
// gettimeofday, getcpu): old static binaries calling it must not kill the
// stub.
TEST_F(StubFilterTest, VsyscallPageDoesNotKillTheStub) {
  void* p = mmap(nullptr, 2 * kStubPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  const std::vector<uint8_t> code = {
      0x48, 0x31, 0xff,                                            // xor %rdi, %rdi
      0x48, 0xb8, 0x00, 0x04, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff,  // movabs $0xffffffffff600400 (time), %rax
      0xff, 0xd0,                                                  // call *%rax
      0x48, 0x89, 0xc7,                                            // mov %rax, %rdi
      0xb8, 0x27, 0x00, 0x00, 0x00,                                // mov $39, %eax
      0x0f, 0x05,                                                  // syscall
  };
  std::memset(p, 0xcc, kStubPage);
  std::memcpy(p, code.data(), code.size());
  munmap(p, 2 * kStubPage);
  std::string why;
  auto plat = ptrace::NewPtracePlatform(fd_.get(), &why);
  ASSERT_TRUE(plat.ok()) << why;
  auto as = plat.value()->NewAddressSpace();
  ASSERT_TRUE(as.ok());
  auto ctx = plat.value()->NewContext();
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE(as.value()->Map(kStubCodeAddr, kStubPage, kProtRead | kProtExec, fd_.get(), 0).ok());
  ASSERT_TRUE(as.value()->Map(kStubCodeAddr + 0x10000, kStubPage, kProtRead | kProtWrite, fd_.get(), kStubPage).ok());
  Registers regs = InitialRegisters(kStubCodeAddr, kStubCodeAddr + 0x10000 + kStubPage - 64);
  auto info = ctx.value()->Switch(*as.value(), regs);
  ASSERT_TRUE(info.ok());
  if (info.value().reason == StopReason::kFault) GTEST_SKIP() << "no [vsyscall] page on this host";
  ASSERT_EQ(info.value().reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 39u);
  EXPECT_GT(regs.regs.rdi, 1000000000u);  // time(NULL) from the host
}

}  // namespace
}  // namespace platform
