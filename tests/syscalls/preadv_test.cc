// preadv(2), pwritev(2), preadv2(2), pwritev2(2): positional vectors, the
// offset -1 form of the *v2 calls, RWF_APPEND/RWF_NOAPPEND/RWF_NOWAIT, and
// the argument checks (fs/read_write.c).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/uio.h>

#include <cstdlib>
#include <cstring>
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

TEST(Pwrite, IntoAHoleZeroesTheRestOfItsPageAndLeavesEarlierPagesHoles) {
  Fd f = TempFile("");
  ASSERT_GE(f.get(), 0);
  ASSERT_THAT(pwrite(f.get(), "0123456789", 10, 5000), Eq(10));
  std::string got(8192, 'x');
  ASSERT_THAT(pread(f.get(), got.data(), got.size(), 0), Eq(5010));
  EXPECT_EQ(got.substr(0, 5000), std::string(5000, '\0'));
  EXPECT_EQ(got.substr(5000, 10), "0123456789");
  EXPECT_EQ(lseek(f.get(), 0, SEEK_DATA), 4096);
  ASSERT_EQ(ftruncate(f.get(), 8192), 0);  // the page's tail reads as zeros
  ASSERT_THAT(pread(f.get(), got.data(), got.size(), 0), Eq(8192));
  EXPECT_EQ(got.substr(5010), std::string(8192 - 5010, '\0'));
}

TEST(Pwrite, WritesOverNewAndExistingPagesReadBackThroughReadAndMmap) {
  // One write that fills holes, one over written pages and past EOF.
  Fd f = TempFile("");
  ASSERT_GE(f.get(), 0);
  const size_t n = (1 << 20) + 123;
  std::string a(n, '\0'), b(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    a[i] = static_cast<char>('a' + i % 23);
    b[i] = static_cast<char>('A' + i % 19);
  }
  ASSERT_THAT(pwrite(f.get(), a.data(), n, 100), Eq(static_cast<ssize_t>(n)));
  ASSERT_THAT(pwrite(f.get(), b.data(), n, 300000), Eq(static_cast<ssize_t>(n)));
  std::string want(300000 + n, '\0');
  want.replace(100, n, a);
  want.replace(300000, n, b);
  std::string got(want.size() + 10, 'x');
  ASSERT_THAT(pread(f.get(), got.data(), got.size(), 0), Eq(static_cast<ssize_t>(want.size())));
  got.resize(want.size());
  EXPECT_TRUE(got == want);
  void* m = mmap(nullptr, want.size(), PROT_READ, MAP_SHARED, f.get(), 0);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(memcmp(m, want.data(), want.size()), 0);
  munmap(m, want.size());
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
