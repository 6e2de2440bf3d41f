// Creating names in synthetic filesystems: /proc's lookup of a missing name
// fails (ENOENT) before any "no such operation" error, and a directory with
// no ->create refuses open(O_CREAT) and mknod(S_IFREG) with EACCES
// (vfs_create) but mkdir and mkfifo with EPERM. Found by perl's
// `mkdir "/proc/x"` printing a different $! in the sandbox.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

namespace {

int Errno(int rc) { return rc < 0 ? errno : 0; }

class ProcCreate : public ::testing::TestWithParam<const char*> {};

TEST_P(ProcCreate, CreatingAMissingNameIsENOENT) {
  const std::string path = std::string(GetParam()) + "/runsc_no_such_name";
  EXPECT_EQ(Errno(mkdir(path.c_str(), 0755)), ENOENT);
  EXPECT_EQ(Errno(open(path.c_str(), O_CREAT | O_WRONLY, 0644)), ENOENT);
  EXPECT_EQ(Errno(open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0644)), ENOENT);
  EXPECT_EQ(Errno(mkfifo(path.c_str(), 0644)), ENOENT);
  EXPECT_EQ(Errno(mknod(path.c_str(), S_IFREG | 0644, 0)), ENOENT);
  EXPECT_EQ(Errno(symlink("/", path.c_str())), ENOENT);
  EXPECT_EQ(Errno(unlink(path.c_str())), ENOENT);
  EXPECT_EQ(Errno(rmdir(path.c_str())), ENOENT);
}

INSTANTIATE_TEST_SUITE_P(Dirs, ProcCreate,
                         ::testing::Values("/proc", "/proc/self", "/proc/self/fd", "/proc/self/task", "/proc/sys",
                                           "/proc/sys/kernel", "/proc/net", "/proc/1"));

TEST(ProcCreate, CreatingAnExistingNameIsEEXIST) {
  EXPECT_EQ(Errno(mkdir("/proc/self", 0755)), EEXIST);
  EXPECT_EQ(Errno(mkdir("/proc/self/status", 0755)), EEXIST);
  EXPECT_EQ(Errno(symlink("/", "/proc/version")), EEXIST);
  EXPECT_EQ(Errno(open("/proc/self/status", O_CREAT | O_EXCL | O_RDONLY, 0644)), EEXIST);
}

TEST(DevptsCreate, NoCreateOpIsEACCESNoMkdirOpIsEPERM) {
  // As root: otherwise the directory's mode (0755, root's) refuses first.
  if (geteuid() != 0) GTEST_SKIP() << "needs root (permission on /dev/pts is checked first)";
  struct stat st;
  if (stat("/dev/pts", &st) != 0) GTEST_SKIP() << "no /dev/pts";
  const char* path = "/dev/pts/runsc_no_such_name";
  EXPECT_EQ(Errno(open(path, O_CREAT | O_WRONLY, 0644)), EACCES);
  EXPECT_EQ(Errno(mknod(path, S_IFREG | 0644, 0)), EACCES);
  EXPECT_EQ(Errno(mkdir(path, 0755)), EPERM);
  EXPECT_EQ(Errno(mkfifo(path, 0644)), EPERM);
  EXPECT_EQ(Errno(symlink("/", path)), EPERM);
  EXPECT_EQ(Errno(access(path, F_OK)), ENOENT);
}

}  // namespace
