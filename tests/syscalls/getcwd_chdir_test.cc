// getcwd(2), chdir(2), fchdir(2). Each test restores the working directory.
#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>

#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

class GetcwdChdir : public ::testing::Test {
 protected:
  void SetUp() override { saved_.Reset(open(".", O_RDONLY | O_DIRECTORY)); }
  void TearDown() override {
    if (saved_.get() >= 0) {
      EXPECT_EQ(fchdir(saved_.get()), 0);
    }
  }
  static std::string Cwd() {
    char buf[PATH_MAX];
    return getcwd(buf, sizeof(buf)) ? buf : "<error>";
  }

 private:
  Fd saved_;
};

TEST_F(GetcwdChdir, ChdirToRootThenGetcwdIsSlash) {
  ASSERT_EQ(chdir("/"), 0);
  EXPECT_EQ(Cwd(), "/");
}

TEST_F(GetcwdChdir, ChdirThroughSymlinkGivesResolvedPath) {
  if (BinSymlinkTarget() != "usr/bin") GTEST_SKIP() << "/bin is not a symlink to usr/bin";
  ASSERT_EQ(chdir("/bin"), 0);
  EXPECT_EQ(Cwd(), "/usr/bin");
}

TEST_F(GetcwdChdir, RelativeChdirIsRelativeToCwd) {
  ASSERT_EQ(chdir("/usr"), 0);
  ASSERT_EQ(chdir("bin"), 0);
  EXPECT_EQ(Cwd(), "/usr/bin");
  ASSERT_EQ(chdir(".."), 0);
  EXPECT_EQ(Cwd(), "/usr");
}

TEST_F(GetcwdChdir, DotDotAtRootStaysAtRoot) {
  ASSERT_EQ(chdir("/"), 0);
  ASSERT_EQ(chdir(".."), 0);
  EXPECT_EQ(Cwd(), "/");
}

TEST_F(GetcwdChdir, FchdirToDirectoryFd) {
  Fd etc(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(etc.get(), 0);
  ASSERT_EQ(fchdir(etc.get()), 0);
  EXPECT_EQ(Cwd(), "/etc");
  Fd fd(open("passwd", O_RDONLY));
  EXPECT_GE(fd.get(), 0);
}

TEST_F(GetcwdChdir, GetcwdReturnsLengthIncludingNul) {
  ASSERT_EQ(chdir("/etc"), 0);
  char buf[64];
  EXPECT_THAT(Sys(SYS_getcwd, buf, sizeof(buf)).ret, Eq(5));
}

TEST_F(GetcwdChdir, GetcwdWithTooSmallBufferFailsWithErange) {
  ASSERT_EQ(chdir("/etc"), 0);
  char buf[5];
  EXPECT_THAT(Sys(SYS_getcwd, buf, 4), FailsWith(ERANGE));
  EXPECT_THAT(Sys(SYS_getcwd, buf, 0), FailsWith(ERANGE));
}

TEST_F(GetcwdChdir, GetcwdToBadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_getcwd, UnmappedAddress(), 4096), FailsWith(EFAULT));
}

TEST_F(GetcwdChdir, ChdirToMissingFailsWithEnoent) {
  EXPECT_THAT(Sys(SYS_chdir, "/nonexistent-for-tests"), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_chdir, ""), FailsWith(ENOENT));
}

TEST_F(GetcwdChdir, ChdirToFileFailsWithEnotdir) {
  EXPECT_THAT(Sys(SYS_chdir, "/etc/passwd"), FailsWith(ENOTDIR));
}

TEST_F(GetcwdChdir, ChdirToBadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_chdir, UnmappedAddress()), FailsWith(EFAULT));
}

TEST_F(GetcwdChdir, FailedChdirLeavesCwdUnchanged) {
  ASSERT_EQ(chdir("/etc"), 0);
  ASSERT_NE(chdir("/etc/passwd"), 0);
  EXPECT_EQ(Cwd(), "/etc");
}

TEST_F(GetcwdChdir, FchdirToBadFdFailsWithEbadf) {
  EXPECT_THAT(Sys(SYS_fchdir, -1), FailsWith(EBADF));
}

TEST_F(GetcwdChdir, FchdirToFileFailsWithEnotdir) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_fchdir, fd.get()), FailsWith(ENOTDIR));
}

}  // namespace
}  // namespace syscall_test
