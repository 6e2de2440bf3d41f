// readlink(2)/readlinkat(2), including /proc/self magic links.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::StartsWith;

std::string Readlink(const char* path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path, buf, sizeof(buf));
  if (n < 0) return "<error " + std::string(strerror(errno)) + ">";
  return std::string(buf, n);
}

TEST(Readlink, ProcSelfExeNamesTheTestBinary) {
  char resolved[PATH_MAX];
  ASSERT_NE(realpath(Argv0().c_str(), resolved), nullptr) << Argv0();
  EXPECT_EQ(Readlink("/proc/self/exe"), resolved);
}

TEST(Readlink, ProcSelfCwdMatchesGetcwd) {
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(Readlink("/proc/self/cwd"), cwd);
}

TEST(Readlink, ProcSelfFdOfPipeNamesPipe) {
  Pipe p = MakePipe();
  std::string link = "/proc/self/fd/" + std::to_string(p.read_end.get());
  EXPECT_THAT(Readlink(link.c_str()), StartsWith("pipe:["));
}

TEST(Readlink, ProcSelfFdOfFileNamesItsPath) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  EXPECT_EQ(Readlink(link.c_str()), "/etc/passwd");
}

TEST(Readlink, HostSymlinkGivesItsTarget) {
  std::string target = BinSymlinkTarget();
  if (target.empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  EXPECT_EQ(Readlink("/bin"), target);
}

TEST(Readlink, ShortBufferTruncatesWithoutNul) {
  std::string target = BinSymlinkTarget();
  if (target.size() < 3) GTEST_SKIP() << "/bin is not a symlink on this host";
  char buf[8];
  memset(buf, '#', sizeof(buf));
  EXPECT_THAT(Sys(SYS_readlink, "/bin", buf, 2).ret, Eq(2));
  EXPECT_EQ(std::string(buf, 3), target.substr(0, 2) + "#");
}

TEST(Readlink, RegularFileFailsWithEinval) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlink, "/etc/passwd", buf, sizeof(buf)), FailsWith(EINVAL));
}

TEST(Readlink, ZeroOrNegativeSizeFailsWithEinval) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlink, "/proc/self/exe", buf, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_readlink, "/proc/self/exe", buf, -1), FailsWith(EINVAL));
}

TEST(Readlink, MissingPathFailsWithEnoent) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlink, "/nonexistent-for-tests", buf, sizeof(buf)), FailsWith(ENOENT));
}

TEST(Readlink, FileUsedAsDirectoryFailsWithEnotdir) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlink, "/etc/passwd/x", buf, sizeof(buf)), FailsWith(ENOTDIR));
}

TEST(Readlink, BadBufferFailsWithEfault) {
  if (BinSymlinkTarget().empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  EXPECT_THAT(Sys(SYS_readlink, "/bin", UnmappedAddress(), 64), FailsWith(EFAULT));
}

TEST(Readlink, BadPathFailsWithEfault) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlink, UnmappedAddress(), buf, sizeof(buf)), FailsWith(EFAULT));
}

TEST(Readlinkat, RelativeToDirFd) {
  std::string target = BinSymlinkTarget();
  if (target.empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  Fd root(open("/", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(root.get(), 0);
  char buf[64];
  ssize_t n = readlinkat(root.get(), "bin", buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), target);
}

TEST(Readlinkat, BadDirFdFailsWithEbadf) {
  char buf[64];
  EXPECT_THAT(Sys(SYS_readlinkat, -5, "bin", buf, sizeof(buf)), FailsWith(EBADF));
}

}  // namespace
}  // namespace syscall_test
