// read(2), write(2), readv/writev, pread/pwrite, lseek, on pipes, /dev and
// read-only host files. No file is created: the sandbox rootfs is read-only.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

TEST(ReadWrite, PipeRoundTripPreservesBytes) {
  Pipe p = MakePipe();
  const char msg[] = "hello, sandbox";
  ASSERT_THAT(Libc(write(p.write_end.get(), msg, sizeof(msg))).ret, Eq(sizeof(msg)));
  char buf[64] = {};
  ASSERT_THAT(Libc(read(p.read_end.get(), buf, sizeof(buf))).ret, Eq(sizeof(msg)));
  EXPECT_STREQ(buf, msg);
}

TEST(ReadWrite, WriteToStdoutReturnsCount) {
  const char msg[] = "read_write_test: line written to stdout\n";
  EXPECT_THAT(Libc(write(STDOUT_FILENO, msg, strlen(msg))).ret, Eq(strlen(msg)));
}

TEST(ReadWrite, ReadFromNegativeFdFailsWithEbadf) {
  char buf[8];
  EXPECT_THAT(Sys(SYS_read, -1, buf, sizeof(buf)), FailsWith(EBADF));
}

TEST(ReadWrite, WriteToNegativeFdFailsWithEbadf) {
  EXPECT_THAT(Sys(SYS_write, -1, "x", 1), FailsWith(EBADF));
}

TEST(ReadWrite, ReadFromUnopenedFdFailsWithEbadf) {
  char buf[8];
  EXPECT_THAT(Sys(SYS_read, 1000000, buf, sizeof(buf)), FailsWith(EBADF));
}

TEST(ReadWrite, WriteToPipeReadEndFailsWithEbadf) {
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_write, p.read_end.get(), "x", 1), FailsWith(EBADF));
}

TEST(ReadWrite, ReadFromPipeWriteEndFailsWithEbadf) {
  Pipe p = MakePipe();
  char c;
  EXPECT_THAT(Sys(SYS_read, p.write_end.get(), &c, 1), FailsWith(EBADF));
}

TEST(ReadWrite, ReadIntoBadPointerFailsWithEfault) {
  Pipe p = MakePipe();
  ASSERT_EQ(write(p.write_end.get(), "abc", 3), 3);
  EXPECT_THAT(Sys(SYS_read, p.read_end.get(), UnmappedAddress(), 3), FailsWith(EFAULT));
}

TEST(ReadWrite, WriteFromBadPointerFailsWithEfault) {
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_write, p.write_end.get(), UnmappedAddress(), 3), FailsWith(EFAULT));
}

TEST(ReadWrite, ReadOfFileIntoBadPointerFailsWithEfault) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_read, fd.get(), UnmappedAddress(), 16), FailsWith(EFAULT));
}

TEST(ReadWrite, ReadOfFileAtEofIntoBadPointerReturnsZero) {
  // filemap_read() stops at EOF before it touches the buffer.
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_THAT(Sys(SYS_pread64, fd.get(), UnmappedAddress(), 16, st.st_size).ret, Eq(0));
}

TEST(ReadWrite, ReadOfFileIntoPartlyUnmappedBufferReturnsTheBytesBeforeTheHole) {
  Fd fd(open("/bin/sh", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char want[200];
  ASSERT_EQ(pread(fd.get(), want, sizeof(want), 0), static_cast<ssize_t>(sizeof(want)));
  const long page = sysconf(_SC_PAGESIZE);
  char* p = static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(p + page, page), 0);
  EXPECT_THAT(Sys(SYS_pread64, fd.get(), p + page - 100, 200, 0).ret, Eq(100));
  EXPECT_EQ(memcmp(p + page - 100, want, 100), 0);
  munmap(p, page);
}

TEST(ReadWrite, LargeReadOfFileMatchesSmallReads) {
  // One read of the whole file (straight into fresh memory) gives the same
  // bytes as page-sized reads, and a read past EOF is short.
  Fd fd(open("/bin/sh", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  const std::string small = ReadAll(fd.get());
  ASSERT_EQ(static_cast<off_t>(small.size()), st.st_size);
  const size_t len = small.size() + 8192;
  char* p = static_cast<char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(pread(fd.get(), p + 1, len - 1, 0), st.st_size);
  EXPECT_EQ(memcmp(p + 1, small.data(), small.size()), 0);
  EXPECT_EQ(pread(fd.get(), p, len, st.st_size - 10), 10);
  munmap(p, len);
}

TEST(ReadWrite, ReadWithHugeLengthFailsWithEfault) {
  // Linux checks access_ok(buf, count) first; no user range is that large.
  Fd fd(open("/dev/zero", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[16];
  EXPECT_THAT(Sys(SYS_read, fd.get(), buf, SIZE_MAX), FailsWith(EFAULT));
}

TEST(ReadWrite, ZeroLengthReadAndWriteReturnZeroEvenWithNullBuffer) {
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_write, p.write_end.get(), nullptr, 0).ret, Eq(0));
  EXPECT_THAT(Sys(SYS_read, p.read_end.get(), nullptr, 0).ret, Eq(0));
}

TEST(ReadWrite, ReadFromEmptyNonblockingPipeFailsWithEagain) {
  Pipe p = MakePipe(O_NONBLOCK);
  char c;
  EXPECT_THAT(Sys(SYS_read, p.read_end.get(), &c, 1), FailsWith(EAGAIN));
}

TEST(ReadWrite, ReadFromPipeWithClosedWriteEndReturnsEof) {
  Pipe p = MakePipe();
  p.write_end.Reset();
  char c;
  EXPECT_THAT(Sys(SYS_read, p.read_end.get(), &c, 1).ret, Eq(0));
}

TEST(ReadWrite, WriteToPipeWithClosedReadEndFailsWithEpipe) {
  // SIGPIPE is ignored so the write reports EPIPE instead of killing us.
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ign, &old), 0);
  Pipe p = MakePipe();
  p.read_end.Reset();
  EXPECT_THAT(Sys(SYS_write, p.write_end.get(), "x", 1), FailsWith(EPIPE));
  sigaction(SIGPIPE, &old, nullptr);
}

TEST(ReadWrite, Pipe2WithUnknownFlagFailsWithEinval) {
  int fds[2];
  EXPECT_THAT(Sys(SYS_pipe2, fds, 0x1), FailsWith(EINVAL));
}

TEST(ReadWrite, Pipe2ToBadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_pipe2, UnmappedAddress(), 0), FailsWith(EFAULT));
}

TEST(ReadWrite, ReadFileMatchesSizeFromFstat) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  std::string contents = ReadAll(fd.get());
  EXPECT_EQ(static_cast<off_t>(contents.size()), st.st_size);
  EXPECT_NE(contents.find("root:"), std::string::npos);
}

TEST(ReadWrite, ReadFromDevZeroGivesZeros) {
  Fd fd(open("/dev/zero", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[100];
  memset(buf, 'x', sizeof(buf));
  ASSERT_EQ(read(fd.get(), buf, sizeof(buf)), 100);
  EXPECT_EQ(std::string(buf, 100), std::string(100, '\0'));
}

TEST(ReadWrite, WriteToDevNullConsumesEverything) {
  Fd fd(open("/dev/null", O_WRONLY));
  ASSERT_GE(fd.get(), 0);
  std::string big(1 << 16, 'a');
  EXPECT_EQ(write(fd.get(), big.data(), big.size()), static_cast<ssize_t>(big.size()));
  char c;
  Fd rfd(open("/dev/null", O_RDONLY));
  EXPECT_EQ(read(rfd.get(), &c, 1), 0);
}

TEST(ReadWrite, WritevGathersAndReadvScatters) {
  Pipe p = MakePipe();
  char a[] = "abc", b[] = "defgh";
  struct iovec out[2] = {{a, 3}, {b, 5}};
  ASSERT_EQ(writev(p.write_end.get(), out, 2), 8);
  char x[2], y[6];
  struct iovec in[2] = {{x, 2}, {y, 6}};
  ASSERT_EQ(readv(p.read_end.get(), in, 2), 8);
  EXPECT_EQ(std::string(x, 2), "ab");
  EXPECT_EQ(std::string(y, 6), "cdefgh");
}

TEST(ReadWrite, WritevWithTooManyIovecsFailsWithEinval) {
  Pipe p = MakePipe();
  static struct iovec iov[IOV_MAX + 1];
  EXPECT_THAT(Sys(SYS_writev, p.write_end.get(), iov, IOV_MAX + 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_writev, p.write_end.get(), iov, -1), FailsWith(EINVAL));
}

TEST(ReadWrite, ReadvWithBadIovecArrayFailsWithEfault) {
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_readv, p.read_end.get(), UnmappedAddress(), 1), FailsWith(EFAULT));
}

TEST(ReadWrite, PreadReadsAtOffsetWithoutMovingFilePosition) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char whole[8], at2[4];
  ASSERT_EQ(pread(fd.get(), whole, 8, 0), 8);
  ASSERT_EQ(pread(fd.get(), at2, 4, 2), 4);
  EXPECT_EQ(std::string(at2, 4), std::string(whole + 2, 4));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST(ReadWrite, PreadWithNegativeOffsetFailsWithEinval) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[4];
  EXPECT_THAT(Sys(SYS_pread64, fd.get(), buf, 4, -1), FailsWith(EINVAL));
}

TEST(ReadWrite, PreadOnPipeFailsWithEspipe) {
  Pipe p = MakePipe();
  char buf[4];
  EXPECT_THAT(Sys(SYS_pread64, p.read_end.get(), buf, 4, 0), FailsWith(ESPIPE));
  EXPECT_THAT(Sys(SYS_pwrite64, p.write_end.get(), "x", 1, 0), FailsWith(ESPIPE));
}

TEST(ReadWrite, LseekOnPipeFailsWithEspipe) {
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_lseek, p.read_end.get(), 0, SEEK_SET), FailsWith(ESPIPE));
}

TEST(ReadWrite, LseekMovesPositionAndEndIsFileSize) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_END), st.st_size);
  EXPECT_EQ(lseek(fd.get(), 3, SEEK_SET), 3);
  EXPECT_EQ(lseek(fd.get(), 2, SEEK_CUR), 5);
}

TEST(ReadWrite, LseekWithBadWhenceFailsWithEinval) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_lseek, fd.get(), 0, 42), FailsWith(EINVAL));
}

TEST(ReadWrite, LseekToNegativeOffsetFailsWithEinval) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_lseek, fd.get(), -1, SEEK_SET), FailsWith(EINVAL));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
}

TEST(ReadWrite, WriteToReadOnlyFileFailsWithEbadf) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_write, fd.get(), "x", 1), FailsWith(EBADF));
}

TEST(ReadWrite, ReadFromDirectoryFailsWithEisdir) {
  Fd fd(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  char buf[16];
  EXPECT_THAT(Sys(SYS_read, fd.get(), buf, sizeof(buf)), FailsWith(EISDIR));
}

}  // namespace
}  // namespace syscall_test
