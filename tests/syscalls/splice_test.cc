// splice(2), tee(2), vmsplice(2), sendfile(2), copy_file_range(2): data
// movement and Linux's errno order (fs/splice.c, fs/read_write.c).
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cstdlib>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

// A temporary /tmp file holding `data`, open O_RDWR.
Fd TempFile(const std::string& data) {
  char tmpl[] = "/tmp/splice_test.XXXXXX";
  Fd f(mkstemp(tmpl));
  if (f.get() >= 0) {
    unlink(tmpl);
    if (!data.empty() && write(f.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) f.Reset();
  }
  return f;
}

std::string ReadAt(int fd, size_t n, off_t off) {
  std::string s(n, '\0');
  const ssize_t r = pread(fd, s.data(), n, off);
  s.resize(r < 0 ? 0 : static_cast<size_t>(r));
  return s;
}

TEST(Splice, FileToPipeAtOffsetLeavesFileOffset) {
  Fd f = TempFile("0123456789");
  ASSERT_GE(f.get(), 0);
  ASSERT_THAT(lseek(f.get(), 2, SEEK_SET), Eq(2));
  Pipe p = MakePipe();
  loff_t off = 5;
  ASSERT_THAT(splice(f.get(), &off, p.write_end.get(), nullptr, 3, 0), Eq(3));
  EXPECT_THAT(off, Eq(8));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(2));
  char buf[4] = {};
  ASSERT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "567");
  // Without an offset: the file offset is used and advanced.
  ASSERT_THAT(splice(f.get(), nullptr, p.write_end.get(), nullptr, 2, 0), Eq(2));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(4));
}

TEST(Splice, PipeToFile) {
  Fd f = TempFile("");
  ASSERT_GE(f.get(), 0);
  Pipe p = MakePipe();
  ASSERT_THAT(write(p.write_end.get(), "abcdef", 6), Eq(6));
  loff_t off = 3;
  ASSERT_THAT(splice(p.read_end.get(), nullptr, f.get(), &off, 4, 0), Eq(4));
  EXPECT_THAT(off, Eq(7));
  EXPECT_THAT(ReadAt(f.get(), 16, 0), Eq(std::string("\0\0\0abcd", 7)));
  char buf[4] = {};
  ASSERT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(2));  // the rest stayed
  EXPECT_STREQ(buf, "ef");
}

TEST(Splice, PipeToPipeMovesData) {
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(write(a.write_end.get(), "xyz", 3), Eq(3));
  ASSERT_THAT(splice(a.read_end.get(), nullptr, b.write_end.get(), nullptr, 10, 0), Eq(3));
  char buf[4] = {};
  ASSERT_THAT(read(b.read_end.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "xyz");
}

TEST(Splice, Errors) {
  Fd f = TempFile("data");
  Fd g = TempFile("");
  ASSERT_GE(f.get(), 0);
  Pipe p = MakePipe(O_NONBLOCK);
  loff_t off = 0;
  // A zero length returns 0 before the fds are even looked at.
  EXPECT_THAT(Sys(SYS_splice, -1, nullptr, -1, nullptr, 0, 0).ret, Eq(0));
  EXPECT_THAT(Sys(SYS_splice, -1, nullptr, p.write_end.get(), nullptr, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_splice, f.get(), nullptr, 1000, nullptr, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_splice, f.get(), nullptr, p.write_end.get(), nullptr, 1, 0x100), FailsWith(EINVAL));
  // Neither end a pipe.
  EXPECT_THAT(Sys(SYS_splice, f.get(), nullptr, g.get(), nullptr, 1, 0), FailsWith(EINVAL));
  // An offset for a pipe end.
  EXPECT_THAT(Sys(SYS_splice, p.read_end.get(), &off, g.get(), nullptr, 1, 0), FailsWith(ESPIPE));
  EXPECT_THAT(Sys(SYS_splice, f.get(), nullptr, p.write_end.get(), &off, 1, 0), FailsWith(ESPIPE));
  // Wrong direction of a pipe end.
  EXPECT_THAT(Sys(SYS_splice, p.write_end.get(), nullptr, g.get(), nullptr, 1, 0), FailsWith(EBADF));
  // The same pipe on both sides.
  EXPECT_THAT(Sys(SYS_splice, p.read_end.get(), nullptr, p.write_end.get(), nullptr, 1, 0), FailsWith(EINVAL));
  // An empty pipe with writers, non-blocking.
  EXPECT_THAT(Sys(SYS_splice, p.read_end.get(), nullptr, g.get(), nullptr, 1, 0), FailsWith(EAGAIN));
  EXPECT_THAT(Sys(SYS_splice, p.read_end.get(), nullptr, g.get(), nullptr, 1, SPLICE_F_NONBLOCK),
              FailsWith(EAGAIN));
}

TEST(Splice, EmptyPipeWithoutWritersIsEof) {
  Pipe p = MakePipe();
  Fd g = TempFile("");
  p.write_end.Reset();
  EXPECT_THAT(splice(p.read_end.get(), nullptr, g.get(), nullptr, 10, 0), Eq(0));
}

TEST(Tee, CopiesWithoutConsuming) {
  Pipe a = MakePipe(), b = MakePipe();
  ASSERT_THAT(write(a.write_end.get(), "hello", 5), Eq(5));
  ASSERT_THAT(tee(a.read_end.get(), b.write_end.get(), 3, 0), Eq(3));
  char buf[8] = {};
  ASSERT_THAT(read(b.read_end.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "hel");
  char buf2[8] = {};
  ASSERT_THAT(read(a.read_end.get(), buf2, sizeof(buf2)), Eq(5));
  EXPECT_STREQ(buf2, "hello");
}

TEST(Tee, Errors) {
  Pipe a = MakePipe(O_NONBLOCK), b = MakePipe();
  Fd f = TempFile("x");
  EXPECT_THAT(Sys(SYS_tee, -1, b.write_end.get(), 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_tee, a.read_end.get(), b.write_end.get(), 1, 0x100), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_tee, f.get(), b.write_end.get(), 1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_tee, a.read_end.get(), f.get(), 1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_tee, a.read_end.get(), a.write_end.get(), 1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_tee, a.read_end.get(), b.write_end.get(), 0, 0).ret, Eq(0));
  EXPECT_THAT(Sys(SYS_tee, a.read_end.get(), b.write_end.get(), 1, 0), FailsWith(EAGAIN));
}

TEST(Vmsplice, WritesUserMemoryIntoThePipe) {
  Pipe p = MakePipe();
  char a[] = "ab", b[] = "cde";
  struct iovec iov[2] = {{a, 2}, {b, 3}};
  ASSERT_THAT(vmsplice(p.write_end.get(), iov, 2, 0), Eq(5));
  char buf[8] = {};
  ASSERT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(5));
  EXPECT_STREQ(buf, "abcde");
  Fd f = TempFile("");
  EXPECT_THAT(Sys(SYS_vmsplice, f.get(), iov, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_vmsplice, -1, iov, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_vmsplice, p.write_end.get(), iov, 1, 0x100), FailsWith(EINVAL));
}

TEST(Sendfile, FileToFileWithAndWithoutOffset) {
  Fd in = TempFile("abcdefgh");
  Fd out = TempFile("");
  ASSERT_GE(in.get(), 0);
  off_t off = 2;
  ASSERT_THAT(sendfile(out.get(), in.get(), &off, 3), Eq(3));
  EXPECT_THAT(off, Eq(5));
  EXPECT_THAT(lseek(in.get(), 0, SEEK_CUR), Eq(8));  // untouched by the offset form
  ASSERT_THAT(lseek(in.get(), 6, SEEK_SET), Eq(6));
  ASSERT_THAT(sendfile(out.get(), in.get(), nullptr, 100), Eq(2));
  EXPECT_THAT(lseek(in.get(), 0, SEEK_CUR), Eq(8));
  EXPECT_THAT(ReadAt(out.get(), 16, 0), Eq("cdegh"));
  EXPECT_THAT(sendfile(out.get(), in.get(), nullptr, 100), Eq(0));  // at EOF
}

TEST(Sendfile, ToAPipe) {
  Fd in = TempFile("pipedata");
  Pipe p = MakePipe();
  off_t off = 4;
  ASSERT_THAT(sendfile(p.write_end.get(), in.get(), &off, 10), Eq(4));
  char buf[8] = {};
  ASSERT_THAT(read(p.read_end.get(), buf, sizeof(buf)), Eq(4));
  EXPECT_STREQ(buf, "data");
}

TEST(Sendfile, Errors) {
  Fd in = TempFile("x");
  Fd out = TempFile("");
  EXPECT_THAT(Sys(SYS_sendfile, out.get(), -1, nullptr, 1), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_sendfile, -1, in.get(), nullptr, 1), FailsWith(EBADF));
  Fd wo(open("/dev/null", O_WRONLY));
  EXPECT_THAT(Sys(SYS_sendfile, out.get(), wo.get(), nullptr, 1), FailsWith(EBADF));  // in not readable
  Fd ro(open("/dev/null", O_RDONLY));
  EXPECT_THAT(Sys(SYS_sendfile, ro.get(), in.get(), nullptr, 1), FailsWith(EBADF));  // out not writable
  ASSERT_THAT(fcntl(out.get(), F_SETFL, O_APPEND), Eq(0));
  EXPECT_THAT(Sys(SYS_sendfile, out.get(), in.get(), nullptr, 1), FailsWith(EINVAL));
  off_t neg = -1;
  ASSERT_THAT(fcntl(out.get(), F_SETFL, 0), Eq(0));
  EXPECT_THAT(Sys(SYS_sendfile, out.get(), in.get(), &neg, 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sendfile, out.get(), in.get(), UnmappedAddress(), 1), FailsWith(EFAULT));
}

TEST(CopyFileRange, CopiesBetweenFilesAtOffsets) {
  Fd in = TempFile("0123456789");
  Fd out = TempFile("");
  loff_t oi = 4, oo = 1;
  ASSERT_THAT(copy_file_range(in.get(), &oi, out.get(), &oo, 3, 0), Eq(3));
  EXPECT_THAT(oi, Eq(7));
  EXPECT_THAT(oo, Eq(4));
  EXPECT_THAT(ReadAt(out.get(), 16, 0), Eq(std::string("\0" "456", 4)));
  // The file offsets when no pointers are given.
  ASSERT_THAT(lseek(in.get(), 8, SEEK_SET), Eq(8));
  ASSERT_THAT(lseek(out.get(), 0, SEEK_SET), Eq(0));
  ASSERT_THAT(copy_file_range(in.get(), nullptr, out.get(), nullptr, 10, 0), Eq(2));
  EXPECT_THAT(lseek(in.get(), 0, SEEK_CUR), Eq(10));
  EXPECT_THAT(lseek(out.get(), 0, SEEK_CUR), Eq(2));
  EXPECT_THAT(ReadAt(out.get(), 16, 0), Eq("89" "56"));
  // Past EOF of the source: 0.
  loff_t end = 100;
  EXPECT_THAT(copy_file_range(in.get(), &end, out.get(), nullptr, 5, 0), Eq(0));
}

TEST(CopyFileRange, Errors) {
  Fd in = TempFile("0123456789");
  Fd out = TempFile("");
  Pipe p = MakePipe();
  loff_t a = 0, b = 2;
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), nullptr, out.get(), nullptr, 1, 1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_copy_file_range, -1, nullptr, out.get(), nullptr, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), nullptr, -1, nullptr, 1, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_copy_file_range, p.read_end.get(), nullptr, out.get(), nullptr, 1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), nullptr, p.write_end.get(), nullptr, 1, 0), FailsWith(EINVAL));
  Fd dir(open("/tmp", O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(Sys(SYS_copy_file_range, dir.get(), nullptr, out.get(), nullptr, 1, 0), FailsWith(EISDIR));
  // A regular file open read-only as the destination.
  char tmpl[] = "/tmp/splice_test.XXXXXX";
  Fd named(mkstemp(tmpl));
  ASSERT_GE(named.get(), 0);
  Fd ro(open(tmpl, O_RDONLY));
  unlink(tmpl);
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), nullptr, ro.get(), nullptr, 1, 0), FailsWith(EBADF));
  Fd dev(open("/dev/null", O_WRONLY));
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), nullptr, dev.get(), nullptr, 1, 0), FailsWith(EINVAL));
  // Overlapping ranges of one file.
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), &a, in.get(), &b, 5, 0), FailsWith(EINVAL));
  // A negative offset wraps as unsigned first (generic_copy_file_checks).
  loff_t neg = -1;
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), &neg, out.get(), nullptr, 1, 0), FailsWith(EOVERFLOW));
  neg = -5;
  EXPECT_THAT(Sys(SYS_copy_file_range, in.get(), &neg, out.get(), nullptr, 1, 0), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
