// Advisory locks: fcntl record locks, OFD locks and flock (fs/locks.c).
// Who owns a lock decides when it goes: a POSIX lock belongs to the
// process (its fd table) and dies with any close of the file by it or its
// exit; OFD and flock locks belong to the open file description and die with
// its last reference (dup, fork). Other processes are fork()ed children.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util.h"

namespace syscall_test {
namespace {

struct flock Lock(short type, off_t start, off_t len, short whence = SEEK_SET) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = whence;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

// Waits for `pid` and returns its exit code, or 128+N if killed by signal N.
int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// Runs `fn` in a forked child and returns its exit code (see Reap).
template <typename F>
int InChild(F fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid < 0 ? -1 : Reap(pid);
}

void SendByte(int fd) {
  const char c = 'x';
  (void)!write(fd, &c, 1);
}
bool ReadByte(int fd) {
  char c;
  return read(fd, &c, 1) == 1;
}

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

  Fd Open(int flags = O_RDWR) const { return Fd(open(path_.c_str(), flags)); }

  // The type another process sees at [start, start+len) through its own
  // open of the file, as F_GETLK of a write lock: F_UNLCK if free.
  int TypeSeenByChild(off_t start, off_t len) const {
    return InChild([&] {
      Fd fd(open(path_.c_str(), O_RDWR));
      struct flock q = Lock(F_WRLCK, start, len);
      if (fcntl(fd.get(), F_GETLK, &q) != 0) return 99;
      return static_cast<int>(q.l_type);
    });
  }

  std::string path_;
  Fd a_, b_;
};

// ---- POSIX record locks

TEST_F(Locks, PosixLocksOfOneProcessNeverConflict) {
  struct flock w = Lock(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  struct flock w2 = Lock(F_WRLCK, 5, 10);
  EXPECT_EQ(fcntl(b_.get(), F_SETLK, &w2), 0);
  struct flock q = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_UNLCK);
}

TEST_F(Locks, ChildSeesParentsPosixLockWithItsPid) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  const pid_t parent = getpid();
  EXPECT_EQ(InChild([&] {
              struct flock q = Lock(F_RDLCK, 100, 1);
              if (fcntl(a_.get(), F_GETLK, &q) != 0) return 1;
              if (q.l_type != F_WRLCK || q.l_pid != parent || q.l_start != 0 || q.l_len != 0) return 2;
              struct flock r = Lock(F_RDLCK, 100, 1);
              if (fcntl(a_.get(), F_SETLK, &r) != -1 || errno != EAGAIN) return 3;
              return 0;
            }),
            0);
}

TEST_F(Locks, ReadLocksOfTwoProcessesShareAndBlockWriters) {
  struct flock r = Lock(F_RDLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &r), 0);
  EXPECT_EQ(InChild([&] {
              struct flock r2 = Lock(F_RDLCK, 5, 10);
              if (fcntl(b_.get(), F_SETLK, &r2) != 0) return 1;
              struct flock w = Lock(F_WRLCK, 9, 1);
              if (fcntl(b_.get(), F_SETLK, &w) != -1 || errno != EAGAIN) return 2;
              struct flock w2 = Lock(F_WRLCK, 10, 5);  // past the parent's range
              return fcntl(b_.get(), F_SETLK, &w2) == 0 ? 0 : 3;
            }),
            0);
}

TEST_F(Locks, AdjacentLocksOfOneTypeMerge) {
  struct flock w1 = Lock(F_WRLCK, 0, 10);
  struct flock w2 = Lock(F_WRLCK, 10, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w1), 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w2), 0);
  // F_OFD_GETLK through another description sees this process's POSIX lock
  // (OFD and POSIX owners differ), as one merged range.
  struct flock q = Lock(F_RDLCK, 0, 0);
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_start, 0);
  EXPECT_EQ(q.l_len, 20);
  EXPECT_EQ(q.l_pid, getpid());
}

TEST_F(Locks, ADifferentTypeSplitsTheOwnersLock) {
  struct flock w = Lock(F_WRLCK, 0, 30);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  struct flock r = Lock(F_RDLCK, 10, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &r), 0);
  struct flock q = Lock(F_WRLCK, 10, 20);
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_RDLCK);
  EXPECT_EQ(q.l_start, 10);
  EXPECT_EQ(q.l_len, 10);
  struct flock q2 = Lock(F_RDLCK, 10, 20);  // read vs read: only the write tail conflicts
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q2), 0);
  EXPECT_EQ(q2.l_type, F_WRLCK);
  EXPECT_EQ(q2.l_start, 20);
  EXPECT_EQ(q2.l_len, 10);
}

TEST_F(Locks, WhenceAndNegativeLengthsPlaceTheRange) {
  ASSERT_EQ(ftruncate(a_.get(), 50), 0);
  ASSERT_EQ(lseek(a_.get(), 100, SEEK_SET), 100);
  struct flock cur = Lock(F_WRLCK, -10, 5, SEEK_CUR);  // [90, 95)
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &cur), 0);
  struct flock neg = Lock(F_WRLCK, 30, -10);  // [20, 30)
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &neg), 0);
  struct flock end = Lock(F_WRLCK, 150, 0, SEEK_END);  // [200, EOF...)
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &end), 0);
  struct {
    off_t probe, start, len;
  } const want[] = {{92, 90, 5}, {25, 20, 10}, {1000000, 200, 0}};
  for (const auto& w : want) {
    struct flock q = Lock(F_RDLCK, w.probe, 1);
    ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q), 0);
    EXPECT_EQ(q.l_type, F_WRLCK) << w.probe;
    EXPECT_EQ(q.l_whence, SEEK_SET);
    EXPECT_EQ(q.l_start, w.start) << w.probe;
    EXPECT_EQ(q.l_len, w.len) << w.probe;
  }
  struct flock gap = Lock(F_WRLCK, 30, 60);  // [30, 90) is free
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &gap), 0);
  EXPECT_EQ(gap.l_type, F_UNLCK);
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

TEST_F(Locks, CloseOfAnotherOpenDropsTheProcessesPosixLocks) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  ASSERT_EQ(TypeSeenByChild(0, 0), F_WRLCK);
  b_ = Fd();  // closing any fd of the file releases them (POSIX)
  EXPECT_EQ(TypeSeenByChild(0, 0), F_UNLCK);
}

TEST_F(Locks, CloseOfADupDropsPosixLocks) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  const int d = dup(a_.get());
  ASSERT_GE(d, 0);
  ASSERT_EQ(close(d), 0);
  EXPECT_EQ(TypeSeenByChild(0, 0), F_UNLCK);
}

TEST_F(Locks, Dup2OverAnFdOfTheFileDropsPosixLocks) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  Pipe p = MakePipe();
  ASSERT_EQ(dup2(p.read_end.get(), b_.get()), b_.get());
  EXPECT_EQ(TypeSeenByChild(0, 0), F_UNLCK);
}

TEST_F(Locks, CloseOfAnOPathFdKeepsPosixLocks) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  Fd p = Open(O_PATH);
  ASSERT_GE(p.get(), 0);
  p = Fd();  // filp_close skips locks_remove_posix for O_PATH files
  EXPECT_EQ(TypeSeenByChild(0, 0), F_WRLCK);
}

TEST_F(Locks, ChildsCloseOfItsCopyKeepsTheParentsLock) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  // The child's fd table is its own: its closes and exit drop only its locks.
  ASSERT_EQ(InChild([&] {
              close(a_.get());
              close(b_.get());
              return 0;
            }),
            0);
  EXPECT_EQ(TypeSeenByChild(0, 0), F_WRLCK);
}

TEST_F(Locks, ChildExitReleasesItsLocksAndWakesAWaiter) {
  Pipe locked = MakePipe(), go = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock w = Lock(F_WRLCK, 0, 0);
    if (fcntl(b_.get(), F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    ReadByte(go.read_end.get());
    _exit(0);  // no unlock, no close: exit drops the lock
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  struct flock q = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_GETLK, &q), 0);
  EXPECT_EQ(q.l_pid, child);
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &w), FailsWith(EAGAIN));
  SendByte(go.write_end.get());
  EXPECT_EQ(fcntl(a_.get(), F_SETLKW, &w), 0);  // woken by the exit, before the reap
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, KilledChildReleasesItsLocks) {
  Pipe locked = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock w = Lock(F_WRLCK, 0, 0);
    if (fcntl(b_.get(), F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    while (true) pause();
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_EQ(fcntl(a_.get(), F_SETLKW, &w), 0);
  EXPECT_EQ(Reap(child), 128 + SIGKILL);
}

TEST_F(Locks, ExecDropsLocksTakenThroughCloseOnExecFds) {
  Pipe locked = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
    struct flock w = Lock(F_WRLCK, 0, 0);
    if (fd < 0 || fcntl(fd, F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(2);
  }
  // Once the child holds the lock (else the parent could take it first),
  // waits until it is gone: at its exec, while it sleeps.
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_SETLKW, &w), 0);
  EXPECT_EQ(waitpid(child, nullptr, WNOHANG), 0) << "the lock went only with the process";
  kill(child, SIGKILL);
  Reap(child);
}

TEST_F(Locks, SetlkwWaitsForAnUnlock) {
  Pipe locked = MakePipe(), go = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock w = Lock(F_WRLCK, 10, 10);
    if (fcntl(b_.get(), F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    ReadByte(go.read_end.get());
    struct flock r = Lock(F_RDLCK, 10, 10);  // downgrade: readers may come in
    if (fcntl(b_.get(), F_SETLK, &r) != 0) _exit(2);
    ReadByte(go.read_end.get());
    _exit(0);
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  SendByte(go.write_end.get());
  struct flock r = Lock(F_RDLCK, 15, 1);
  EXPECT_EQ(fcntl(a_.get(), F_SETLKW, &r), 0);
  SendByte(go.write_end.get());
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, TwoProcessesWaitingForEachOtherGetEdeadlk) {
  // Each holds one byte and waits for the other's. Whichever asks second
  // closes the cycle and gets EDEADLK; it then lets go, so the first gets
  // its lock. Exactly one EDEADLK, whatever the order.
  // The parent's byte is locked before the fork (locks are not inherited):
  // else the child could take both and be gone before the parent asks.
  Pipe locked = MakePipe();
  struct flock mine = Lock(F_WRLCK, 0, 1);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &mine), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock mine = Lock(F_WRLCK, 1, 1);
    if (fcntl(b_.get(), F_SETLK, &mine) != 0) _exit(10);
    SendByte(locked.write_end.get());
    struct flock theirs = Lock(F_WRLCK, 0, 1);
    if (fcntl(b_.get(), F_SETLKW, &theirs) == 0) _exit(0);
    if (errno != EDEADLK) _exit(11);
    struct flock un = Lock(F_UNLCK, 1, 1);
    fcntl(b_.get(), F_SETLK, &un);
    _exit(1);
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  struct flock theirs = Lock(F_WRLCK, 1, 1);
  const SyscallResult r = Sys(SYS_fcntl, a_.get(), F_SETLKW, &theirs);
  if (r.ret == -1) {
    EXPECT_EQ(r.err, EDEADLK);
    struct flock un = Lock(F_UNLCK, 0, 1);
    ASSERT_EQ(fcntl(a_.get(), F_SETLK, &un), 0);
    EXPECT_EQ(Reap(child), 0) << "the child should have got the lock";
  } else {
    EXPECT_EQ(Reap(child), 1) << "the child should have got EDEADLK";
  }
}

TEST_F(Locks, AnUnlockedWaiterIsNoLongerSeenWaiting) {
  // The child waits behind the parent's lock on byte 0 while holding byte
  // 1. The parent unlocks byte 0 and at once waits for byte 1: the child is
  // no longer blocked by the parent, so this is no deadlock (Linux drops a
  // waiter from the wait-for graph when its blocker's lock changes).
  struct flock first = Lock(F_WRLCK, 0, 1);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &first), 0);
  Pipe locked = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock mine = Lock(F_WRLCK, 1, 1);
    if (fcntl(b_.get(), F_SETLK, &mine) != 0) _exit(1);
    SendByte(locked.write_end.get());
    struct flock theirs = Lock(F_WRLCK, 0, 1);
    if (fcntl(b_.get(), F_SETLKW, &theirs) != 0) _exit(2);
    _exit(0);  // releases both
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  usleep(50000);  // makes it likely (not necessary) that the child waits by now
  struct flock un = Lock(F_UNLCK, 0, 1);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &un), 0);
  struct flock second = Lock(F_WRLCK, 1, 1);
  EXPECT_EQ(fcntl(a_.get(), F_SETLKW, &second), 0) << strerror(errno);
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, SetlkwWithoutSaRestartFailsWithEintr) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  Pipe locked = MakePipe();
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock w = Lock(F_WRLCK, 0, 0);
    if (fcntl(b_.get(), F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    // Until killed: a signal that comes before the wait only runs the handler.
    while (true) {
      kill(parent, SIGUSR1);
      usleep(20000);
    }
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLKW, &w), FailsWith(EINTR));
  kill(child, SIGKILL);
  Reap(child);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST_F(Locks, SetlkwIsRestartedUnderSaRestart) {
  static std::atomic<int> handled;
  handled = 0;
  struct sigaction sa {};
  sa.sa_handler = [](int) { handled++; };
  sa.sa_flags = SA_RESTART;
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  Pipe locked = MakePipe();
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct flock w = Lock(F_WRLCK, 0, 0);
    if (fcntl(b_.get(), F_SETLK, &w) != 0) _exit(1);
    SendByte(locked.write_end.get());
    for (int i = 0; i < 10; ++i) {
      kill(parent, SIGUSR1);
      usleep(20000);
    }
    _exit(0);
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_EQ(fcntl(a_.get(), F_SETLKW, &w), 0);
  EXPECT_GT(handled.load(), 0);
  EXPECT_EQ(Reap(child), 0);
  sigaction(SIGUSR1, &old, nullptr);
}

// ---- OFD locks

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
  struct flock p = Lock(F_RDLCK, 0, 0);  // F_GETLK reports OFD holders as -1 too
  ASSERT_EQ(fcntl(b_.get(), F_GETLK, &p), 0);
  EXPECT_EQ(p.l_pid, -1);
  struct flock u = Lock(F_UNLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &u), 0);
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &w2), 0);
}

TEST_F(Locks, OfdAndPosixLocksOfOneProcessConflict) {
  struct flock w = Lock(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &w), 0);
  EXPECT_THAT(Sys(SYS_fcntl, b_.get(), F_OFD_SETLK, &w), FailsWith(EAGAIN));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_OFD_SETLK, &w), FailsWith(EAGAIN));
}

TEST_F(Locks, OfdLockSurvivesCloseOfOtherFdsAndGoesWithTheLastReference) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &w), 0);
  Fd other = Open();
  other = Fd();  // another open of the file
  Fd d(dup(a_.get()));
  d = Fd();      // a dup of the locking fd: the description lives on
  EXPECT_THAT(Sys(SYS_fcntl, b_.get(), F_OFD_SETLK, &w), FailsWith(EAGAIN));
  EXPECT_EQ(TypeSeenByChild(0, 0), F_WRLCK);
  a_ = Fd();
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &w), 0);
}

TEST_F(Locks, OfdLockIsSharedWithAForkedChild) {
  struct flock w = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &w), 0);
  Pipe go = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Same description, same owner: the child may change the lock.
    struct flock r = Lock(F_RDLCK, 0, 0);
    if (fcntl(a_.get(), F_OFD_SETLK, &r) != 0) _exit(1);
    ReadByte(go.read_end.get());
    _exit(0);
  }
  a_ = Fd();  // the child still holds the description
  EXPECT_THAT(Sys(SYS_fcntl, b_.get(), F_OFD_SETLK, &w), FailsWith(EAGAIN));
  SendByte(go.write_end.get());
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLKW, &w), 0);  // woken by the child's exit
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, OfdGetlkOfUnlockReportsTheDescriptionsOwnLock) {
  struct flock w = Lock(F_WRLCK, 5, 10);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_SETLK, &w), 0);
  struct flock q = Lock(F_UNLCK, 0, 0);
  ASSERT_EQ(fcntl(a_.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_start, 5);
  EXPECT_EQ(q.l_len, 10);
  EXPECT_EQ(q.l_pid, -1);
  struct flock q2 = Lock(F_UNLCK, 0, 0);
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q2), 0);
  EXPECT_EQ(q2.l_type, F_UNLCK);
}

// ---- Errors

TEST_F(Locks, BadArgumentsFailWithEinval) {
  struct flock bad = Lock(42, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &bad), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_GETLK, &bad), FailsWith(EINVAL));
  struct flock un = Lock(F_UNLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_GETLK, &un), FailsWith(EINVAL));
  struct flock whence = Lock(F_WRLCK, 0, 0, 7);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &whence), FailsWith(EINVAL));
  struct flock before0 = Lock(F_WRLCK, -1, 1);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &before0), FailsWith(EINVAL));
  struct flock neg = Lock(F_WRLCK, 5, -10);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &neg), FailsWith(EINVAL));
  struct flock pid = Lock(F_WRLCK, 0, 0);
  pid.l_pid = getpid();  // OFD requests need l_pid 0
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_OFD_SETLK, &pid), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_OFD_GETLK, &pid), FailsWith(EINVAL));
}

TEST_F(Locks, RangesPastOffsetMaxFailWithEoverflow) {
  struct flock big = Lock(F_WRLCK, 0x7fffffffffffff00, 0x1000);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &big), FailsWith(EOVERFLOW));
  ASSERT_EQ(ftruncate(a_.get(), 10), 0);
  struct flock end = Lock(F_WRLCK, 0x7ffffffffffffff8, 1, SEEK_END);
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, &end), FailsWith(EOVERFLOW));
  struct flock to_max = Lock(F_WRLCK, 0x7fffffffffffff00, 0x100);  // ends exactly at OFFSET_MAX
  ASSERT_EQ(fcntl(a_.get(), F_SETLK, &to_max), 0);
  struct flock q = Lock(F_RDLCK, 0, 0);
  ASSERT_EQ(fcntl(b_.get(), F_OFD_GETLK, &q), 0);
  EXPECT_EQ(q.l_len, 0);  // reported as "to end of file"
}

TEST_F(Locks, LockTypeNeedsTheMatchingAccessMode) {
  Fd ro = Open(O_RDONLY), wo = Open(O_WRONLY);
  ASSERT_GE(ro.get(), 0);
  ASSERT_GE(wo.get(), 0);
  struct flock w = Lock(F_WRLCK, 0, 0), r = Lock(F_RDLCK, 0, 0), u = Lock(F_UNLCK, 0, 0);
  EXPECT_THAT(Sys(SYS_fcntl, ro.get(), F_SETLK, &w), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_fcntl, wo.get(), F_OFD_SETLK, &r), FailsWith(EBADF));
  EXPECT_EQ(fcntl(ro.get(), F_SETLK, &u), 0);
  struct flock q = Lock(F_WRLCK, 0, 0);  // F_GETLK needs no access mode
  EXPECT_EQ(fcntl(ro.get(), F_GETLK, &q), 0);
  Fd path = Open(O_PATH);
  EXPECT_THAT(Sys(SYS_fcntl, path.get(), F_GETLK, &q), FailsWith(EBADF));
}

TEST_F(Locks, BadPointersFailWithEfault) {
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLK, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_SETLKW, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_GETLK, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_fcntl, a_.get(), F_OFD_SETLK, nullptr), FailsWith(EFAULT));
}

// ---- flock(2)

TEST_F(Locks, FlockExclusiveBlocksASecondOpen) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_SH | LOCK_NB), FailsWith(EWOULDBLOCK));
  ASSERT_EQ(flock(a_.get(), LOCK_UN), 0);
  EXPECT_EQ(flock(b_.get(), LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(flock(a_.get(), LOCK_SH | LOCK_NB), 0);
}

TEST_F(Locks, FlockIsSharedByDupAndFork) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  Fd d(dup(a_.get()));
  a_ = Fd();  // the dup keeps the description, and the lock
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
  Pipe go = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (flock(d.get(), LOCK_EX | LOCK_NB) != 0) _exit(1);  // already its own
    ReadByte(go.read_end.get());
    _exit(0);
  }
  d = Fd();  // now only the child holds the description
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_SH | LOCK_NB), FailsWith(EWOULDBLOCK));
  SendByte(go.write_end.get());
  EXPECT_EQ(flock(b_.get(), LOCK_SH), 0);  // woken when the child's exit drops it
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, FlockUnlockThroughADupReleases) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  Fd d(dup(a_.get()));
  ASSERT_EQ(flock(d.get(), LOCK_UN), 0);
  EXPECT_EQ(flock(b_.get(), LOCK_EX | LOCK_NB), 0);
}

TEST_F(Locks, FlockConversionDropsTheOldLockFirst) {
  ASSERT_EQ(flock(a_.get(), LOCK_SH), 0);
  ASSERT_EQ(flock(b_.get(), LOCK_SH), 0);
  // The upgrade cannot be had while b shares; a's shared lock is gone anyway.
  EXPECT_THAT(Sys(SYS_flock, a_.get(), LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
  EXPECT_EQ(flock(b_.get(), LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(flock(b_.get(), LOCK_SH | LOCK_NB), 0);  // downgrade
  EXPECT_EQ(flock(a_.get(), LOCK_SH | LOCK_NB), 0);
}

TEST_F(Locks, FlockWaitIsWokenByTheHoldersUnlock) {
  Pipe locked = MakePipe(), go = MakePipe();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Fd own(open(path_.c_str(), O_RDONLY));
    if (flock(own.get(), LOCK_EX) != 0) _exit(1);
    SendByte(locked.write_end.get());
    ReadByte(go.read_end.get());
    if (flock(own.get(), LOCK_UN) != 0) _exit(2);
    ReadByte(go.read_end.get());
    _exit(0);
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  SendByte(go.write_end.get());
  EXPECT_EQ(flock(a_.get(), LOCK_EX), 0);
  SendByte(go.write_end.get());
  EXPECT_EQ(Reap(child), 0);
}

TEST_F(Locks, FlockWaitWithoutSaRestartFailsWithEintr) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  Pipe locked = MakePipe();
  const pid_t parent = getpid();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (flock(b_.get(), LOCK_EX) != 0) _exit(1);
    SendByte(locked.write_end.get());
    while (true) {
      kill(parent, SIGUSR1);
      usleep(20000);
    }
  }
  ASSERT_TRUE(ReadByte(locked.read_end.get()));
  Fd own = Open();
  EXPECT_THAT(Sys(SYS_flock, own.get(), LOCK_EX), FailsWith(EINTR));
  kill(child, SIGKILL);
  Reap(child);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST_F(Locks, FlockAndRecordLocksDoNotInteract) {
  ASSERT_EQ(flock(a_.get(), LOCK_EX), 0);
  struct flock w = Lock(F_WRLCK, 0, 0);
  EXPECT_EQ(fcntl(b_.get(), F_OFD_SETLK, &w), 0);
  EXPECT_THAT(Sys(SYS_flock, b_.get(), LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
}

TEST_F(Locks, FlockChecksTheOperationBeforeTheFd) {
  EXPECT_THAT(Sys(SYS_flock, a_.get(), 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_flock, a_.get(), LOCK_SH | LOCK_EX), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_flock, -1, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_flock, -1, LOCK_SH), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_flock, a_.get(), 32), Succeeds());  // LOCK_MAND: ignored
  Fd path = Open(O_PATH);
  EXPECT_THAT(Sys(SYS_flock, path.get(), LOCK_SH), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_flock, path.get(), LOCK_UN), FailsWith(EBADF));
}

}  // namespace
}  // namespace syscall_test
