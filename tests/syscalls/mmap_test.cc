// mmap(2), munmap(2), mprotect(2), and mapping read-only host files.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

const size_t kPage = 4096;

SyscallResult Mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return Sys(SYS_mmap, addr, len, prot, flags, fd, off);
}

void* MapOrDie(size_t len, int prot) {
  void* p = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  return p;
}

TEST(Mmap, AnonymousMappingIsZeroedAndWritable) {
  auto* p = static_cast<unsigned char*>(MapOrDie(4 * kPage, PROT_READ | PROT_WRITE));
  bool zero = true;
  for (size_t i = 0; i < 4 * kPage; i++) zero &= p[i] == 0;
  EXPECT_TRUE(zero);
  p[0] = 1;
  p[4 * kPage - 1] = 2;
  EXPECT_EQ(p[0] + p[4 * kPage - 1], 3);
  EXPECT_EQ(munmap(p, 4 * kPage), 0);
}

TEST(Mmap, ResultIsPageAligned) {
  void* p = MapOrDie(100, PROT_READ);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
  munmap(p, 100);
}

TEST(Mmap, ZeroLengthFailsWithEinval) {
  EXPECT_THAT(Mmap(nullptr, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              FailsWith(EINVAL));
}

TEST(Mmap, NeitherSharedNorPrivateFailsWithEinval) {
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ, MAP_ANONYMOUS, -1, 0), FailsWith(EINVAL));
}

TEST(Mmap, UnalignedFixedAddressFailsWithEinval) {
  void* p = MapOrDie(2 * kPage, PROT_READ);
  EXPECT_THAT(Mmap(static_cast<char*>(p) + 1, kPage, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
              FailsWith(EINVAL));
  munmap(p, 2 * kPage);
}

TEST(Mmap, UnalignedFileOffsetFailsWithEinval) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), 100), FailsWith(EINVAL));
}

TEST(Mmap, HugeLengthFailsWithEnomem) {
  EXPECT_THAT(Mmap(nullptr, SIZE_MAX - kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              FailsWith(ENOMEM));
  EXPECT_THAT(Mmap(nullptr, size_t{1} << 48, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              FailsWith(ENOMEM));
}

TEST(Mmap, FileMappingWithBadFdFailsWithEbadf) {
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, -1, 0), FailsWith(EBADF));
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, 1000000, 0), FailsWith(EBADF));
}

TEST(Mmap, SharedWritableMappingOfReadOnlyFdFailsWithEacces) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0),
              FailsWith(EACCES));
}

TEST(Mmap, MappingOfPipeFailsWithEnodev) {
  Pipe p = MakePipe();
  EXPECT_THAT(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, p.read_end.get(), 0),
              FailsWith(ENODEV));
}

TEST(Mmap, FileMappingShowsFileContents) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  std::string expected(st.st_size, '\0');
  ASSERT_EQ(pread(fd.get(), expected.data(), expected.size(), 0), st.st_size);
  void* p = mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(std::string(static_cast<char*>(p), st.st_size), expected);
  // The tail of the last page past EOF reads as zeros.
  size_t rounded = (st.st_size + kPage - 1) / kPage * kPage;
  if (rounded > static_cast<size_t>(st.st_size)) {
    EXPECT_EQ(static_cast<char*>(p)[rounded - 1], 0);
  }
  munmap(p, st.st_size);
}

TEST(Mmap, PrivateWritableFileMappingIsCopyOnWrite) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  auto* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  char first;
  ASSERT_EQ(pread(fd.get(), &first, 1, 0), 1);
  p[0] = static_cast<char>(first + 1);
  char again;
  ASSERT_EQ(pread(fd.get(), &again, 1, 0), 1);
  EXPECT_EQ(again, first);
  munmap(p, kPage);
}

TEST(Mmap, FixedMappingReplacesExistingPages) {
  auto* p = static_cast<unsigned char*>(MapOrDie(2 * kPage, PROT_READ | PROT_WRITE));
  p[kPage] = 7;
  void* q = mmap(p + kPage, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_EQ(q, p + kPage);
  EXPECT_EQ(p[kPage], 0);
  munmap(p, 2 * kPage);
}

TEST(Mmap, FixedNoreplaceOverExistingMappingFailsWithEexist) {
  void* p = MapOrDie(kPage, PROT_READ);
  EXPECT_THAT(Mmap(p, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
              FailsWith(EEXIST));
  munmap(p, kPage);
}

TEST(Munmap, UnalignedAddressFailsWithEinval) {
  auto* p = static_cast<char*>(MapOrDie(kPage, PROT_READ));
  EXPECT_THAT(Sys(SYS_munmap, p + 1, kPage), FailsWith(EINVAL));
  munmap(p, kPage);
}

TEST(Munmap, ZeroLengthFailsWithEinval) {
  void* p = MapOrDie(kPage, PROT_READ);
  EXPECT_THAT(Sys(SYS_munmap, p, 0), FailsWith(EINVAL));
  munmap(p, kPage);
}

TEST(Munmap, UnmappingUnmappedRangeSucceeds) {
  EXPECT_THAT(Sys(SYS_munmap, UnmappedAddress(), kPage), Succeeds());
}

TEST(Munmap, UnmappedPageFaultsForSyscalls) {
  auto* p = static_cast<char*>(MapOrDie(2 * kPage, PROT_READ | PROT_WRITE));
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  Pipe pipe = MakePipe();
  ASSERT_EQ(write(pipe.write_end.get(), "ab", 2), 2);
  // A read straddling into the hole copies what fits, then reports the fault
  // only if nothing was copied. Reading entirely into the hole is EFAULT.
  EXPECT_THAT(Sys(SYS_read, pipe.read_end.get(), p + kPage, 2), FailsWith(EFAULT));
  munmap(p, kPage);
}

TEST(Mprotect, ReadOnlyPageRejectsWritesFromSyscalls) {
  auto* p = static_cast<char*>(MapOrDie(kPage, PROT_READ | PROT_WRITE));
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  Pipe pipe = MakePipe();
  ASSERT_EQ(write(pipe.write_end.get(), "x", 1), 1);
  EXPECT_THAT(Sys(SYS_read, pipe.read_end.get(), p, 1), FailsWith(EFAULT));
  // Reading from the page is still fine.
  EXPECT_THAT(Sys(SYS_write, pipe.write_end.get(), p, 1).ret, ::testing::Eq(1));
  munmap(p, kPage);
}

TEST(Mprotect, UnalignedAddressFailsWithEinval) {
  auto* p = static_cast<char*>(MapOrDie(kPage, PROT_READ));
  EXPECT_THAT(Sys(SYS_mprotect, p + 1, kPage, PROT_READ), FailsWith(EINVAL));
  munmap(p, kPage);
}

TEST(Mprotect, UnknownProtBitFailsWithEinval) {
  void* p = MapOrDie(kPage, PROT_READ);
  EXPECT_THAT(Sys(SYS_mprotect, p, kPage, 0x100), FailsWith(EINVAL));
  munmap(p, kPage);
}

TEST(Mprotect, UnmappedRangeFailsWithEnomem) {
  EXPECT_THAT(Sys(SYS_mprotect, UnmappedAddress(), kPage, PROT_READ), FailsWith(ENOMEM));
}

TEST(Mprotect, WritableOnReadOnlySharedFileMappingFailsWithEacces) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_THAT(Sys(SYS_mprotect, p, kPage, PROT_READ | PROT_WRITE), FailsWith(EACCES));
  munmap(p, kPage);
}

}  // namespace
}  // namespace syscall_test
