// rt_sigaction(2), rt_sigprocmask(2), sigaltstack(2), rt_sigpending(2):
// signal state only. Nothing here delivers a signal.
#include <signal.h>
#include <sys/syscall.h>

#include <cstring>

#include "util.h"

namespace syscall_test {
namespace {

// The kernel's struct sigaction for rt_sigaction (glibc's differs in layout).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};

constexpr size_t kSigsetSize = 8;
constexpr unsigned long kSaRestorer = 0x04000000;  // Not exported by glibc.

uint64_t Bit(int sig) { return uint64_t{1} << (sig - 1); }

void Handler(int) {}
void OtherHandler(int) {}

// Restores a signal's action at scope end.
class SavedAction {
 public:
  explicit SavedAction(int sig) : sig_(sig) {
    syscall(SYS_rt_sigaction, sig_, nullptr, &old_, kSigsetSize);
  }
  ~SavedAction() { syscall(SYS_rt_sigaction, sig_, &old_, nullptr, kSigsetSize); }

 private:
  int sig_;
  KernelSigaction old_ = {};
};

// Restores the signal mask at scope end.
class SavedMask {
 public:
  SavedMask() { syscall(SYS_rt_sigprocmask, SIG_SETMASK, nullptr, &old_, kSigsetSize); }
  ~SavedMask() { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_, nullptr, kSigsetSize); }

 private:
  uint64_t old_ = 0;
};

TEST(Sigaction, InstalledHandlerFlagsAndMaskReadBack) {
  SavedAction saved(SIGUSR1);
  struct sigaction sa = {}, got = {};
  sa.sa_handler = Handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, Handler);
  EXPECT_TRUE(got.sa_flags & SA_RESTART);
  EXPECT_TRUE(sigismember(&got.sa_mask, SIGUSR2));
  EXPECT_FALSE(sigismember(&got.sa_mask, SIGTERM));
}

TEST(Sigaction, OldActionIsReturnedWhenReplacing) {
  SavedAction saved(SIGUSR2);
  KernelSigaction a = {Handler, kSaRestorer, nullptr, 0};
  KernelSigaction b = {OtherHandler, kSaRestorer, nullptr, 0};
  KernelSigaction old = {};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR2, &a, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR2, &b, &old, kSigsetSize), 0);
  EXPECT_EQ(old.handler, Handler);
}

TEST(Sigaction, IgnoreAndDefaultAreStored) {
  SavedAction saved(SIGUSR1);
  KernelSigaction ign = {SIG_IGN, 0, nullptr, 0}, got = {};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &ign, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got.handler, SIG_IGN);
  KernelSigaction dfl = {SIG_DFL, 0, nullptr, 0};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &dfl, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got.handler, SIG_DFL);
}

TEST(Sigaction, SigkillMaskBitsAreNotStored) {
  SavedAction saved(SIGUSR1);
  KernelSigaction sa = {Handler, kSaRestorer, nullptr, Bit(SIGKILL) | Bit(SIGSTOP) | Bit(SIGINT)};
  KernelSigaction got = {};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, &sa, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGUSR1, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got.mask, Bit(SIGINT));
}

TEST(Sigaction, ChangingSigkillOrSigstopFailsWithEinval) {
  KernelSigaction sa = {SIG_IGN, 0, nullptr, 0};
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGKILL, &sa, nullptr, kSigsetSize), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGSTOP, &sa, nullptr, kSigsetSize), FailsWith(EINVAL));
}

TEST(Sigaction, ReadingSigkillActionSucceeds) {
  KernelSigaction got = {};
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGKILL, nullptr, &got, kSigsetSize), Succeeds());
  EXPECT_EQ(got.handler, SIG_DFL);
}

TEST(Sigaction, OutOfRangeSignalFailsWithEinval) {
  KernelSigaction got = {};
  EXPECT_THAT(Sys(SYS_rt_sigaction, 0, nullptr, &got, kSigsetSize), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_rt_sigaction, 65, nullptr, &got, kSigsetSize), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_rt_sigaction, -1, nullptr, &got, kSigsetSize), FailsWith(EINVAL));
}

TEST(Sigaction, WrongSigsetSizeFailsWithEinval) {
  KernelSigaction got = {};
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGUSR1, nullptr, &got, 4), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGUSR1, nullptr, &got, 16), FailsWith(EINVAL));
}

TEST(Sigaction, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGUSR1, UnmappedAddress(), nullptr, kSigsetSize),
              FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_rt_sigaction, SIGUSR1, nullptr, UnmappedAddress(), kSigsetSize),
              FailsWith(EFAULT));
}

TEST(Sigprocmask, BlockedSignalsReadBack) {
  SavedMask saved;
  uint64_t set = Bit(SIGUSR1) | Bit(SIGRTMIN + 1), got = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got & set, set);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got & set, 0u);
}

TEST(Sigprocmask, SetmaskReplacesAndReturnsOldMask) {
  SavedMask saved;
  uint64_t a = Bit(SIGUSR1), b = Bit(SIGUSR2), old = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &a, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &b, &old, kSigsetSize), 0);
  EXPECT_EQ(old, a);
}

TEST(Sigprocmask, SigkillAndSigstopCannotBeBlocked) {
  SavedMask saved;
  uint64_t set = Bit(SIGKILL) | Bit(SIGSTOP) | Bit(SIGUSR1), got = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, nullptr, kSigsetSize), 0);
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, nullptr, &got, kSigsetSize), 0);
  EXPECT_EQ(got, Bit(SIGUSR1));
}

TEST(Sigprocmask, UnknownHowFailsWithEinval) {
  uint64_t set = 0;
  EXPECT_THAT(Sys(SYS_rt_sigprocmask, 42, &set, nullptr, kSigsetSize), FailsWith(EINVAL));
}

TEST(Sigprocmask, WrongSigsetSizeFailsWithEinval) {
  uint64_t set = 0;
  EXPECT_THAT(Sys(SYS_rt_sigprocmask, SIG_BLOCK, &set, nullptr, 4), FailsWith(EINVAL));
}

TEST(Sigprocmask, BadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_rt_sigprocmask, SIG_BLOCK, UnmappedAddress(), nullptr, kSigsetSize),
              FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, UnmappedAddress(), kSigsetSize),
              FailsWith(EFAULT));
}

TEST(Sigpending, NothingPendingAtStart) {
  uint64_t pending = ~uint64_t{0};
  ASSERT_THAT(Sys(SYS_rt_sigpending, &pending, kSigsetSize), Succeeds());
  EXPECT_EQ(pending, 0u);
}

TEST(Sigaltstack, InstalledStackReadsBack) {
  static char stack_mem[1 << 16];
  stack_t ss = {}, old = {}, got = {};
  ss.ss_sp = stack_mem;
  ss.ss_size = sizeof(stack_mem);
  ASSERT_EQ(sigaltstack(&ss, &old), 0);
  ASSERT_EQ(sigaltstack(nullptr, &got), 0);
  EXPECT_EQ(got.ss_sp, stack_mem);
  EXPECT_EQ(got.ss_size, sizeof(stack_mem));
  EXPECT_EQ(got.ss_flags, 0);
  stack_t off = {};
  off.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&off, nullptr), 0);
  ASSERT_EQ(sigaltstack(nullptr, &got), 0);
  EXPECT_EQ(got.ss_flags, SS_DISABLE);
}

TEST(Sigaltstack, TooSmallStackFailsWithEnomem) {
  static char stack_mem[64];
  stack_t ss = {};
  ss.ss_sp = stack_mem;
  ss.ss_size = sizeof(stack_mem);
  EXPECT_THAT(Sys(SYS_sigaltstack, &ss, nullptr), FailsWith(ENOMEM));
}

TEST(Sigaltstack, UnknownFlagFailsWithEinval) {
  static char stack_mem[1 << 16];
  stack_t ss = {};
  ss.ss_sp = stack_mem;
  ss.ss_size = sizeof(stack_mem);
  ss.ss_flags = 0x10;
  EXPECT_THAT(Sys(SYS_sigaltstack, &ss, nullptr), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
