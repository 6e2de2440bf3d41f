// Named pipes: mkfifo/mknod(S_IFIFO) on tmpfs, open's blocking rules
// (fs/pipe.c fifo_open), poll/epoll, and that a FIFO is a pipe once open.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

// A fresh directory on /tmp (tmpfs in the sandbox) holding one FIFO.
class FifoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fifo_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << strerror(errno);
    dir_ = tmpl;
    path_ = dir_ + "/f";
    ASSERT_THAT(Libc(mkfifo(path_.c_str(), 0640)), Succeeds());
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(FifoTest, StatShowsAFifoWithTheGivenMode) {
  const mode_t mask = umask(0);
  umask(mask);
  struct stat st;
  ASSERT_THAT(Libc(stat(path_.c_str(), &st)), Succeeds());
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_THAT(st.st_mode & 07777, Eq(0640 & ~mask));
  EXPECT_THAT(st.st_size, Eq(0));
}

TEST_F(FifoTest, MknodMakesAFifoToo) {
  const std::string p = dir_ + "/g";
  ASSERT_THAT(Libc(mknod(p.c_str(), S_IFIFO | 0600, 0)), Succeeds());
  struct stat st;
  ASSERT_THAT(Libc(lstat(p.c_str(), &st)), Succeeds());
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_THAT(Libc(mkfifo(p.c_str(), 0600)), FailsWith(EEXIST));
  ASSERT_THAT(Libc(unlink(p.c_str())), Succeeds());
}

TEST_F(FifoTest, NonblockingReaderOpensAloneAndReadsEof) {
  Fd r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_GE(r.get(), 0) << strerror(errno);
  char c;
  EXPECT_THAT(read(r.get(), &c, 1), Eq(0));
  // No writer has come and gone since the open: no POLLHUP (pipe_poll).
  struct pollfd p = {r.get(), POLLIN, 0};
  EXPECT_THAT(poll(&p, 1, 0), Eq(0));
}

TEST_F(FifoTest, NonblockingWriterWithoutReaderIsEnxio) {
  EXPECT_THAT(Libc(open(path_.c_str(), O_WRONLY | O_NONBLOCK)), FailsWith(ENXIO));
}

TEST_F(FifoTest, NonblockingWriterWithReaderCarriesData) {
  Fd r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_GE(r.get(), 0) << strerror(errno);
  Fd w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
  ASSERT_GE(w.get(), 0) << strerror(errno);
  ASSERT_THAT(write(w.get(), "hello", 5), Eq(5));
  char buf[8] = {};
  ASSERT_THAT(read(r.get(), buf, sizeof(buf)), Eq(5));
  EXPECT_STREQ(buf, "hello");
  // Both ends show the FIFO inode itself.
  struct stat st, sr, sw;
  ASSERT_THAT(Libc(stat(path_.c_str(), &st)), Succeeds());
  ASSERT_THAT(Libc(fstat(r.get(), &sr)), Succeeds());
  ASSERT_THAT(Libc(fstat(w.get(), &sw)), Succeeds());
  EXPECT_TRUE(S_ISFIFO(sr.st_mode));
  EXPECT_THAT(sr.st_ino, Eq(st.st_ino));
  EXPECT_THAT(sw.st_ino, Eq(st.st_ino));
  EXPECT_THAT(sr.st_dev, Eq(st.st_dev));
  // A pipe: lseek is ESPIPE, F_GETPIPE_SZ works.
  EXPECT_THAT(Libc(lseek(r.get(), 0, SEEK_CUR)), FailsWith(ESPIPE));
  EXPECT_THAT(fcntl(r.get(), F_GETPIPE_SZ), Eq(65536));
}

TEST_F(FifoTest, ReadWriteOpenNeverBlocks) {
  Fd rw(open(path_.c_str(), O_RDWR));
  ASSERT_GE(rw.get(), 0) << strerror(errno);
  ASSERT_THAT(write(rw.get(), "xy", 2), Eq(2));
  char buf[4] = {};
  ASSERT_THAT(read(rw.get(), buf, sizeof(buf)), Eq(2));
  EXPECT_STREQ(buf, "xy");
}

TEST_F(FifoTest, DataIsDroppedWhenTheLastEndCloses) {
  {
    Fd rw(open(path_.c_str(), O_RDWR));
    ASSERT_GE(rw.get(), 0);
    ASSERT_THAT(write(rw.get(), "stale", 5), Eq(5));
  }
  Fd rw(open(path_.c_str(), O_RDWR | O_NONBLOCK));
  ASSERT_GE(rw.get(), 0);
  char c;
  EXPECT_THAT(Libc(read(rw.get(), &c, 1)), FailsWith(EAGAIN));
}

// A blocking reader and a blocking writer in two processes: each open
// waits for the other, whichever comes first.
TEST_F(FifoTest, BlockingOpensWaitForEachOther) {
  for (int writer_first = 0; writer_first < 2; ++writer_first) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    const bool child_writes = writer_first == 0;
    if (pid == 0) {
      const int fd = open(path_.c_str(), child_writes ? O_WRONLY : O_RDONLY);
      if (fd < 0) _exit(10);
      if (child_writes) {
        _exit(write(fd, "ping", 4) == 4 ? 0 : 11);
      }
      char buf[8] = {};
      if (read(fd, buf, sizeof(buf)) != 4 || std::string(buf) != "pong") _exit(12);
      _exit(0);
    }
    Fd fd(open(path_.c_str(), child_writes ? O_RDONLY : O_WRONLY));
    ASSERT_GE(fd.get(), 0) << strerror(errno);
    if (child_writes) {
      char buf[8] = {};
      EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), Eq(4));
      EXPECT_STREQ(buf, "ping");
      EXPECT_THAT(read(fd.get(), buf, sizeof(buf)), Eq(0));  // the writer left
    } else {
      EXPECT_THAT(write(fd.get(), "pong", 4), Eq(4));
    }
    int status = 0;
    ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

void OnAlarm(int) {}

// The blocking open is interruptible: a handler without SA_RESTART makes it
// fail with EINTR.
TEST_F(FifoTest, BlockingOpenIsInterruptedBySignal) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = OnAlarm;
  ASSERT_THAT(Libc(sigaction(SIGALRM, &sa, &old)), Succeeds());
  struct itimerval it = {};
  it.it_value.tv_usec = 50000;
  ASSERT_THAT(Libc(setitimer(ITIMER_REAL, &it, nullptr)), Succeeds());
  EXPECT_THAT(Libc(open(path_.c_str(), O_RDONLY)), FailsWith(EINTR));
  it = {};
  setitimer(ITIMER_REAL, &it, nullptr);
  sigaction(SIGALRM, &old, nullptr);
}

TEST_F(FifoTest, PollAndEpollSeeReadinessAndHangup) {
  Fd r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_GE(r.get(), 0);
  Fd w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
  ASSERT_GE(w.get(), 0);
  struct pollfd p[2] = {{r.get(), POLLIN, 0}, {w.get(), POLLOUT, 0}};
  ASSERT_THAT(poll(p, 2, 0), Eq(1));
  EXPECT_THAT(p[0].revents, Eq(0));
  EXPECT_THAT(p[1].revents, Eq(POLLOUT));

  Fd ep(epoll_create1(0));
  ASSERT_GE(ep.get(), 0);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = r.get();
  ASSERT_THAT(Libc(epoll_ctl(ep.get(), EPOLL_CTL_ADD, r.get(), &ev)), Succeeds());
  struct epoll_event out[2];
  EXPECT_THAT(epoll_wait(ep.get(), out, 2, 0), Eq(0));
  ASSERT_THAT(write(w.get(), "z", 1), Eq(1));
  ASSERT_THAT(epoll_wait(ep.get(), out, 2, 0), Eq(1));
  EXPECT_THAT(out[0].events, Eq(static_cast<uint32_t>(EPOLLIN)));
  EXPECT_THAT(out[0].data.fd, Eq(r.get()));

  w.Reset();  // the writer goes: the reader hangs up after the data
  p[0].revents = 0;
  ASSERT_THAT(poll(p, 1, 0), Eq(1));
  EXPECT_THAT(p[0].revents, Eq(POLLIN | POLLHUP));
  char c;
  ASSERT_THAT(read(r.get(), &c, 1), Eq(1));
  p[0].revents = 0;
  ASSERT_THAT(poll(p, 1, 0), Eq(1));
  EXPECT_THAT(p[0].revents, Eq(POLLHUP));
}

TEST_F(FifoTest, WriterWithoutReaderGetsEpipe) {
  Fd r(open(path_.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_GE(r.get(), 0);
  Fd w(open(path_.c_str(), O_WRONLY | O_NONBLOCK));
  ASSERT_GE(w.get(), 0);
  r.Reset();
  signal(SIGPIPE, SIG_IGN);
  EXPECT_THAT(Libc(write(w.get(), "a", 1)), FailsWith(EPIPE));
  struct pollfd p = {w.get(), POLLOUT, 0};
  ASSERT_THAT(poll(&p, 1, 0), Eq(1));
  EXPECT_TRUE(p.revents & POLLERR);
  signal(SIGPIPE, SIG_DFL);
}

}  // namespace
}  // namespace syscall_test
