// MAP_SHARED mappings of files (memfd, tmpfs, the read-only rootfs) and of
// anonymous memory: coherence with read/write and across fork, SIGBUS past
// EOF, msync and mincore, and shared futexes between processes.
#include <fcntl.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

const size_t kPage = 4096;

Fd Memfd(size_t size) {
  Fd fd(static_cast<int>(syscall(SYS_memfd_create, "mmap_shared_test", 0)));
  if (fd.get() < 0) abort();
  if (size != 0 && ftruncate(fd.get(), static_cast<off_t>(size)) != 0) abort();
  return fd;
}

char* MapShared(int fd, size_t len, int prot = PROT_READ | PROT_WRITE) {
  void* p = mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

// Waits for a child and returns its exit code (-1 if it did not exit).
int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MmapShared, WriteToFileIsSeenThroughMapping) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(pwrite(fd.get(), "hello", 5, 100), 5);
  EXPECT_EQ(std::string(p + 100, 5), "hello");
  munmap(p, kPage);
}

TEST(MmapShared, StoreThroughMappingIsSeenByRead) {
  Fd fd = Memfd(2 * kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  memcpy(p + kPage + 7, "world", 5);
  char buf[5] = {};
  ASSERT_EQ(pread(fd.get(), buf, 5, kPage + 7), 5);
  EXPECT_EQ(std::string(buf, 5), "world");
  munmap(p, 2 * kPage);
}

TEST(MmapShared, TwoMappingsOfOneFileShareBytes) {
  Fd fd = Memfd(kPage);
  char* a = MapShared(fd.get(), kPage);
  char* b = MapShared(fd.get(), kPage);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(a, b);
  a[10] = 'x';
  EXPECT_EQ(b[10], 'x');
  munmap(a, kPage);
  munmap(b, kPage);
}

TEST(MmapShared, WriteFromMappedBufferIntoSameFile) {
  // The write(2) source is the file's own mapping: the sentry copies
  // from the shared pages.
  Fd fd = Memfd(2 * kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  memcpy(p, "abcdef", 6);
  ASSERT_EQ(pwrite(fd.get(), p, 6, kPage), 6);
  EXPECT_EQ(std::string(p + kPage, 6), "abcdef");
  munmap(p, 2 * kPage);
}

TEST(MmapShared, ChildStoresAreSeenByParentAfterFork) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'a';
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    p[0] = 'c';
    p[1] = 'd';
    _exit(p[0] == 'c' ? 0 : 1);
  }
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(p[0], 'c');
  EXPECT_EQ(p[1], 'd');
  char buf[2];
  ASSERT_EQ(pread(fd.get(), buf, 2, 0), 2);
  EXPECT_EQ(std::string(buf, 2), "cd");
  munmap(p, kPage);
}

TEST(MmapShared, AnonymousSharedMemoryIsSharedAcrossFork) {
  auto* p = static_cast<volatile int*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = 1;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    p[1] = p[0] + 41;
    _exit(0);
  }
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(p[1], 42);
  munmap(const_cast<int*>(p), kPage);
}

TEST(MmapShared, PrivateMappingDoesNotChangeTheFile) {
  Fd fd = Memfd(kPage);
  ASSERT_EQ(pwrite(fd.get(), "orig", 4, 0), 4);
  void* v = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED);
  memcpy(v, "priv", 4);
  char buf[4];
  ASSERT_EQ(pread(fd.get(), buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "orig");
  munmap(v, kPage);
}

TEST(MmapShared, DevShmFileIsCoherent) {
  const std::string path = "/dev/shm/mmap_shared_test." + std::to_string(getpid());
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_GE(fd.get(), 0);
  unlink(path.c_str());
  ASSERT_EQ(ftruncate(fd.get(), kPage), 0);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  strcpy(p, "shm");
  char buf[4] = {};
  ASSERT_EQ(pread(fd.get(), buf, 3, 0), 3);
  EXPECT_STREQ(buf, "shm");
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_GE(st.st_blocks, 8);  // the touched page is allocated
  munmap(p, kPage);
}

TEST(MmapShared, ExtendingFileMakesMappedTailAccessible) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(ftruncate(fd.get(), 2 * kPage), 0);
  p[kPage] = 'z';
  char c = 0;
  ASSERT_EQ(pread(fd.get(), &c, 1, kPage), 1);
  EXPECT_EQ(c, 'z');
  munmap(p, 2 * kPage);
}

sigjmp_buf g_jump;
volatile sig_atomic_t g_signo = 0;
void OnSignal(int sig) {
  g_signo = sig;
  siglongjmp(g_jump, 1);
}

// Touches p (read) and returns the signal it raised, 0 if none.
int TouchSignal(volatile char* p) {
  struct sigaction sa {}, old_bus{}, old_segv{};
  sa.sa_handler = OnSignal;
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  g_signo = 0;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)*p;
  }
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return g_signo;
}

TEST(MmapShared, AccessPastEndOfFileRaisesSigbus) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(TouchSignal(p + 10), 0);
  EXPECT_EQ(TouchSignal(p + kPage + 10), SIGBUS);
  munmap(p, 2 * kPage);
}

TEST(MmapShared, TruncateShrinkingMappedFileRaisesSigbusBeyondEof) {
  Fd fd = Memfd(3 * kPage);
  char* p = MapShared(fd.get(), 3 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'q', 3 * kPage);
  ASSERT_EQ(ftruncate(fd.get(), kPage + 100), 0);
  EXPECT_EQ(TouchSignal(p + 5), 0);
  EXPECT_EQ(p[5], 'q');
  // The partial last page stays mapped; past the new EOF it reads zeros.
  EXPECT_EQ(TouchSignal(p + kPage + 200), 0);
  EXPECT_EQ(p[kPage + 200], 0);
  EXPECT_EQ(TouchSignal(p + 2 * kPage + 1), SIGBUS);
  munmap(p, 3 * kPage);
}

TEST(MmapShared, WriteFromBufferPastEofFailsWithEfault) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  Pipe pp = MakePipe();
  EXPECT_THAT(Libc(write(pp.write_end.get(), p + kPage, 10)), FailsWith(EFAULT));
  munmap(p, 2 * kPage);
}

TEST(MmapShared, PunchedHoleReadsZerosThroughMapping) {
  Fd fd = Memfd(2 * kPage);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'w', 2 * kPage);
  ASSERT_EQ(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kPage), 0);
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[kPage], 'w');
  p[1] = 'n';
  char c = 0;
  ASSERT_EQ(pread(fd.get(), &c, 1, 1), 1);
  EXPECT_EQ(c, 'n');
  munmap(p, 2 * kPage);
}

TEST(MmapShared, WritableSharedMappingOfReadOnlyFdFailsWithEacces) {
  const std::string path = "/dev/shm/mmap_shared_test_ro." + std::to_string(getpid());
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(ftruncate(fd.get(), kPage), 0);
  Fd ro(open(path.c_str(), O_RDONLY));
  unlink(path.c_str());
  ASSERT_GE(ro.get(), 0);
  EXPECT_THAT(Sys(SYS_mmap, nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0),
              FailsWith(EACCES));
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, ro.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_THAT(Sys(SYS_mprotect, p, kPage, PROT_READ | PROT_WRITE), FailsWith(EACCES));
  munmap(p, kPage);
}

TEST(MmapShared, RootfsFileMapsSharedReadOnly) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[16] = {};
  const ssize_t n = pread(fd.get(), buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(memcmp(p, buf, static_cast<size_t>(n)), 0);
  EXPECT_THAT(Sys(SYS_mmap, nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0),
              FailsWith(EACCES));
  munmap(p, kPage);
}

TEST(Msync, UnknownFlagsFailWithEinval) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_THAT(Sys(SYS_msync, p, kPage, 0x100), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_msync, p, kPage, MS_SYNC | MS_ASYNC), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_msync, p + 1, kPage, MS_SYNC), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_msync, p, kPage, MS_SYNC), Succeeds());
  EXPECT_THAT(Sys(SYS_msync, p, kPage, MS_ASYNC | MS_INVALIDATE), Succeeds());
  munmap(p, kPage);
}

TEST(Msync, UnmappedRangeFailsWithEnomem) {
  void* p = mmap(nullptr, 3 * kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(static_cast<char*>(p) + kPage, kPage), 0);
  EXPECT_THAT(Sys(SYS_msync, p, 3 * kPage, MS_SYNC), FailsWith(ENOMEM));
  EXPECT_THAT(Sys(SYS_msync, p, kPage, MS_SYNC), Succeeds());
  munmap(p, 3 * kPage);
}

TEST(Mincore, TouchedPagesAreResidentAndHolesFail) {
  auto* p = static_cast<char*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = 1;
  p[2 * kPage] = 1;
  unsigned char vec[4] = {9, 9, 9, 9};
  ASSERT_THAT(Sys(SYS_mincore, p, 4 * kPage, vec), Succeeds());
  EXPECT_EQ(vec[0] & 1, 1);
  EXPECT_EQ(vec[2] & 1, 1);
  EXPECT_THAT(Sys(SYS_mincore, p + 1, kPage, vec), FailsWith(EINVAL));
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_THAT(Sys(SYS_mincore, p, 4 * kPage, vec), FailsWith(ENOMEM));
  EXPECT_THAT(Sys(SYS_mincore, p, kPage, UnmappedAddress()), FailsWith(EFAULT));
  munmap(p, 4 * kPage);
}

long Futex(void* addr, int op, int val) {
  return syscall(SYS_futex, addr, op, val, nullptr, nullptr, 0);
}

// Parent and child take turns over a shared futex word: each waits until
// the word holds its turn, then hands the turn over and wakes the other.
// Without a shared futex key the wake would reach nobody and the waiter
// would hang (the harness times out).
void PingPong(std::atomic<int>* word) {
  constexpr int kRounds = 20;
  word->store(0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  const int me = pid == 0 ? 1 : 0;
  for (int i = 0; i < kRounds; ++i) {
    while (word->load() != me) {
      Futex(word, FUTEX_WAIT, 1 - me);
    }
    word->store(1 - me);
    Futex(word, FUTEX_WAKE, 1);
  }
  if (pid == 0) _exit(0);
  EXPECT_EQ(WaitExit(pid), 0);
}

// A FUTEX_WAIT that only a shared-key wake can end: the child waits with a
// timeout-free wait; the parent wakes it once the child is queued (the
// wake's count says so), so a private key would make Wake return 0.
int WakeWaitingChild(std::atomic<int>* word) {
  word->store(0);
  const pid_t pid = fork();
  if (pid == 0) {
    const long r = Futex(word, FUTEX_WAIT, 0);
    _exit(r == 0 ? 0 : 1);
  }
  long woken = 0;
  for (int i = 0; i < 2000 && woken == 0; ++i) {
    woken = Futex(word, FUTEX_WAKE, 1);
    if (woken == 0) usleep(1000);
  }
  if (woken == 0) {
    kill(pid, SIGKILL);
    WaitExit(pid);
    return -1;
  }
  return WaitExit(pid);
}

TEST(SharedFutex, PingPongOverSharedAnonymousMapping) {
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  PingPong(static_cast<std::atomic<int>*>(p));
  EXPECT_EQ(WakeWaitingChild(static_cast<std::atomic<int>*>(p)), 0);
  munmap(p, kPage);
}

TEST(SharedFutex, PingPongOverSharedMemfdMapping) {
  Fd fd = Memfd(kPage);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  PingPong(reinterpret_cast<std::atomic<int>*>(p + 64));
  EXPECT_EQ(WakeWaitingChild(reinterpret_cast<std::atomic<int>*>(p + 64)), 0);
  munmap(p, kPage);
}

TEST(SharedFutex, SeparateMappingsOfOneFileMeet) {
  // Two different addresses in one process, one file page: one key.
  Fd fd = Memfd(kPage);
  char* a = MapShared(fd.get(), kPage);
  char* b = MapShared(fd.get(), kPage);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto* wa = reinterpret_cast<std::atomic<int>*>(a);
  wa->store(0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const long r = Futex(a, FUTEX_WAIT, 0);
    _exit(r == 0 ? 0 : 1);
  }
  long woken = 0;
  for (int i = 0; i < 2000 && woken == 0; ++i) {
    woken = Futex(b, FUTEX_WAKE, 1);
    if (woken == 0) usleep(1000);
  }
  EXPECT_EQ(woken, 1);
  if (woken == 0) kill(pid, SIGKILL);
  EXPECT_EQ(WaitExit(pid), woken == 1 ? 0 : -1);
  munmap(a, kPage);
  munmap(b, kPage);
}

}  // namespace
}  // namespace syscall_test
