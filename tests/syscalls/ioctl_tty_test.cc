// ioctl(2) terminal requests. The non-tty cases always run; the tty cases
// skip unless stdin is a terminal (under meson it usually is not).
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

#include "util.h"

namespace syscall_test {
namespace {

TEST(IoctlTty, TcgetsOnPipeFailsWithEnotty) {
  Pipe p = MakePipe();
  struct termios t;
  EXPECT_THAT(Sys(SYS_ioctl, p.read_end.get(), TCGETS, &t), FailsWith(ENOTTY));
}

TEST(IoctlTty, TiocgwinszOnRegularFileFailsWithEnotty) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  struct winsize ws;
  EXPECT_THAT(Sys(SYS_ioctl, fd.get(), TIOCGWINSZ, &ws), FailsWith(ENOTTY));
}

TEST(IoctlTty, BadFdFailsWithEbadf) {
  struct termios t;
  EXPECT_THAT(Sys(SYS_ioctl, -1, TCGETS, &t), FailsWith(EBADF));
}

TEST(IoctlTty, FionreadOnPipeCountsQueuedBytes) {
  Pipe p = MakePipe();
  ASSERT_EQ(write(p.write_end.get(), "hello", 5), 5);
  int n = -1;
  ASSERT_THAT(Sys(SYS_ioctl, p.read_end.get(), FIONREAD, &n), Succeeds());
  EXPECT_EQ(n, 5);
}

TEST(IoctlTty, FioclexSetsCloseOnExec) {
  Pipe p = MakePipe();
  ASSERT_THAT(Sys(SYS_ioctl, p.read_end.get(), FIOCLEX), Succeeds());
  EXPECT_EQ(fcntl(p.read_end.get(), F_GETFD), FD_CLOEXEC);
  ASSERT_THAT(Sys(SYS_ioctl, p.read_end.get(), FIONCLEX), Succeeds());
  EXPECT_EQ(fcntl(p.read_end.get(), F_GETFD), 0);
}

TEST(IoctlTty, IsattyIsFalseForPipe) {
  Pipe p = MakePipe();
  EXPECT_FALSE(isatty(p.read_end.get()));
}

class OnTty : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isatty(STDIN_FILENO)) GTEST_SKIP() << "stdin is not a tty";
  }
};

TEST_F(OnTty, TcgetsOnStdinSucceeds) {
  struct termios t;
  EXPECT_THAT(Sys(SYS_ioctl, STDIN_FILENO, TCGETS, &t), Succeeds());
}

TEST_F(OnTty, TcsetsRoundTripsSettings) {
  struct termios t, got;
  ASSERT_EQ(tcgetattr(STDIN_FILENO, &t), 0);
  ASSERT_EQ(tcsetattr(STDIN_FILENO, TCSANOW, &t), 0);
  ASSERT_EQ(tcgetattr(STDIN_FILENO, &got), 0);
  EXPECT_EQ(got.c_lflag, t.c_lflag);
  EXPECT_EQ(got.c_iflag, t.c_iflag);
}

TEST_F(OnTty, TiocgwinszOnStdinSucceeds) {
  struct winsize ws;
  EXPECT_THAT(Sys(SYS_ioctl, STDIN_FILENO, TIOCGWINSZ, &ws), Succeeds());
}

TEST_F(OnTty, TiocgpgrpGivesForegroundGroup) {
  pid_t pgrp = -1;
  EXPECT_THAT(Sys(SYS_ioctl, STDIN_FILENO, TIOCGPGRP, &pgrp), Succeeds());
  EXPECT_GT(pgrp, 0);
}

TEST_F(OnTty, TcgetsToBadPointerFailsWithEfault) {
  EXPECT_THAT(Sys(SYS_ioctl, STDIN_FILENO, TCGETS, UnmappedAddress()), FailsWith(EFAULT));
}

}  // namespace
}  // namespace syscall_test
