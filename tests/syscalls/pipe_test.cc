// pipe(2), pipe2(2), F_SETPIPE_SZ/F_GETPIPE_SZ, FIONREAD, O_DIRECT packets,
// EOF/EPIPE/SIGPIPE, non-blocking behaviour. Cross-process cases skip while
// the sandbox has no fork.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

TEST(Pipe, RoundTripAndFlagsOfEachEnd) {
  int fds[2];
  ASSERT_THAT(Libc(pipe(fds)), Succeeds());
  Fd r(fds[0]), w(fds[1]);
  EXPECT_THAT(fcntl(r.get(), F_GETFL) & O_ACCMODE, Eq(O_RDONLY));
  EXPECT_THAT(fcntl(w.get(), F_GETFL) & O_ACCMODE, Eq(O_WRONLY));
  EXPECT_THAT(fcntl(r.get(), F_GETFD), Eq(0));
  ASSERT_THAT(write(w.get(), "abc", 3), Eq(3));
  char buf[8] = {};
  ASSERT_THAT(read(r.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "abc");
}

TEST(Pipe, FstatShowsAFifo) {
  Pipe p = MakePipe();
  struct stat st;
  ASSERT_THAT(Libc(fstat(p.read_end.get(), &st)), Succeeds());
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  struct stat st2;
  ASSERT_THAT(Libc(fstat(p.write_end.get(), &st2)), Succeeds());
  EXPECT_THAT(st.st_ino, Eq(st2.st_ino));
}

TEST(Pipe2, CloexecAndNonblockFlagsApply) {
  Pipe p = MakePipe(O_CLOEXEC | O_NONBLOCK);
  EXPECT_THAT(fcntl(p.read_end.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(p.write_end.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_TRUE(fcntl(p.read_end.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(p.write_end.get(), F_GETFL) & O_NONBLOCK);
}

TEST(Pipe2, UnknownFlagFailsWithEinvalAndLeavesNoFds) {
  int fds[2] = {-1, -1};
  const int next = dup(0);
  ASSERT_GE(next, 0);
  close(next);
  EXPECT_THAT(Sys(SYS_pipe2, fds, O_RDWR | 0x40000000), FailsWith(EINVAL));
  EXPECT_THAT(fds[0], Eq(-1));
  // The lowest free fd is still free.
  const int again = dup(0);
  EXPECT_THAT(again, Eq(next));
  close(again);
}

TEST(Pipe2, BadPointerFailsWithEfaultAndLeavesNoFds) {
  const int next = dup(0);
  ASSERT_GE(next, 0);
  close(next);
  EXPECT_THAT(Sys(SYS_pipe2, UnmappedAddress(), 0), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_pipe, UnmappedAddress()), FailsWith(EFAULT));
  const int again = dup(0);
  EXPECT_THAT(again, Eq(next));
  close(again);
}

TEST(Pipe, ReadFromEmptyNonblockingPipeFailsWithEagain) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c;
  EXPECT_THAT(Libc(read(p.read_end.get(), &c, 1)), FailsWith(EAGAIN));
}

TEST(Pipe, ReadAfterAllWritersCloseReturnsEof) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "x", 1), Eq(1));
  const int dup_w = dup(p.write_end.get());
  p.write_end.Reset();
  close(dup_w);
  char buf[4];
  EXPECT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(1));
  EXPECT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(0));
}

TEST(Pipe, ZeroLengthReadAndWriteReturnZero) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(read(p.read_end.get(), nullptr, 0), Eq(0));
  EXPECT_THAT(write(p.write_end.get(), nullptr, 0), Eq(0));
}

TEST(Pipe, WriteWithNoReaderFailsWithEpipe) {
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_THAT(Libc(sigaction(SIGPIPE, &ign, &old)), Succeeds());
  Pipe p = MakePipe();
  p.read_end.Reset();
  EXPECT_THAT(Libc(write(p.write_end.get(), "x", 1)), FailsWith(EPIPE));
  sigaction(SIGPIPE, &old, nullptr);
}

TEST(Pipe, WriteWithNoReaderRaisesSigpipe) {
  sigset_t pending;
  if (sigpending(&pending) != 0 && errno == ENOSYS && IsSandboxed()) {
    GTEST_SKIP() << "sigpending not in the sandbox yet";
  }
  // Block SIGPIPE so it stays pending instead of killing the test.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  ASSERT_THAT(Libc(sigprocmask(SIG_BLOCK, &set, &old)), Succeeds());
  Pipe p = MakePipe();
  p.read_end.Reset();
  EXPECT_THAT(Libc(write(p.write_end.get(), "x", 1)), FailsWith(EPIPE));
  sigemptyset(&pending);
  ASSERT_THAT(Libc(sigpending(&pending)), Succeeds());
  EXPECT_TRUE(sigismember(&pending, SIGPIPE));
  // Consume it so it does not fire when unblocked.
  const struct timespec zero = {0, 0};
  sigtimedwait(&set, nullptr, &zero);
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

TEST(Pipe, DefaultCapacityIs64KiBAndFullPipeFailsWithEagain) {
  Pipe p = MakePipe(O_NONBLOCK);
  EXPECT_THAT(fcntl(p.write_end.get(), F_GETPIPE_SZ), Eq(65536));
  std::vector<char> big(100000, 'a');
  EXPECT_THAT(write(p.write_end.get(), big.data(), big.size()), Eq(65536));  // partial
  EXPECT_THAT(Libc(write(p.write_end.get(), "x", 1)), FailsWith(EAGAIN));
  int n = 0;
  ASSERT_THAT(Libc(ioctl(p.read_end.get(), FIONREAD, &n)), Succeeds());
  EXPECT_THAT(n, Eq(65536));
}

TEST(Pipe, WriteUpToPipeBufIsAtomic) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(fcntl(p.write_end.get(), F_SETPIPE_SZ, 4096), Eq(4096));
  ASSERT_THAT(write(p.write_end.get(), "abc", 3), Eq(3));
  std::vector<char> buf(PIPE_BUF, 'b');
  // PIPE_BUF bytes do not fit in what is left: nothing is written.
  EXPECT_THAT(Libc(write(p.write_end.get(), buf.data(), buf.size())), FailsWith(EAGAIN));
  int n = 0;
  ASSERT_THAT(Libc(ioctl(p.read_end.get(), FIONREAD, &n)), Succeeds());
  EXPECT_THAT(n, Eq(3));
}

TEST(Pipe, SetPipeSizeRoundsUpToAPowerOfTwoPages) {
  Pipe p = MakePipe();
  EXPECT_THAT(fcntl(p.write_end.get(), F_SETPIPE_SZ, 1), Eq(4096));
  EXPECT_THAT(fcntl(p.read_end.get(), F_GETPIPE_SZ), Eq(4096));
  EXPECT_THAT(fcntl(p.write_end.get(), F_SETPIPE_SZ, 5000), Eq(8192));
  EXPECT_THAT(fcntl(p.write_end.get(), F_SETPIPE_SZ, 65536 + 1), Eq(131072));
}

TEST(Pipe, SetPipeSizeBelowContentFailsWithEbusy) {
  Pipe p = MakePipe(O_NONBLOCK);
  std::vector<char> buf(3 * 4096, 'c');
  ASSERT_THAT(write(p.write_end.get(), buf.data(), buf.size()), Eq(static_cast<ssize_t>(buf.size())));
  EXPECT_THAT(Libc(fcntl(p.write_end.get(), F_SETPIPE_SZ, 4096)), FailsWith(EBUSY));
  EXPECT_THAT(fcntl(p.write_end.get(), F_GETPIPE_SZ), Eq(65536));
}

TEST(Pipe, SetPipeSizeAboveMaxNeedsPrivilege) {
  Pipe p = MakePipe();
  // Root may (with CAP_SYS_RESOURCE, which a container may lack); others
  // get EPERM.
  SyscallResult r = Libc(fcntl(p.write_end.get(), F_SETPIPE_SZ, 2 << 20));
  if (geteuid() != 0 || r.ret == -1) {
    EXPECT_THAT(r, FailsWith(EPERM));
  } else {
    EXPECT_THAT(r.ret, Eq(2 << 20));
  }
  EXPECT_THAT(Libc(fcntl(p.write_end.get(), F_SETPIPE_SZ, 0x80000001u)), FailsWith(EINVAL));
}

TEST(Pipe, PipeSizeOnNonPipeFailsWithEbadf) {
  Fd f(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(f.get(), 0);
  EXPECT_THAT(Libc(fcntl(f.get(), F_GETPIPE_SZ)), FailsWith(EBADF));
}

TEST(Pipe, SmallWritesShareSlots) {
  Pipe p = MakePipe(O_NONBLOCK);
  ASSERT_THAT(fcntl(p.write_end.get(), F_SETPIPE_SZ, 4096), Eq(4096));
  for (int i = 0; i < 4096; ++i) ASSERT_THAT(write(p.write_end.get(), "z", 1), Eq(1)) << i;
  EXPECT_THAT(Libc(write(p.write_end.get(), "z", 1)), FailsWith(EAGAIN));
}

TEST(Pipe, PacketModeReadsOneWriteAtATime) {
  Pipe p = MakePipe(O_DIRECT | O_NONBLOCK);
  EXPECT_TRUE(fcntl(p.write_end.get(), F_GETFL) & O_DIRECT);
  ASSERT_THAT(write(p.write_end.get(), "hello", 5), Eq(5));
  ASSERT_THAT(write(p.write_end.get(), "world", 5), Eq(5));
  char buf[64] = {};
  EXPECT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(5));
  EXPECT_THAT(std::string(buf, 5), Eq("hello"));
  // A short read discards the rest of the packet.
  EXPECT_THAT(read(p.read_end.get(), buf, 2), Eq(2));
  EXPECT_THAT(std::string(buf, 2), Eq("wo"));
  EXPECT_THAT(Libc(read(p.read_end.get(), buf, sizeof(buf))), FailsWith(EAGAIN));
}

TEST(Pipe, FionreadCountsBytes) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "12345", 5), Eq(5));
  int n = -1;
  ASSERT_THAT(Libc(ioctl(p.read_end.get(), FIONREAD, &n)), Succeeds());
  EXPECT_THAT(n, Eq(5));
}

TEST(Pipe, ReadvFillsSeveralBuffersWithoutBlocking) {
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "abcd", 4), Eq(4));
  char a[2], b[2], c[2];
  struct iovec iov[3] = {{a, 2}, {b, 2}, {c, 2}};
  // All available data fills the first two buffers; the third must not wait.
  EXPECT_THAT(readv(p.read_end.get(), iov, 3), Eq(4));
}

TEST(Pipe, ProcSelfFdShowsPipeInode) {
  Pipe p = MakePipe();
  char buf[64] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(p.read_end.get());
  ASSERT_GT(readlink(link.c_str(), buf, sizeof(buf) - 1), 0);
  EXPECT_THAT(std::string(buf).rfind("pipe:[", 0), Eq(0u)) << buf;
}

// Needs a second process: skipped in the sandbox until fork lands.
TEST(Pipe, BlockingReadWaitsForWriterInAnotherProcess) {
  Pipe p = MakePipe();
  const pid_t pid = fork();
  if (pid < 0 && errno == ENOSYS && IsSandboxed()) GTEST_SKIP() << "no fork in the sandbox yet";
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    usleep(50000);
    (void)!write(p.write_end.get(), "late", 4);
    _exit(0);
  }
  char buf[8] = {};
  EXPECT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(4));
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
}

TEST(Pipe, BlockingWriteLargerThanCapacityCompletes) {
  Pipe p = MakePipe();
  const pid_t pid = fork();
  if (pid < 0 && errno == ENOSYS && IsSandboxed()) GTEST_SKIP() << "no fork in the sandbox yet";
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    p.write_end.Reset();
    std::vector<char> buf(300000);
    size_t total = 0;
    ssize_t n;
    while ((n = read(p.read_end.get(), buf.data(), buf.size())) > 0) total += n;
    _exit(total == 300000 ? 0 : 1);
  }
  p.read_end.Reset();
  std::vector<char> big(300000, 'q');
  EXPECT_THAT(write(p.write_end.get(), big.data(), big.size()), Eq(300000));
  p.write_end.Reset();
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace syscall_test
