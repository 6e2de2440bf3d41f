// Advisory locks: fcntl record locks, OFD locks and flock (fs/locks.c).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util.h"

namespace syscall_test {
namespace {

class Locks : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lock_test.XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    path_ = tmpl;
    a_ = Fd(fd);
    b_ = Fd(open(path_.c_str(), O_RDWR));
    ASSERT_GE(b_.get(), 0);
  }
  void TearDown() override { unlink(path_.c_str()); }

  static struct flock Lock(short type, off_t start, off_t len) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fl;
  }

  std::string path_;
  Fd a_, b_;
};

TEST_F(Locks, PosixLocksOfOneProcessNeverConflict) {
  struct flock w = Lock(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  struct flock w2 = Lock(F_WRLCK, 5, 10);
  EXPECT_EQ(fcntl(b_.get(), F_SETLK, &w2), 0);
  struct flock q = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_UNLCK);
}

TEST_F(Locks, OfdLocksOfTwoOpensConflict) {
  struct flock w = Lock(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &w), 0);
  struct flock w2 = Lock(F_RDLCK, 5, 1);
  EXPECT_THAT(Sys(SYS_fcntl, b_.get(), F_OFD_SETLK, &w2), FailsWith(EAGAIN));
  struct flock q = Lock(F_RDLCK, 0, 0);
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_start, 0);
  EXPECT_EQ(q.l_len, 10);
  EXPECT_EQ(q.l_pid, -1);
  struct flock u = Lock(F_UNLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &u), 0);
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &w2), 0);
}

TEST_F(Locks, UnlockSplitsARange) {
  struct flock w = Lock(F_WRLCK, 0, 30);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &w), 0);
  struct flock u = Lock(F_UNLCK, 10, 10);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &u), 0);
  struct flock mid = Lock(F_WRLCK, 12, 2);
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &mid), 0);
  struct flock tail = Lock(F_WRLCK, 25, 1);
  EXPECT_THAT(Sys(SYS_fcntl, b_.get(), F_OFD_SETLK, &tail), FailsWith(EAGAIN));
}

TEST_F(Locks, ChildSeesParentsPosixLockWithItsPid) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock q = Lock(F_RDLCK, 100, 1);
    if (fcntl(a_.get(), F_GETLK, &q) != 0) _exit(1);
    if (q.l_type != F_WRLCK || q.l_pid != parent) _exit(2);
    struct flock r = Lock(F_RDLCK, 100, 1);
    if (fcntl(a_.get(), F_SETLK, &r) != -1 || (errno != EAGAIN && errno != EACCES)) _exit(3);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(Locks, CloseDropsTheProcessesPosixLocks) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  b_ = Fd();  // closing any fd of the file releases them (POSIX)
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock q = Lock(F_WRLCK, 0, 0);
    if (fcntl(a_.get(), F_GETLK, &q) != 0) _exit(1);
    _exit(q.l_type == F_UNLCK ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(Locks, BadTypeAndGetlkOfUnlockFailWithEinval) {
  struct flock bad = Lock(42, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &bad), FailsWith(EINVAL));
  struct flock un = Lock(F_UNLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_GETLK, &un), FailsWith(EINVAL));
}

TEST_F(Locks, SetlkWithBadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, UnmappedAddress()), FailsWith(EFAULT));
}

TEST_F(Locks, WriteLockNeedsAWritableFile) {
  Fd ro(open(path_.c_str(), O_RDONLY));
  ASSERT_GE(ro.get(), 0);
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, ro.get(), F_SETLK, &w), FailsWith(EBADF));
}

TEST_F(Locks, FlockExclusiveBlocksASecondOpen) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_SH | LOCK_NB), FailsWith(EWOULDBLOCK));
  ASSERT_EQ(flock(a_.get(), LOCK_UN), 0);
  EXPECT_EQ(flock(b_.get(), LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(flock(a_.get(), LOCK_SH | LOCK_NB), 0);
}

TEST_F(Locks, FlockAndPosixLocksDoNotInteract) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &w), 0);
}

TEST_F(Locks, FlockUnknownOperationFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_flock, a_.get(), 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_flock, -1, LOCK_SH), FailsWith(EBADF));
}

}  // namespace
}  // namespace syscall_test
