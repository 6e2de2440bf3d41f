// Synchronous signals from faults: SIGSEGV with si_addr and SEGV_MAPERR /
// SEGV_ACCERR, SIGBUS past the end of a mapped file, SIGFPE (FPE_INTDIV), SIGILL (ILL_ILLOPN), SIGTRAP (int3),
// caught with a handler and left with siglongjmp.
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "util.h"

namespace syscall_test {
namespace {

sigjmp_buf g_jmp;
volatile int g_signo = 0;
volatile int g_code = 0;
volatile uintptr_t g_addr = 0;

void Handler(int sig, siginfo_t* info, void*) {
  g_signo = sig;
  g_code = info->si_code;
  g_addr = reinterpret_cast<uintptr_t>(info->si_addr);
  siglongjmp(g_jmp, 1);
}

class Catch {
 public:
  explicit Catch(int sig) : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_sigaction = Handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig_, &sa, &old_);
    g_signo = 0;
    g_code = 0;
    g_addr = 0;
  }
  ~Catch() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ = {};
};

TEST(FaultSignals, UnmappedReadGivesSegvMaperrWithAddress) {
  Catch c(SIGSEGV);
  volatile char* p = static_cast<volatile char*>(UnmappedAddress()) + 8;
  if (sigsetjmp(g_jmp, 1) == 0) {
    (void)*p;
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGSEGV);
  EXPECT_EQ(g_code, SEGV_MAPERR);
  EXPECT_EQ(g_addr, reinterpret_cast<uintptr_t>(p));
}

TEST(FaultSignals, WriteToReadOnlyPageGivesSegvAccerr) {
  Catch c(SIGSEGV);
  void* m = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  volatile char* p = static_cast<volatile char*>(m) + 100;
  if (sigsetjmp(g_jmp, 1) == 0) {
    *p = 1;
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGSEGV);
  EXPECT_EQ(g_code, SEGV_ACCERR);
  EXPECT_EQ(g_addr, reinterpret_cast<uintptr_t>(p));
  munmap(m, 4096);
}

// A shared file mapping past the end of the file: the page beyond EOF
// gives SIGBUS with BUS_ADRERR and the address (a memfd: a file of the
// sandbox itself).
TEST(FaultSignals, AccessBeyondTheEndOfAMappedFileGivesSigbusAdrerr) {
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "sigbus", MFD_CLOEXEC));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  void* m = mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  volatile char* inside = static_cast<volatile char*>(m) + 10;
  *inside = 1;  // the file's own page is fine
  Catch c(SIGBUS);
  volatile char* p = static_cast<volatile char*>(m) + 4096 + 24;
  if (sigsetjmp(g_jmp, 1) == 0) {
    (void)*p;
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGBUS);
  EXPECT_EQ(g_code, BUS_ADRERR);
  EXPECT_EQ(g_addr, reinterpret_cast<uintptr_t>(p));
  // Growing the file makes the page valid.
  ASSERT_EQ(ftruncate(fd, 2 * 4096), 0);
  *p = 2;
  EXPECT_EQ(*p, 2);
  munmap(m, 3 * 4096);
  close(fd);
}

TEST(FaultSignals, HandlerCanFaultAgainAfterSiglongjmp) {
  Catch c(SIGSEGV);
  int faults = 0;
  for (int i = 0; i < 3; ++i) {
    if (sigsetjmp(g_jmp, 1) == 0) {
      (void)*static_cast<volatile char*>(UnmappedAddress());
    } else {
      ++faults;
    }
  }
  EXPECT_EQ(faults, 3);
}

TEST(FaultSignals, IntegerDivideByZeroGivesFpeIntdiv) {
  Catch c(SIGFPE);
  if (sigsetjmp(g_jmp, 1) == 0) {
    // In assembly: the compiler may turn a division into something else.
    asm volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::: "eax", "ecx", "edx");
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGFPE);
  EXPECT_EQ(g_code, FPE_INTDIV);
}

TEST(FaultSignals, Ud2GivesIllIllopn) {
  Catch c(SIGILL);
  if (sigsetjmp(g_jmp, 1) == 0) {
    asm volatile("ud2");
    FAIL() << "no fault";
  }
  EXPECT_EQ(g_signo, SIGILL);
  EXPECT_EQ(g_code, ILL_ILLOPN);
}

volatile uintptr_t g_trap_rip = 0;
void TrapHandler(int sig, siginfo_t* info, void* uc) {
  g_signo = sig;
  g_code = info->si_code;
  g_trap_rip = static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP];
}

TEST(FaultSignals, Int3GivesSigtrapAndResumesAfterIt) {
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = TrapHandler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, &old);
  uintptr_t after = 0;
  asm volatile("int3\n\t1: lea 1b(%%rip), %0" : "=r"(after));
  sigaction(SIGTRAP, &old, nullptr);
  EXPECT_EQ(g_signo, SIGTRAP);
  EXPECT_EQ(g_code, SI_KERNEL);  // int3 reports SI_KERNEL on x86-64
  EXPECT_EQ(g_trap_rip, after);
}

TEST(FaultSignals, BlockedSegvStillKillsTheProcess) {
  // force_sig semantics: a blocked synchronous signal kills.
  const pid_t pid = fork();
  if (pid < 0) GTEST_SKIP() << "fork unavailable";
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    (void)*static_cast<volatile char*>(UnmappedAddress());
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
}

}  // namespace
}  // namespace syscall_test
