// stat(2), lstat, fstat, fstatat/newfstatat and statx(2) on host files,
// /dev nodes and pipes.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "util.h"

namespace syscall_test {
namespace {

TEST(Stat, RegularFileHasRegularModeAndSize) {
  struct stat st;
  ASSERT_EQ(stat("/etc/passwd", &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_GT(st.st_size, 0);
  EXPECT_GE(st.st_nlink, 1u);
  EXPECT_GT(st.st_blksize, 0);
}

TEST(Stat, RootIsDirectoryAndDotDotOfRootIsRoot) {
  struct stat root, dotdot;
  ASSERT_EQ(stat("/", &root), 0);
  ASSERT_EQ(stat("/..", &dotdot), 0);
  EXPECT_TRUE(S_ISDIR(root.st_mode));
  EXPECT_EQ(root.st_ino, dotdot.st_ino);
  EXPECT_EQ(root.st_dev, dotdot.st_dev);
}

TEST(Stat, FstatMatchesStat) {
  struct stat a, b;
  ASSERT_EQ(stat("/etc/passwd", &a), 0);
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(fstat(fd.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_dev, b.st_dev);
  EXPECT_EQ(a.st_size, b.st_size);
  EXPECT_EQ(a.st_mode, b.st_mode);
}

TEST(Stat, LstatOfSymlinkIsLinkAndStatFollowsIt) {
  if (BinSymlinkTarget().empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  struct stat l, s;
  ASSERT_EQ(lstat("/bin", &l), 0);
  ASSERT_EQ(stat("/bin", &s), 0);
  EXPECT_TRUE(S_ISLNK(l.st_mode));
  EXPECT_EQ(l.st_size, static_cast<off_t>(BinSymlinkTarget().size()));
  EXPECT_TRUE(S_ISDIR(s.st_mode));
}

TEST(Stat, DevNullIsCharDeviceOneThree) {
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
}

TEST(Stat, FstatOfPipeIsFifo) {
  Pipe p = MakePipe();
  struct stat st;
  ASSERT_EQ(fstat(p.read_end.get(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(Stat, MissingFileFailsWithEnoent) {
  struct stat st;
  EXPECT_THAT(Sys(SYS_stat, "/nonexistent-for-tests", &st), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_stat, "", &st), FailsWith(ENOENT));
}

TEST(Stat, FileUsedAsDirectoryFailsWithEnotdir) {
  struct stat st;
  EXPECT_THAT(Sys(SYS_stat, "/etc/passwd/x", &st), FailsWith(ENOTDIR));
}

TEST(Stat, BadPathPointerFailsWithEfault) {
  struct stat st;
  EXPECT_THAT(Sys(SYS_stat, UnmappedAddress(), &st), FailsWith(EFAULT));
}

TEST(Stat, BadStatBufferFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_stat, "/etc/passwd", UnmappedAddress()), FailsWith(EFAULT));
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(Sys(SYS_fstat, fd.get(), UnmappedAddress()), FailsWith(EFAULT));
}

TEST(Stat, FstatOfBadFdFailsWithEbadf) {
  struct stat st;
  EXPECT_THAT(Sys(SYS_fstat, -1, &st), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_fstat, 1000000, &st), FailsWith(EBADF));
}

TEST(Stat, FstatatWithEmptyPathStatsTheFd) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat a, b;
  ASSERT_EQ(fstatat(fd.get(), "", &a, AT_EMPTY_PATH), 0);
  ASSERT_EQ(fstat(fd.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST(Stat, FstatatWithEmptyPathButNoFlagFailsWithEnoent) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct stat st;
  EXPECT_THAT(Sys(SYS_newfstatat, fd.get(), "", &st, 0), FailsWith(ENOENT));
}

TEST(Stat, FstatatWithUnknownFlagFailsWithEinval) {
  struct stat st;
  EXPECT_THAT(Sys(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0x1), FailsWith(EINVAL));
}

TEST(Stat, FstatatRelativeToDirFd) {
  Fd dir(open("/etc", O_RDONLY | O_DIRECTORY));
  ASSERT_GE(dir.get(), 0);
  struct stat a, b;
  ASSERT_EQ(fstatat(dir.get(), "passwd", &a, 0), 0);
  ASSERT_EQ(stat("/etc/passwd", &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST(Stat, FstatatWithSymlinkNofollowSeesLink) {
  if (BinSymlinkTarget().empty()) GTEST_SKIP() << "/bin is not a symlink on this host";
  struct stat st;
  ASSERT_EQ(fstatat(AT_FDCWD, "/bin", &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(Statx, BasicStatsMatchStat) {
  struct statx sx;
  struct stat st;
  ASSERT_EQ(statx(AT_FDCWD, "/etc/passwd", 0, STATX_BASIC_STATS, &sx), 0);
  ASSERT_EQ(stat("/etc/passwd", &st), 0);
  EXPECT_EQ(sx.stx_mask & STATX_BASIC_STATS, static_cast<unsigned>(STATX_BASIC_STATS));
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(static_cast<off_t>(sx.stx_size), st.st_size);
  EXPECT_EQ(sx.stx_mode, st.st_mode);
}

TEST(Statx, ReservedMaskBitFailsWithEinval) {
  struct statx sx;
  EXPECT_THAT(Sys(SYS_statx, AT_FDCWD, "/etc/passwd", 0, STATX__RESERVED, &sx),
              FailsWith(EINVAL));
}

TEST(Statx, UnknownFlagFailsWithEinval) {
  struct statx sx;
  EXPECT_THAT(Sys(SYS_statx, AT_FDCWD, "/etc/passwd", 0x80000000, STATX_BASIC_STATS, &sx),
              FailsWith(EINVAL));
}

// STATX_BTIME: a tmpfs file's birth time is when it was made, and is the
// same whether asked by path or by fd; a rootfs file (the gofer's, inside
// the sandbox) reports it consistently by path and fd too, or not at all.
TEST(Statx, BirthTimeIsCreationTimeAndTheSameByPathAndFd) {
  struct timespec before {}, after {};
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &before), 0);
  char path[] = "/dev/shm/stat_test_btime.XXXXXX";
  Fd fd(mkstemp(path));
  ASSERT_GE(fd.get(), 0);
  unlink(path);
  ASSERT_EQ(clock_gettime(CLOCK_REALTIME, &after), 0);
  struct statx by_fd {};
  ASSERT_THAT(Libc(statx(fd.get(), "", AT_EMPTY_PATH, STATX_BTIME, &by_fd)), Succeeds());
  ASSERT_TRUE(by_fd.stx_mask & STATX_BTIME);
  EXPECT_GE(by_fd.stx_btime.tv_sec, before.tv_sec);
  EXPECT_LE(by_fd.stx_btime.tv_sec, after.tv_sec);
  for (const char* p : {"/etc/passwd", "/usr/bin"}) {
    struct statx a {}, b {};
    ASSERT_THAT(Libc(statx(AT_FDCWD, p, 0, STATX_BTIME, &a)), Succeeds()) << p;
    Fd f(open(p, O_PATH));
    ASSERT_GE(f.get(), 0);
    ASSERT_THAT(Libc(statx(f.get(), "", AT_EMPTY_PATH, STATX_BTIME, &b)), Succeeds()) << p;
    EXPECT_EQ(a.stx_mask & STATX_BTIME, b.stx_mask & STATX_BTIME) << p;
    if (a.stx_mask & STATX_BTIME) {
      EXPECT_EQ(a.stx_btime.tv_sec, b.stx_btime.tv_sec) << p;
      EXPECT_EQ(a.stx_btime.tv_nsec, b.stx_btime.tv_nsec) << p;
    }
  }
}

// The root of a filesystem reports a birth time exactly when its other
// files do, by path and by fd. (The root of a read-only gofer mount, e.g.
// `runsc do --volume=H:S:ro`, once had none: its attributes came from the
// gofer's handshake; tests/unit/gofer/gofer_btime_test.cc covers that.)
TEST(Statx, RootHasBirthTimeLikeTheRestOfItsFilesystem) {
  struct statx root {}, etc {};
  ASSERT_THAT(Libc(statx(AT_FDCWD, "/", 0, STATX_BTIME | STATX_BASIC_STATS, &root)), Succeeds());
  ASSERT_THAT(Libc(statx(AT_FDCWD, "/etc", 0, STATX_BTIME | STATX_BASIC_STATS, &etc)), Succeeds());
  if (root.stx_dev_major != etc.stx_dev_major || root.stx_dev_minor != etc.stx_dev_minor) {
    GTEST_SKIP() << "/etc is another filesystem here";
  }
  EXPECT_EQ(root.stx_mask & STATX_BTIME, etc.stx_mask & STATX_BTIME);
  if (root.stx_mask & STATX_BTIME) {
    // The same by fd.
    Fd f(open("/", O_PATH | O_DIRECTORY));
    ASSERT_GE(f.get(), 0);
    struct statx by_fd {};
    ASSERT_THAT(Libc(statx(f.get(), "", AT_EMPTY_PATH, STATX_BTIME, &by_fd)), Succeeds());
    ASSERT_TRUE(by_fd.stx_mask & STATX_BTIME);
    EXPECT_EQ(by_fd.stx_btime.tv_sec, root.stx_btime.tv_sec);
    EXPECT_EQ(by_fd.stx_btime.tv_nsec, root.stx_btime.tv_nsec);
  }
}

}  // namespace
}  // namespace syscall_test
