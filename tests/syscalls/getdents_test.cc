// getdents64(2) on host directories.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <set>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Contains;

struct Entry {
  std::string name;
  unsigned char type;
  ino64_t ino;
};

// Reads all entries of fd with a buffer of buf_size bytes per call.
std::vector<Entry> ReadEntries(int fd, size_t buf_size) {
  std::vector<Entry> out;
  std::vector<char> buf(buf_size);
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
    if (n <= 0) {
      EXPECT_EQ(n, 0) << strerror(errno);
      break;
    }
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf.data() + off);
      out.push_back({d->d_name, d->d_type, d->d_ino});
      EXPECT_GT(d->d_reclen, 0);
      EXPECT_EQ(d->d_reclen % 8, 0) << "records are 8-byte aligned";
      off += d->d_reclen;
    }
  }
  return out;
}

std::set<std::string> Names(const std::vector<Entry>& entries) {
  std::set<std::string> names;
  for (const Entry& e : entries) names.insert(e.name);
  return names;
}

TEST(Getdents, RootListsDotDotDotAndEtc) {
  Fd fd(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  std::set<std::string> names = Names(ReadEntries(fd.get(), 4096));
  EXPECT_THAT(names, Contains("."));
  EXPECT_THAT(names, Contains(".."));
  EXPECT_THAT(names, Contains("etc"));
  EXPECT_THAT(names, Contains("usr"));
}

TEST(Getdents, EntriesHaveTypesMatchingLstat) {
  Fd fd(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  struct stat root;
  ASSERT_EQ(stat("/", &root), 0);
  for (const Entry& e : ReadEntries(fd.get(), 4096)) {
    if (e.name == "." || e.name == ".." || e.type == DT_UNKNOWN) continue;
    struct stat st;
    ASSERT_EQ(lstat(("/" + e.name).c_str(), &st), 0) << e.name;
    EXPECT_EQ(e.type, IFTODT(st.st_mode)) << e.name;
    // A mount point (/proc, /dev) shows the covered directory's inode.
    if (st.st_dev == root.st_dev) {
      EXPECT_EQ(e.ino, st.st_ino) << e.name;
    }
  }
}

TEST(Getdents, SmallBufferGivesSameEntriesAsLargeOne) {
  Fd a(open("/etc", O_RDONLY | O_DIRECTORY));
  Fd b(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(a.get(), 0);
  ASSERT_GE(b.get(), 0);
  std::set<std::string> small = Names(ReadEntries(a.get(), 300));
  std::set<std::string> large = Names(ReadEntries(b.get(), 1 << 16));
  EXPECT_EQ(small, large);
  EXPECT_THAT(large, Contains("passwd"));
}

TEST(Getdents, SecondPassAfterEndReturnsZero) {
  Fd fd(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  ReadEntries(fd.get(), 4096);
  char buf[4096];
  EXPECT_EQ(syscall(SYS_getdents64, fd.get(), buf, sizeof(buf)), 0);
}

TEST(Getdents, RewindWithLseekListsAgain) {
  Fd fd(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  std::set<std::string> first = Names(ReadEntries(fd.get(), 4096));
  ASSERT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
  EXPECT_EQ(Names(ReadEntries(fd.get(), 4096)), first);
}

TEST(Getdents, TooSmallBufferFailsWithEinval) {
  Fd fd(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  char buf[8];
  EXPECT_THAT(Sys(SYS_getdents64, fd.get(), buf, sizeof(buf)), FailsWith(EINVAL));
}

TEST(Getdents, FileFdFailsWithEnotdir) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[4096];
  EXPECT_THAT(Sys(SYS_getdents64, fd.get(), buf, sizeof(buf)), FailsWith(ENOTDIR));
}

TEST(Getdents, BadFdFailsWithEbadf) {
  char buf[4096];
  EXPECT_THAT(Sys(SYS_getdents64, -1, buf, sizeof(buf)), FailsWith(EBADF));
}

TEST(Getdents, BadBufferFailsWithEfault) {
  Fd fd(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_getdents64, fd.get(), UnmappedAddress(), 4096), FailsWith(EFAULT));
}

TEST(Getdents, ProcSelfFdListsOpenFds) {
  Fd fd(open("/proc/self/fd", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  std::set<std::string> names = Names(ReadEntries(fd.get(), 4096));
  EXPECT_THAT(names, Contains("1"));
  EXPECT_THAT(names, Contains("2"));
  EXPECT_THAT(names, Contains(std::to_string(fd.get())));
}

}  // namespace
}  // namespace syscall_test
