// Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname, the line
// discipline (canonical reads, editing, echo, output processing, raw mode
// with VMIN/VTIME), window size, the controlling terminal and signals to
// the foreground process group.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "util.h"

namespace syscall_test {
namespace {

struct Pty {
  Fd master;
  Fd replica;
  std::string name;
};

Pty OpenPty() {
  Pty p;
  p.master = Fd(posix_openpt(O_RDWR | O_NOCTTY));
  EXPECT_GE(p.master.get(), 0) << strerror(errno);
  EXPECT_EQ(grantpt(p.master.get()), 0);
  EXPECT_EQ(unlockpt(p.master.get()), 0);
  const char* name = ptsname(p.master.get());
  EXPECT_NE(name, nullptr);
  if (name != nullptr) p.name = name;
  p.replica = Fd(open(p.name.c_str(), O_RDWR | O_NOCTTY));
  EXPECT_GE(p.replica.get(), 0) << p.name << ": " << strerror(errno);
  return p;
}

std::string ReadSome(int fd, size_t max = 256) {
  std::string buf(max, '\0');
  const ssize_t n = read(fd, buf.data(), buf.size());
  if (n < 0) return "<error " + std::to_string(errno) + ">";
  buf.resize(static_cast<size_t>(n));
  return buf;
}

void WriteAll(int fd, const std::string& s) { ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); }

// Reads what the master has queued (echoes, output) without blocking.
std::string DrainMaster(int fd) {
  std::string out;
  while (true) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0 || !(p.revents & POLLIN)) break;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// What a child waiting to be ended by a signal does: sleeps, at most 30 s,
// so that a signal that never comes fails the test (the child returns)
// instead of hanging it.
void WaitForTheSignal() {
  for (int i = 0; i < 600; ++i) usleep(50 * 1000);
}

TEST(Pty, PtsnameNamesReplicaWithTheMastersNumber) {
  Pty p = OpenPty();
  unsigned int n = 1234;
  ASSERT_THAT(Sys(SYS_ioctl, p.master.get(), TIOCGPTN, &n), Succeeds());
  EXPECT_EQ(p.name, "/dev/pts/" + std::to_string(n));
  struct stat st;
  ASSERT_EQ(fstat(p.replica.get(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(minor(st.st_rdev), n);
  EXPECT_TRUE(isatty(p.replica.get()));
  EXPECT_TRUE(isatty(p.master.get()));
  char name[64];
  ASSERT_EQ(ttyname_r(p.replica.get(), name, sizeof(name)), 0);
  EXPECT_EQ(std::string(name), p.name);
}

TEST(Pty, LockedReplicaCannotBeOpened) {
  Fd m(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_GE(m.get(), 0);
  int locked = 0;
  ASSERT_THAT(Sys(SYS_ioctl, m.get(), TIOCGPTLCK, &locked), Succeeds());
  EXPECT_EQ(locked, 1);
  const std::string name = ptsname(m.get());
  EXPECT_THAT(Sys(SYS_open, name.c_str(), O_RDWR | O_NOCTTY), FailsWith(EIO));
  ASSERT_EQ(unlockpt(m.get()), 0);
  Fd r(open(name.c_str(), O_RDWR | O_NOCTTY));
  EXPECT_GE(r.get(), 0);
}

TEST(Pty, TiocgptpeerOpensTheReplica) {
  Fd m(posix_openpt(O_RDWR | O_NOCTTY));
  ASSERT_GE(m.get(), 0);
  ASSERT_EQ(unlockpt(m.get()), 0);
  Fd r(static_cast<int>(syscall(SYS_ioctl, m.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY)));
  ASSERT_GE(r.get(), 0) << strerror(errno);
  WriteAll(r.get(), "x");
  EXPECT_EQ(ReadSome(m.get()), "x");
}

TEST(Pty, ReplicaIoctlsForMasterOnlyRequestsFailWithEnotty) {
  Pty p = OpenPty();
  unsigned int n;
  EXPECT_THAT(Sys(SYS_ioctl, p.replica.get(), TIOCGPTN, &n), FailsWith(ENOTTY));
}

TEST(Pty, CanonicalReadReturnsOneLineAtATime) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "ab\ncd\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "ab\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "cd\n");
}

TEST(Pty, CanonicalLineIsNotReadableUntilNewline) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "partial");
  struct pollfd pf = {p.replica.get(), POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 50), 0);
  int avail = -1;
  ASSERT_THAT(Sys(SYS_ioctl, p.replica.get(), FIONREAD, &avail), Succeeds());
  EXPECT_EQ(avail, 0);
  WriteAll(p.master.get(), "\n");
  EXPECT_EQ(poll(&pf, 1, 1000), 1);
  ASSERT_THAT(Sys(SYS_ioctl, p.replica.get(), FIONREAD, &avail), Succeeds());
  EXPECT_EQ(avail, 8);
  EXPECT_EQ(ReadSome(p.replica.get()), "partial\n");
}

TEST(Pty, EraseAndKillEditTheLine) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "abx\x7f\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "ab\n");
  WriteAll(p.master.get(), "junk\x15ok\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "ok\n");
}

TEST(Pty, VeofEndsLineAndOnEmptyLineReadsZero) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "ab\x04");
  EXPECT_EQ(ReadSome(p.replica.get()), "ab");
  WriteAll(p.master.get(), "\x04");
  EXPECT_EQ(ReadSome(p.replica.get()), "");
}

TEST(Pty, IcrnlTurnsCarriageReturnIntoNewline) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "a\r");
  EXPECT_EQ(ReadSome(p.replica.get()), "a\n");
}

TEST(Pty, IgncrDropsAndInlcrMaps) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  t.c_iflag |= IGNCR;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.master.get(), "a\rb\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "ab\n");
  t.c_iflag &= ~(IGNCR | ICRNL);
  t.c_iflag |= INLCR;
  t.c_lflag &= ~ICANON;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.master.get(), "x\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "x\r");
}

TEST(Pty, EchoShowsInputOnTheMasterWithOnlcr) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "hi\n");
  EXPECT_EQ(DrainMaster(p.master.get()), "hi\r\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "hi\n");
}

TEST(Pty, EchoctlShowsControlCharactersAsCaret) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "\x01\n");
  EXPECT_EQ(DrainMaster(p.master.get()), "^A\r\n");
}

TEST(Pty, NoEchoWithEchoOffButEchonlStillEchoesNewline) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  t.c_lflag &= ~ECHO;
  t.c_lflag |= ECHONL;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.master.get(), "secret\n");
  EXPECT_EQ(DrainMaster(p.master.get()), "\r\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "secret\n");
}

TEST(Pty, OutputNewlineBecomesCrNlUnlessOpostIsOff) {
  Pty p = OpenPty();
  WriteAll(p.replica.get(), "x\n");
  EXPECT_EQ(DrainMaster(p.master.get()), "x\r\n");
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  t.c_oflag &= ~OPOST;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.replica.get(), "y\n");
  EXPECT_EQ(DrainMaster(p.master.get()), "y\n");
}

TEST(Pty, MasterSeesTheReplicasTermios) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  cfmakeraw(&t);
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  struct termios m;
  ASSERT_EQ(tcgetattr(p.master.get(), &m), 0);
  EXPECT_EQ(m.c_lflag & ICANON, 0u);
  EXPECT_EQ(m.c_lflag & ECHO, 0u);
}

TEST(Pty, RawModeReadsWhatIsThereWithoutWaitingForNewline) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.master.get(), "\x03q");  // no ISIG: ^C is data
  EXPECT_EQ(ReadSome(p.replica.get()), "\x03q");
  EXPECT_EQ(DrainMaster(p.master.get()), "");  // no echo
}

TEST(Pty, RawModeVminZeroVtimeZeroReturnsZeroWhenEmpty) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  cfmakeraw(&t);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  char c;
  EXPECT_EQ(read(p.replica.get(), &c, 1), 0);
}

TEST(Pty, RawModeVtimeTimesOutWithZeroBytes) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  cfmakeraw(&t);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 1;  // a tenth of a second
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  char c;
  EXPECT_EQ(read(p.replica.get(), &c, 1), 0);
}

TEST(Pty, NonblockingReadOfEmptyReplicaFailsWithEagain) {
  Pty p = OpenPty();
  ASSERT_EQ(fcntl(p.replica.get(), F_SETFL, O_NONBLOCK), 0);
  char c;
  EXPECT_THAT(Sys(SYS_read, p.replica.get(), &c, 1), FailsWith(EAGAIN));
}

TEST(Pty, TcflshDiscardsQueuedInput) {
  Pty p = OpenPty();
  WriteAll(p.master.get(), "gone\n");
  ASSERT_EQ(tcflush(p.replica.get(), TCIFLUSH), 0);
  int avail = -1;
  ASSERT_THAT(Sys(SYS_ioctl, p.replica.get(), FIONREAD, &avail), Succeeds());
  EXPECT_EQ(avail, 0);
}

TEST(Pty, WindowSizeSetOnMasterIsSeenOnReplica) {
  Pty p = OpenPty();
  struct winsize ws = {};
  ws.ws_row = 42;
  ws.ws_col = 132;
  ASSERT_THAT(Sys(SYS_ioctl, p.master.get(), TIOCSWINSZ, &ws), Succeeds());
  struct winsize got = {};
  ASSERT_THAT(Sys(SYS_ioctl, p.replica.get(), TIOCGWINSZ, &got), Succeeds());
  EXPECT_EQ(got.ws_row, 42);
  EXPECT_EQ(got.ws_col, 132);
}

TEST(Pty, ReplicaIsHungUpAfterMasterCloses) {
  Pty p = OpenPty();
  p.master.Reset();
  char c;
  EXPECT_EQ(read(p.replica.get(), &c, 1), 0);
  EXPECT_THAT(Sys(SYS_write, p.replica.get(), "x", 1), FailsWith(EIO));
  struct pollfd pf = {p.replica.get(), POLLIN, 0};
  ASSERT_EQ(poll(&pf, 1, 0), 1);
  EXPECT_TRUE(pf.revents & POLLHUP);
}

TEST(Pty, MasterReadFailsWithEioAfterReplicaCloses) {
  Pty p = OpenPty();
  p.replica.Reset();
  char c;
  EXPECT_THAT(Sys(SYS_read, p.master.get(), &c, 1), FailsWith(EIO));
}

// Runs `child` in a new session whose controlling terminal is the replica
// of `p` (named by path: the child opens it without O_NOCTTY). `ready` is
// written once the child is set up. Returns the child's pid.
template <typename F>
pid_t SpawnSessionOn(const Pty& p, int ready_fd, F child) {
  const pid_t pid = fork();
  if (pid == 0) {
    // The cases expect the default actions: a runner started under nohup
    // (SIGHUP ignored) or with signals blocked would pass that on.
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (setsid() < 0) _exit(101);
    int fd = open(p.name.c_str(), O_RDWR);  // acquires the controlling terminal
    if (fd < 0) _exit(102);
    if (ioctl(fd, TIOCSCTTY, 0) != 0) _exit(103);  // already ours: a no-op
    _exit(child(fd, ready_fd));
  }
  return pid;
}

TEST(PtyJobControl, OpeningWithoutNocttyMakesTheControllingTerminal) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int rfd) {
    pid_t sid = -1, pgrp = -1;
    if (ioctl(fd, TIOCGSID, &sid) != 0 || sid != getpid()) return 1;
    if (ioctl(fd, TIOCGPGRP, &pgrp) != 0 || pgrp != getpid()) return 2;
    if (tcgetpgrp(fd) != getpid()) return 3;
    int t = open("/dev/tty", O_RDWR);
    if (t < 0) return 4;
    close(t);
    (void)rfd;
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, DevTtyWithoutControllingTerminalFailsWithEnxio) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setsid() < 0) _exit(101);
    const int fd = open("/dev/tty", O_RDWR);
    _exit(fd < 0 && errno == ENXIO ? 0 : 1);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, InterruptCharacterSendsSigintToForegroundGroup) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int, int rfd) {
    if (write(rfd, "r", 1) != 1) return 1;
    WaitForTheSignal();  // SIGINT's default action ends us
    return 2;
  });
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  pid_t pgrp = -1;
  ASSERT_THAT(Sys(SYS_ioctl, p.master.get(), TIOCGPGRP, &pgrp), Succeeds());
  EXPECT_EQ(pgrp, pid);
  WriteAll(p.master.get(), "\x03");
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  EXPECT_EQ(DrainMaster(p.master.get()), "^C");
}

TEST(PtyJobControl, QuitCharacterSendsSigquit) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int, int rfd) {
    signal(SIGQUIT, [](int) { _exit(9); });
    if (write(rfd, "r", 1) != 1) return 1;
    WaitForTheSignal();
    return 2;
  });
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  WriteAll(p.master.get(), "\x1c");
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9) << status;
}

TEST(PtyJobControl, WindowSizeChangeSendsSigwinch) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int, int rfd) {
    signal(SIGWINCH, [](int) { _exit(7); });
    if (write(rfd, "r", 1) != 1) return 1;
    WaitForTheSignal();
    return 2;
  });
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  struct winsize ws = {};
  ws.ws_row = 10;
  ws.ws_col = 20;
  ASSERT_THAT(Sys(SYS_ioctl, p.master.get(), TIOCSWINSZ, &ws), Succeeds());
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
}

TEST(PtyJobControl, BackgroundReadIgnoringSigttinFailsWithEio) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int) {
    const pid_t bg = fork();
    if (bg == 0) {
      if (setpgid(0, 0) != 0) _exit(11);
      signal(SIGTTIN, SIG_IGN);
      char c;
      const ssize_t n = read(fd, &c, 1);
      _exit(n < 0 && errno == EIO ? 0 : 12);
    }
    int status;
    if (waitpid(bg, &status, 0) != bg) return 13;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 14;
  });
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, TiocspgrpMovesTheForegroundGroup) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int) {
    const pid_t bg = fork();
    if (bg == 0) {
      setpgid(0, 0);
      pause();
      _exit(0);
    }
    setpgid(bg, bg);
    signal(SIGTTOU, SIG_IGN);
    const pid_t nobody = 999999;
    int result = 0;
    if (tcsetpgrp(fd, bg) != 0) {
      result = 21;
    } else if (tcgetpgrp(fd) != bg) {
      result = 22;
    } else if (tcsetpgrp(fd, nobody) == 0 || errno != ESRCH) {
      result = 23;
    }
    // Always: a paused child left behind would hold the test's stdout open
    // and turn this failure into a timeout of the whole program.
    kill(bg, SIGKILL);
    waitpid(bg, nullptr, 0);
    return result;
  });
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, SuspendCharacterSendsSigtstp) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int, int rfd) {
    signal(SIGTSTP, [](int) { _exit(8); });
    if (write(rfd, "r", 1) != 1) return 1;
    WaitForTheSignal();
    return 2;
  });
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  WriteAll(p.master.get(), "\x1a");
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 8) << status;
}

TEST(PtyJobControl, IsigOffMakesInterruptCharacterData) {
  Pty p = OpenPty();
  struct termios t;
  ASSERT_EQ(tcgetattr(p.replica.get(), &t), 0);
  t.c_lflag &= ~ISIG;
  ASSERT_EQ(tcsetattr(p.replica.get(), TCSANOW, &t), 0);
  WriteAll(p.master.get(), "\x03\n");
  EXPECT_EQ(ReadSome(p.replica.get()), "\x03\n");
}

TEST(PtyJobControl, BackgroundReadStopsTheGroupWithSigttin) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int) {
    const pid_t bg = fork();
    if (bg == 0) {
      setpgid(0, 0);
      char c;
      (void)read(fd, &c, 1);
      _exit(30);
    }
    setpgid(bg, bg);
    int status;
    if (waitpid(bg, &status, WUNTRACED) != bg) return 31;
    const bool stopped = WIFSTOPPED(status) && WSTOPSIG(status) == SIGTTIN;
    kill(bg, SIGKILL);
    waitpid(bg, nullptr, 0);
    return stopped ? 0 : 32;
  });
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, BackgroundWriteWithTostopStopsTheGroupWithSigttou) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int) {
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return 40;
    t.c_lflag |= TOSTOP;
    if (tcsetattr(fd, TCSANOW, &t) != 0) return 41;
    const pid_t bg = fork();
    if (bg == 0) {
      setpgid(0, 0);
      (void)write(fd, "x", 1);
      _exit(42);
    }
    setpgid(bg, bg);
    int status;
    if (waitpid(bg, &status, WUNTRACED) != bg) return 43;
    const bool stopped = WIFSTOPPED(status) && WSTOPSIG(status) == SIGTTOU;
    kill(bg, SIGKILL);
    waitpid(bg, nullptr, 0);
    return stopped ? 0 : 44;
  });
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, MasterCloseHangsUpTheSessionLeader) {
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [m = p.master.get()](int, int rfd) {
    close(m);  // the parent's close must be the master's last
    if (write(rfd, "r", 1) != 1) return 1;
    WaitForTheSignal();  // SIGHUP's default action ends us
    return 2;
  });
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  p.master.Reset();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP) << status;
}

// A child of the session leader in the terminal's foreground group: says
// "r" on `fd` when ready, "H" when SIGHUP arrives, then exits.
int hup_fd = -1;
void ReportHup(int) {
  (void)!write(hup_fd, "H", 1);
  _exit(0);
}
pid_t ForkHupWatcher(int fd) {
  const pid_t g = fork();
  if (g == 0) {
    hup_fd = fd;
    signal(SIGHUP, ReportHup);
    if (write(fd, "r", 1) != 1) _exit(1);
    for (int i = 0; i < 200; ++i) usleep(50 * 1000);  // at most 10 s
    _exit(2);
  }
  return g;
}

// Two bytes from the watcher, within 10 s: "r" then "H".
std::string ReadWatcher(int fd) {
  std::string got;
  while (got.size() < 2) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    char c;
    if (read(fd, &c, 1) != 1) break;
    got += c;
  }
  return got;
}

TEST(PtyJobControl, SessionLeaderExitHangsUpTheForegroundGroup) {
  // do_exit -> disassociate_ctty(1): the foreground group gets SIGHUP.
  Pty p = OpenPty();
  Pipe watch = MakePipe();
  const pid_t pid = SpawnSessionOn(p, watch.write_end.get(), [r = watch.read_end.get()](int, int wfd) {
    if (ForkHupWatcher(wfd) < 0) return 1;
    char c;
    if (read(r, &c, 1) != 1) return 2;  // the watcher's handler is in place
    return write(wfd, "r", 1) == 1 ? 0 : 3;
  });
  watch.write_end.Reset();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadWatcher(watch.read_end.get()), "rH");
}

TEST(PtyJobControl, TiocnottyBySessionLeaderHangsUpForegroundAndDropsTheTerminal) {
  Pty p = OpenPty();
  Pipe watch = MakePipe();
  const pid_t pid = SpawnSessionOn(p, watch.write_end.get(), [r = watch.read_end.get()](int fd, int wfd) {
    signal(SIGHUP, SIG_IGN);  // we are in the foreground group too
    if (ForkHupWatcher(wfd) < 0) return 1;
    char c;
    if (read(r, &c, 1) != 1 || write(wfd, "r", 1) != 1) return 5;
    if (ioctl(fd, TIOCNOTTY) != 0) return 2;
    if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) return 3;
    if (tcgetpgrp(fd) >= 0 || errno != ENOTTY) return 4;
    while (wait(nullptr) > 0) {
    }
    return 0;
  });
  watch.write_end.Reset();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadWatcher(watch.read_end.get()), "rH");
}

TEST(PtyJobControl, TiocnottyByNonLeaderDetachesOnlyThatProcess) {
  // tiocnotty: a process that does not lead its session loses its
  // controlling terminal (and its later children have none); the session
  // and its leader keep it, and nobody is signalled.
  Pty p = OpenPty();
  Pipe ready = MakePipe();
  const pid_t pid = SpawnSessionOn(p, ready.write_end.get(), [](int fd, int) {
    signal(SIGHUP, SIG_DFL);
    const pid_t child = fork();
    if (child == 0) {
      if (ioctl(fd, TIOCNOTTY) != 0) _exit(10);
      if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) _exit(11);
      pid_t v;
      if (ioctl(fd, TIOCGPGRP, &v) == 0 || errno != ENOTTY) _exit(12);
      if (ioctl(fd, TIOCGSID, &v) == 0 || errno != ENOTTY) _exit(13);
      if (ioctl(fd, TIOCNOTTY) == 0 || errno != ENOTTY) _exit(14);  // nothing left to detach
      const pid_t grandchild = fork();
      if (grandchild == 0) _exit(open("/dev/tty", O_RDWR) < 0 && errno == ENXIO ? 0 : 15);
      int st;
      if (waitpid(grandchild, &st, 0) != grandchild || !WIFEXITED(st)) _exit(16);
      _exit(WEXITSTATUS(st));
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st)) return 1;
    if (WEXITSTATUS(st) != 0) return WEXITSTATUS(st);
    const int t = open("/dev/tty", O_RDWR);  // still the leader's
    if (t < 0) return 2;
    close(t);
    pid_t sid = -1;
    if (ioctl(fd, TIOCGSID, &sid) != 0 || sid != getpid()) return 3;
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, TiocscttyStealsOnlyWithArgOneAndCapSysAdmin) {
  Pty p = OpenPty();
  Pipe ready = MakePipe(), release = MakePipe();
  // Session A holds the terminal until released.
  const pid_t a = SpawnSessionOn(p, ready.write_end.get(),
                                 [r = release.read_end.get(), w = release.write_end.get()](int, int wfd) {
    close(w);  // EOF on `r` once the test lets go
    if (write(wfd, "a", 1) != 1) return 1;
    char c;
    return read(r, &c, 1) >= 0 ? 0 : 2;
  });
  ASSERT_GT(a, 0);
  char c;
  ASSERT_EQ(read(ready.read_end.get(), &c, 1), 1);
  const pid_t b = fork();
  if (b == 0) {
    if (setsid() < 0) _exit(101);
    const int fd = open(p.name.c_str(), O_RDWR | O_NOCTTY);
    if (fd < 0) _exit(102);
    if (ioctl(fd, TIOCSCTTY, 0) == 0 || errno != EPERM) _exit(1);  // another session's
    pid_t sid = -1;
    if (ioctl(fd, TIOCGSID, &sid) == 0 || errno != ENOTTY) _exit(2);  // not ours
    if (ioctl(fd, TIOCSCTTY, 1) != 0) _exit(3);  // root: CAP_SYS_ADMIN steals it
    if (ioctl(fd, TIOCGSID, &sid) != 0 || sid != getpid()) _exit(4);
    if (tcgetpgrp(fd) != getpid()) _exit(5);
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(b, &status, 0), b);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  release.write_end.Reset();
  ASSERT_EQ(waitpid(a, &status, 0), a);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PtyJobControl, TiocgpgrpAndTiocgsidOfAnotherTerminalFailWithEnotty) {
  Pty p = OpenPty();
  pid_t v;
  EXPECT_THAT(Sys(SYS_ioctl, p.replica.get(), TIOCGPGRP, &v), FailsWith(ENOTTY));
  EXPECT_THAT(Sys(SYS_ioctl, p.replica.get(), TIOCGSID, &v), FailsWith(ENOTTY));
  EXPECT_THAT(Sys(SYS_ioctl, p.replica.get(), TIOCSPGRP, &v), FailsWith(ENOTTY));
  // The master answers for the pair: no session yet is ENOTTY too.
  EXPECT_THAT(Sys(SYS_ioctl, p.master.get(), TIOCGSID, &v), FailsWith(ENOTTY));
}

}  // namespace
}  // namespace syscall_test
