// preadv(2), pwritev(2), preadv2(2), pwritev2(2): positional vectors, the
// offset -1 form of the *v2 calls, RWF_APPEND/RWF_NOAPPEND/RWF_NOWAIT, and
// the argument checks (fs/read_write.c).
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cstdlib>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

Fd TempFile(const std::string& data, int extra_flags = 0) {
  char tmpl[] = "/tmp/preadv_test.XXXXXX";
  Fd f(mkostemp(tmpl, extra_flags));
  if (f.get() >= 0) {
    unlink(tmpl);
    if (!data.empty() && write(f.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) f.Reset();
  }
  return f;
}

std::string Contents(int fd) {
  std::string s(256, '\0');
  const ssize_t n = pread(fd, s.data(), s.size(), 0);
  s.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return s;
}

TEST(Preadv, ReadsAtOffsetIntoEachBufferInOrder) {
  Fd f = TempFile("abcdefghij");
  ASSERT_GE(f.get(), 0);
  char a[3] = {}, b[4] = {};
  struct iovec iov[2] = {{a, 2}, {b, 3}};
  ASSERT_THAT(preadv(f.get(), iov, 2, 3), Eq(5));
  EXPECT_STREQ(a, "de");
  EXPECT_STREQ(b, "fgh");
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(10));  // offset untouched
  // Short at EOF.
  ASSERT_THAT(preadv(f.get(), iov, 2, 8), Eq(2));
  EXPECT_THAT(preadv(f.get(), iov, 2, 100), Eq(0));
}

TEST(Pwritev, WritesAtOffsetWithoutMovingTheFileOffset) {
  Fd f = TempFile("0000000000");
  char a[] = "ab", b[] = "cd";
  struct iovec iov[2] = {{a, 2}, {b, 2}};
  ASSERT_THAT(lseek(f.get(), 1, SEEK_SET), Eq(1));
  ASSERT_THAT(pwritev(f.get(), iov, 2, 4), Eq(4));
  EXPECT_THAT(Contents(f.get()), Eq("0000abcd00"));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(1));
  // Past EOF: a hole in between.
  ASSERT_THAT(pwritev(f.get(), iov, 1, 12), Eq(2));
  EXPECT_THAT(Contents(f.get()), Eq(std::string("0000abcd00\0\0ab", 14)));
}

TEST(Preadv2, OffsetMinusOneUsesAndAdvancesTheFileOffset) {
  Fd f = TempFile("abcdef");
  ASSERT_THAT(lseek(f.get(), 2, SEEK_SET), Eq(2));
  char a[3] = {};
  struct iovec iov = {a, 2};
  ASSERT_THAT(preadv2(f.get(), &iov, 1, -1, 0), Eq(2));
  EXPECT_STREQ(a, "cd");
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(4));
  ASSERT_THAT(preadv2(f.get(), &iov, 1, 0, 0), Eq(2));
  EXPECT_STREQ(a, "ab");
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(4));
}

TEST(Pwritev2, OffsetMinusOneWritesAtTheFileOffset) {
  Fd f = TempFile("......");
  ASSERT_THAT(lseek(f.get(), 1, SEEK_SET), Eq(1));
  char a[] = "xy";
  struct iovec iov = {a, 2};
  ASSERT_THAT(pwritev2(f.get(), &iov, 1, -1, 0), Eq(2));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(3));
  EXPECT_THAT(Contents(f.get()), Eq(".xy..."));
}

TEST(Pwritev2, RwfAppendWritesAtEndEvenWithAnOffset) {
  Fd f = TempFile("base");
  ASSERT_THAT(lseek(f.get(), 0, SEEK_SET), Eq(0));
  char a[] = "++";
  struct iovec iov = {a, 2};
  ASSERT_THAT(pwritev2(f.get(), &iov, 1, 1, RWF_APPEND), Eq(2));
  EXPECT_THAT(Contents(f.get()), Eq("base++"));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(0));  // positional: offset kept
  ASSERT_THAT(pwritev2(f.get(), &iov, 1, -1, RWF_APPEND), Eq(2));
  EXPECT_THAT(Contents(f.get()), Eq("base++++"));
  EXPECT_THAT(lseek(f.get(), 0, SEEK_CUR), Eq(8));  // moved past the append
}

TEST(Pwritev2, RwfNoappendWritesAtTheOffsetOfAnAppendFile) {
  Fd f = TempFile("0123", O_APPEND);
  char a[] = "ab";
  struct iovec iov = {a, 2};
  // O_APPEND alone: pwritev appends (Linux ignores the offset).
  ASSERT_THAT(pwritev2(f.get(), &iov, 1, 0, 0), Eq(2));
  EXPECT_THAT(Contents(f.get()), Eq("0123ab"));
  ASSERT_THAT(pwritev2(f.get(), &iov, 1, 1, RWF_NOAPPEND), Eq(2));
  EXPECT_THAT(Contents(f.get()), Eq("0ab3ab"));
}

TEST(Preadv2, RwfNowaitOnAnEmptyPipeIsEagain) {
  Pipe p = MakePipe();
  char c;
  struct iovec iov = {&c, 1};
  EXPECT_THAT(Sys(SYS_preadv2, p.read_end.get(), &iov, 1, -1, -1, RWF_NOWAIT), FailsWith(EAGAIN));
  ASSERT_THAT(write(p.write_end.get(), "q", 1), Eq(1));
  EXPECT_THAT(Sys(SYS_preadv2, p.read_end.get(), &iov, 1, -1, -1, RWF_NOWAIT).ret, Eq(1));
  EXPECT_THAT(c, Eq('q'));
}

TEST(PreadvPwritev, Errors) {
  Fd f = TempFile("abc");
  Pipe p = MakePipe();
  char c;
  struct iovec iov = {&c, 1};
  EXPECT_THAT(Sys(SYS_preadv, -1, &iov, 1, 0, 0), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_preadv, f.get(), &iov, 1, -5, -1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_preadv2, f.get(), &iov, 1, -2, -1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_pwritev2, f.get(), &iov, 1, -2, -1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_preadv, p.read_end.get(), &iov, 1, 0, 0), FailsWith(ESPIPE));
  EXPECT_THAT(Sys(SYS_pwritev, p.write_end.get(), &iov, 1, 0, 0), FailsWith(ESPIPE));
  // ESPIPE comes before the access mode (do_pwritev checks FMODE_PWRITE first).
  EXPECT_THAT(Sys(SYS_pwritev, p.read_end.get(), &iov, 1, 0, 0), FailsWith(ESPIPE));
  EXPECT_THAT(Sys(SYS_preadv, p.write_end.get(), &iov, 1, 0, 0), FailsWith(ESPIPE));
  EXPECT_THAT(Sys(SYS_pwritev, -1, &iov, 1, -5, -1), FailsWith(EINVAL));  // pos before the fd
  EXPECT_THAT(Sys(SYS_pwritev, f.get(), &iov, 1025, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_preadv, f.get(), &iov, 1025, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_preadv, f.get(), &iov, 0, 0, 0).ret, Eq(0));
  EXPECT_THAT(Sys(SYS_preadv, f.get(), UnmappedAddress(), 1, 0, 0), FailsWith(EFAULT));
  struct iovec bad = {UnmappedAddress(), 1};
  EXPECT_THAT(Sys(SYS_preadv, f.get(), &bad, 1, 0, 0), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_pwritev, f.get(), &bad, 1, 0, 0), FailsWith(EFAULT));
  struct iovec neg = {&c, static_cast<size_t>(-1)};
  EXPECT_THAT(Sys(SYS_preadv, f.get(), &neg, 1, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_preadv2, f.get(), &iov, 1, 0, 0, 0x10000), FailsWith(EOPNOTSUPP));
  EXPECT_THAT(Sys(SYS_pwritev2, f.get(), &iov, 1, 0, 0, 0x10000), FailsWith(EOPNOTSUPP));
}

}  // namespace
}  // namespace syscall_test
