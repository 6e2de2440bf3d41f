// RLIMIT_FSIZE on every path that writes or grows a regular file (Linux's
// generic_write_check_limits and inode_newsize_ok): a write starting at or
// past the limit raises SIGXFSZ and fails with EFBIG; one crossing it is cut
// short at the limit; fallocate growing the size past it is EFBIG. Each case
// runs in a child (the limit and the handler are per process), on tmpfs
// (/dev/shm) and /tmp (the overlay's upper layer inside the sandbox).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <functional>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

constexpr int kLimit = 100;
volatile sig_atomic_t g_sigxfsz = 0;

// In the child: the line of the first failed check, or 0.
#define CHILD_CHECK(cond)      \
  do {                         \
    if (!(cond)) return __LINE__; \
  } while (0)

class Fsize : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (dir_.path().empty()) GTEST_SKIP() << GetParam() << ": " << strerror(errno);
  }
  // A file of `size` bytes ('s'), open read-write. Made before InChild
  // (the child's limit would cut it).
  int MakeFile(const std::string& name, int size) const {
    int fd = open((dir_ / name).c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) return -1;
    std::string data(size, 's');
    if (write(fd, data.data(), data.size()) != size) return -1;
    return fd;
  }
  // Runs `body` in a child with RLIMIT_FSIZE at kLimit and SIGXFSZ counted
  // in g_sigxfsz; expects it to return 0 (else the failing line).
  void InChild(const std::function<int()>& body) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(p[0]);
      struct sigaction sa = {};
      sa.sa_handler = [](int) { g_sigxfsz = g_sigxfsz + 1; };
      int line = sigaction(SIGXFSZ, &sa, nullptr) == 0 ? 0 : __LINE__;
      struct rlimit rl = {kLimit, RLIM_INFINITY};
      if (line == 0 && setrlimit(RLIMIT_FSIZE, &rl) != 0) line = __LINE__;
      if (line == 0) line = body();
      const int err = errno;
      int msg[2] = {line, err};
      if (write(p[1], msg, sizeof(msg)) != sizeof(msg)) _exit(2);
      _exit(0);
    }
    close(p[1]);
    int msg[2] = {-1, 0};
    EXPECT_THAT(read(p[0], msg, sizeof(msg)), Eq(static_cast<ssize_t>(sizeof(msg))));
    close(p[0]);
    int status = 0;
    ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_THAT(msg[0], Eq(0)) << "check at line " << msg[0] << " failed (errno " << msg[1] << ")";
  }

  const TempDir dir_{GetParam()};
};

TEST_P(Fsize, WritevFamilyIsCutAtTheLimitAndFailsAtIt) {
  Fd fd_owner(MakeFile("f", 90));
  const int fd = fd_owner.get();
  ASSERT_GE(fd, 0);
  InChild([&] {
    char a[8] = "aaaaaaa", b[8] = "bbbbbbb";
    struct iovec iov[2] = {{a, 8}, {b, 8}};
    CHILD_CHECK(writev(fd, iov, 2) == 10);  // crosses: short, no signal
    CHILD_CHECK(g_sigxfsz == 0);
    CHILD_CHECK(lseek(fd, 0, SEEK_CUR) == kLimit);
    CHILD_CHECK(writev(fd, iov, 2) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 1);
    CHILD_CHECK(pwritev(fd, iov, 2, 95) == 5);
    CHILD_CHECK(pwritev(fd, iov, 2, kLimit) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 2);
    CHILD_CHECK(syscall(SYS_pwritev2, fd, iov, 2, 98, 0, 0) == 2);
    CHILD_CHECK(syscall(SYS_pwritev2, fd, iov, 2, 200, 0, 0) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 3);
    // A file opened O_APPEND writes at its end: at the limit.
    const int ap = open((dir_ / "f").c_str(), O_WRONLY | O_APPEND);
    CHILD_CHECK(ap >= 0);
    CHILD_CHECK(writev(ap, iov, 2) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 4);
    return 0;
  });
}

TEST_P(Fsize, FallocateAndFtruncatePastTheLimitAreEfbig) {
  Fd fd_owner(MakeFile("f", 0));
  const int fd = fd_owner.get();
  ASSERT_GE(fd, 0);
  InChild([&] {
    CHILD_CHECK(fallocate(fd, 0, 0, 50) == 0);
    CHILD_CHECK(fallocate(fd, 0, 50, kLimit) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 1);
    CHILD_CHECK(fallocate(fd, 0, 0, kLimit) == 0);  // up to the limit is fine
    CHILD_CHECK(ftruncate(fd, kLimit + 1) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 2);
    CHILD_CHECK(ftruncate(fd, 10) == 0);  // shrinking is never limited
    return 0;
  });
}

TEST_P(Fsize, CopyFileRangeIsCutAtTheLimitAndFailsAtIt) {
  Fd in_owner(MakeFile("in", 200));
  const int in = in_owner.get();
  Fd out_owner(MakeFile("out", 0));
  const int out = out_owner.get();
  ASSERT_TRUE(in >= 0 && out >= 0);
  InChild([&] {
    loff_t off_in = 0, off_out = 90;
    const ssize_t n = copy_file_range(in, &off_in, out, &off_out, 50, 0);
    if (n == -1 && (errno == ENOSYS || errno == EXDEV || errno == EOPNOTSUPP)) return 0;  // no support natively
    CHILD_CHECK(n == 10);
    CHILD_CHECK(off_out == kLimit && off_in == 10);
    CHILD_CHECK(g_sigxfsz == 0);
    CHILD_CHECK(copy_file_range(in, &off_in, out, &off_out, 50, 0) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 1);
    return 0;
  });
}

TEST_P(Fsize, SendfileAndSpliceIntoAFileStopAtTheLimit) {
  Fd in_owner(MakeFile("in", 200));
  const int in = in_owner.get();
  Fd out_owner(MakeFile("out", 90));
  const int out = out_owner.get();
  ASSERT_TRUE(in >= 0 && out >= 0);
  InChild([&] {
    off_t off = 0;
    CHILD_CHECK(sendfile(out, in, &off, 50) == 10);
    CHILD_CHECK(off == 10 && lseek(out, 0, SEEK_CUR) == kLimit);
    // Linux's iter_file_splice_write tries the rest at the limit: SIGXFSZ
    // even for the short transfer.
    const int before = g_sigxfsz;
    CHILD_CHECK(sendfile(out, in, &off, 50) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz > before);
    // splice from a pipe: the bytes past the limit stay in the pipe.
    int p[2];
    CHILD_CHECK(pipe(p) == 0);
    CHILD_CHECK(write(p[1], std::string(50, 'p').data(), 50) == 50);
    CHILD_CHECK(ftruncate(out, 90) == 0 && lseek(out, 90, SEEK_SET) == 90);
    CHILD_CHECK(splice(p[0], nullptr, out, nullptr, 50, SPLICE_F_NONBLOCK) == 10);
    const int mid = g_sigxfsz;
    CHILD_CHECK(splice(p[0], nullptr, out, nullptr, 50, SPLICE_F_NONBLOCK) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz > mid);
    char rest[64];
    CHILD_CHECK(read(p[0], rest, sizeof(rest)) == 40);
    return 0;
  });
}

TEST_P(Fsize, SpliceFromAnEmptyPipeLooksAtThePipeBeforeTheLimit) {
  Fd out_owner(MakeFile("out", 150));
  const int out = out_owner.get();
  ASSERT_GE(out, 0);
  InChild([&] {
    // splice_from_pipe_next comes first: an empty pipe with a writer is
    // EAGAIN (non-blocking), one without a writer is EOF; neither is EFBIG.
    int p[2];
    CHILD_CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHILD_CHECK(lseek(out, 150, SEEK_SET) == 150);
    CHILD_CHECK(splice(p[0], nullptr, out, nullptr, 10, SPLICE_F_NONBLOCK) == -1 && errno == EAGAIN);
    CHILD_CHECK(close(p[1]) == 0);
    CHILD_CHECK(splice(p[0], nullptr, out, nullptr, 10, 0) == 0);
    CHILD_CHECK(g_sigxfsz == 0);
    // With data, the write at the limit is EFBIG.
    CHILD_CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHILD_CHECK(write(p[1], "abc", 3) == 3);
    CHILD_CHECK(splice(p[0], nullptr, out, nullptr, 10, SPLICE_F_NONBLOCK) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 1);
    return 0;
  });
}

TEST_P(Fsize, CopyFileRangeWithNothingToCopyStillChecksTheLimit) {
  Fd in_owner(MakeFile("in", 10));
  const int in = in_owner.get();
  Fd out_owner(MakeFile("out", 150));
  const int out = out_owner.get();
  ASSERT_TRUE(in >= 0 && out >= 0);
  InChild([&] {
    // generic_copy_file_checks cuts the copy to the input's end, then
    // checks the output's position against the limit: EFBIG and SIGXFSZ
    // even for zero bytes.
    loff_t off_in = 10, off_out = 150;
    const ssize_t n = copy_file_range(in, &off_in, out, &off_out, 5, 0);
    if (n == -1 && (errno == ENOSYS || errno == EXDEV || errno == EOPNOTSUPP)) return 0;  // no support natively
    CHILD_CHECK(n == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 1);
    off_in = 3;
    CHILD_CHECK(copy_file_range(in, &off_in, out, &off_out, 0, 0) == -1 && errno == EFBIG);
    CHILD_CHECK(g_sigxfsz == 2);
    // Below the limit nothing to copy is 0, with no signal.
    off_in = 30;
    off_out = 50;
    CHILD_CHECK(copy_file_range(in, &off_in, out, &off_out, 5, 0) == 0);
    CHILD_CHECK(off_in == 30 && off_out == 50);
    CHILD_CHECK(g_sigxfsz == 2);
    return 0;
  });
}

INSTANTIATE_TEST_SUITE_P(Filesystems, Fsize, ::testing::Values("/dev/shm", "/tmp"),
                         PathParamName);

}  // namespace
}  // namespace syscall_test
