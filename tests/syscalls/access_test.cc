// access(2), faccessat(2), faccessat2(2).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "util.h"

#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

namespace syscall_test {
namespace {

TEST(Access, ExistingFileIsReadable) {
  EXPECT_THAT(Sys(SYS_access, "/etc/passwd", R_OK), Succeeds());
  EXPECT_THAT(Sys(SYS_access, "/etc/passwd", F_OK), Succeeds());
}

TEST(Access, ExecutableIsExecutable) {
  EXPECT_THAT(Sys(SYS_access, "/usr/bin/env", X_OK), Succeeds());
  EXPECT_THAT(Sys(SYS_access, "/", X_OK), Succeeds());
}

TEST(Access, FileWithoutExecBitsIsNotExecutableEvenForRoot) {
  struct stat st;
  ASSERT_EQ(stat("/etc/passwd", &st), 0);
  if (st.st_mode & 0111) GTEST_SKIP() << "/etc/passwd has an exec bit on this host";
  EXPECT_THAT(Sys(SYS_access, "/etc/passwd", X_OK), FailsWith(EACCES));
}

TEST(Access, MissingFileFailsWithEnoent) {
  EXPECT_THAT(Sys(SYS_access, "/nonexistent-for-tests", F_OK), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_access, "", F_OK), FailsWith(ENOENT));
}

TEST(Access, FileUsedAsDirectoryFailsWithEnotdir) {
  EXPECT_THAT(Sys(SYS_access, "/etc/passwd/x", F_OK), FailsWith(ENOTDIR));
}

TEST(Access, UnknownModeBitFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_access, "/etc/passwd", 0x10), FailsWith(EINVAL));
}

TEST(Access, BadPathPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_access, UnmappedAddress(), F_OK), FailsWith(EFAULT));
}

TEST(Faccessat, RelativeToDirFd) {
  Fd dir(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(dir.get(), 0);
  EXPECT_THAT(Sys(SYS_faccessat, dir.get(), "passwd", R_OK), Succeeds());
}

TEST(Faccessat, BadDirFdFailsWithEbadf) {
  EXPECT_THAT(Sys(SYS_faccessat, -5, "passwd", R_OK), FailsWith(EBADF));
}

TEST(Faccessat2, UnknownFlagFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_faccessat2, AT_FDCWD, "/etc/passwd", R_OK, 0x1), FailsWith(EINVAL));
}

TEST(Faccessat2, SymlinkNofollowChecksTheLink) {
  if (BinSymlinkTarget().empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  EXPECT_THAT(Sys(SYS_faccessat2, AT_FDCWD, "/bin", F_OK, AT_SYMLINK_NOFOLLOW), Succeeds());
}

TEST(Faccessat2, EmptyPathWithFlagChecksTheFd) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_faccessat2, fd.get(), "", R_OK, AT_EMPTY_PATH), Succeeds());
}

}  // namespace
}  // namespace syscall_test
