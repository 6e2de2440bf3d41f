// Opening a procfs magic link reopens the object itself, not a path lookup
// of the link's text (fs/proc/base.c proc_fd_link, proc_exe_link;
// nd_jump_link in fs/namei.c): a memfd and an O_TMPFILE file give the same
// inode, anonymous-inode files give ENXIO (no_open), and /proc/<pid>/exe
// opens the very file the process runs, even renamed, unlinked or a memfd.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::EndsWith;
using ::testing::Eq;
using ::testing::StartsWith;

std::string FdLink(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX] = {};
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? std::string("<") + strerror(errno) + ">" : std::string(buf, static_cast<size_t>(n));
}

std::string ReadFd(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

ino_t Ino(int fd) {
  struct stat st = {};
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Writes through one description are seen through the other: one inode.
void ExpectSameFile(int a, int b) {
  EXPECT_THAT(Ino(a), Eq(Ino(b)));
  ASSERT_THAT(Libc(pwrite(b, "XY", 2, 1)), Succeeds());
  char buf[3] = {};
  ASSERT_THAT(Libc(pread(a, buf, 3, 0)), Succeeds());
  EXPECT_THAT(std::string(buf, 3), Eq("aXY"));
}

TEST(ProcFdReopen, MemfdReopensTheSameInode) {
  Fd m(memfd_create("reopen", 0));
  ASSERT_GE(m.get(), 0) << strerror(errno);
  ASSERT_THAT(Libc(write(m.get(), "abcd", 4)), Succeeds());
  Fd again(open(FdLink(m.get()).c_str(), O_RDWR));
  ASSERT_GE(again.get(), 0) << strerror(errno);
  ExpectSameFile(m.get(), again.get());
  EXPECT_THAT(ReadLink(FdLink(again.get())), Eq("/memfd:reopen (deleted)"));
  EXPECT_THAT(fcntl(again.get(), F_GETFL) & O_ACCMODE, Eq(O_RDWR));
  // Its own offset; O_TRUNC truncates the shared inode.
  char c;
  ASSERT_THAT(Libc(read(again.get(), &c, 1)), Succeeds());
  EXPECT_THAT(c, Eq('a'));
  Fd trunc(open(FdLink(m.get()).c_str(), O_WRONLY | O_TRUNC));
  ASSERT_GE(trunc.get(), 0) << strerror(errno);
  struct stat st = {};
  ASSERT_THAT(Libc(fstat(m.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(0));
  // stat through the link sees the memfd too.
  struct stat via = {};
  ASSERT_THAT(Libc(stat(FdLink(m.get()).c_str(), &via)), Succeeds());
  EXPECT_THAT(via.st_ino, Eq(st.st_ino));
}

TEST(ProcFdReopen, SealsStillApplyToTheReopenedMemfd) {
  Fd m(memfd_create("sealed", MFD_ALLOW_SEALING));
  ASSERT_GE(m.get(), 0) << strerror(errno);
  ASSERT_THAT(Libc(fcntl(m.get(), F_ADD_SEALS, F_SEAL_WRITE)), Succeeds());
  Fd again(open(FdLink(m.get()).c_str(), O_RDWR));
  ASSERT_GE(again.get(), 0) << strerror(errno);
  EXPECT_THAT(Libc(write(again.get(), "x", 1)), FailsWith(EPERM));
  EXPECT_THAT(fcntl(again.get(), F_GET_SEALS), Eq(F_SEAL_WRITE));
}

TEST(ProcFdReopen, TmpfileAndDeletedFileReopenTheSameInode) {
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    SCOPED_TRACE(dir);
    Fd t(open(dir, O_TMPFILE | O_RDWR, 0600));
    ASSERT_GE(t.get(), 0) << strerror(errno);
    ASSERT_THAT(Libc(write(t.get(), "abcd", 4)), Succeeds());
    Fd again(open(FdLink(t.get()).c_str(), O_RDWR));
    ASSERT_GE(again.get(), 0) << strerror(errno);
    ExpectSameFile(t.get(), again.get());

    const std::string name = std::string(dir) + "/proc_reopen_test." + std::to_string(getpid());
    Fd f(open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));
    ASSERT_GE(f.get(), 0) << strerror(errno);
    ASSERT_THAT(Libc(write(f.get(), "abcd", 4)), Succeeds());
    ASSERT_THAT(Libc(unlink(name.c_str())), Succeeds());
    Fd other(open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600));  // the old name, another file
    ASSERT_GE(other.get(), 0);
    Fd deleted(open(FdLink(f.get()).c_str(), O_RDWR));
    ASSERT_GE(deleted.get(), 0) << strerror(errno);
    ExpectSameFile(f.get(), deleted.get());
    EXPECT_THAT(Ino(deleted.get()) == Ino(other.get()), Eq(false));
    unlink(name.c_str());
  }
}

// Files with no inode of their own to open (anon_inode_fops, sockets):
// the link stats as the file, and opening it is ENXIO.
TEST(ProcFdReopen, AnonymousInodeFilesAreEnxio) {
  sigset_t none;
  sigemptyset(&none);
  std::vector<std::pair<std::string, int>> files = {
      {"eventfd", eventfd(0, 0)},
      {"epoll", epoll_create1(0)},
      {"timerfd", timerfd_create(CLOCK_MONOTONIC, 0)},
      {"signalfd", signalfd(-1, &none, 0)},
  };
  // Sockets are too, where the sandbox has them.
  if (int s = socket(AF_UNIX, SOCK_STREAM, 0); s >= 0) files.emplace_back("socket", s);
  for (const auto& [what, fd] : files) {
    SCOPED_TRACE(what);
    ASSERT_GE(fd, 0) << strerror(errno);
    Fd owned(fd);
    EXPECT_THAT(Libc(open(FdLink(fd).c_str(), O_RDONLY)), FailsWith(ENXIO));
    EXPECT_THAT(Libc(open(FdLink(fd).c_str(), O_RDWR)), FailsWith(ENXIO));
    struct stat via = {}, st = {};
    ASSERT_THAT(Libc(stat(FdLink(fd).c_str(), &via)), Succeeds());
    ASSERT_THAT(Libc(fstat(fd, &st)), Succeeds());
    EXPECT_THAT(via.st_ino, Eq(st.st_ino));
    EXPECT_THAT(via.st_mode & S_IFMT, Eq(st.st_mode & S_IFMT));
    // O_PATH only takes a reference: that works.
    Fd path(open(FdLink(fd).c_str(), O_PATH));
    EXPECT_GE(path.get(), 0) << strerror(errno);
  }
}

std::string ReadFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY));
  return fd.get() < 0 ? std::string() : ReadFd(fd.get());
}

// Runs `exec` in a child (which sleeps there) and returns its pid once the
// exec is done (the close-on-exec pipe end closed).
pid_t SpawnSleeper(const std::function<void()>& exec) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    exec();
    _exit(127);
  }
  close(p[1]);
  char c;
  while (read(p[0], &c, 1) < 0 && errno == EINTR) {
  }
  close(p[0]);
  return pid;
}

void Reap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

TEST(ProcExe, OpensTheRunningFileAfterItWasRenamedAndUnlinked) {
  const std::string sleep_bin = ReadFile("/bin/sleep");
  ASSERT_FALSE(sleep_bin.empty());
  const std::string dir = "/tmp/proc_reopen_test.exe." + std::to_string(getpid());
  ASSERT_THAT(Libc(mkdir(dir.c_str(), 0700)), Succeeds());
  const std::string prog = dir + "/prog", moved = dir + "/moved";
  {
    Fd f(open(prog.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0700));
    ASSERT_GE(f.get(), 0);
    ASSERT_EQ(write(f.get(), sleep_bin.data(), sleep_bin.size()), static_cast<ssize_t>(sleep_bin.size()));
  }
  struct stat st = {};
  ASSERT_THAT(Libc(stat(prog.c_str(), &st)), Succeeds());
  const pid_t pid = SpawnSleeper([&] {
    const char* argv[] = {"sleep", "1000", nullptr};
    execv(prog.c_str(), const_cast<char**>(argv));
  });
  ASSERT_GT(pid, 0);
  const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  EXPECT_THAT(ReadLink(exe), Eq(prog));
  ASSERT_THAT(Libc(rename(prog.c_str(), moved.c_str())), Succeeds());
  ASSERT_THAT(Libc(unlink(moved.c_str())), Succeeds());
  {
    // A new file under the old name must not be what opens.
    Fd decoy(open(prog.c_str(), O_CREAT | O_WRONLY, 0700));
    ASSERT_THAT(Libc(write(decoy.get(), "decoy", 5)), Succeeds());
  }
  EXPECT_THAT(ReadLink(exe), EndsWith(" (deleted)"));
  Fd opened(open(exe.c_str(), O_RDONLY));
  ASSERT_GE(opened.get(), 0) << strerror(errno);
  EXPECT_THAT(Ino(opened.get()), Eq(st.st_ino));
  EXPECT_TRUE(ReadFd(opened.get()) == sleep_bin);
  Reap(pid);
  unlink(prog.c_str());
  rmdir(dir.c_str());
}

TEST(ProcExe, OfAProgramRunFromAMemfdOpensTheMemfd) {
  const std::string sleep_bin = ReadFile("/bin/sleep");
  ASSERT_FALSE(sleep_bin.empty());
  Fd m(memfd_create("prog", MFD_CLOEXEC));
  ASSERT_GE(m.get(), 0) << strerror(errno);
  ASSERT_EQ(write(m.get(), sleep_bin.data(), sleep_bin.size()), static_cast<ssize_t>(sleep_bin.size()));
  const pid_t pid = SpawnSleeper([&] {
    const char* argv[] = {"sleep", "1000", nullptr};
    fexecve(m.get(), const_cast<char**>(argv), environ);
  });
  ASSERT_GT(pid, 0);
  const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  EXPECT_THAT(ReadLink(exe), Eq("/memfd:prog (deleted)"));
  Fd opened(open(exe.c_str(), O_RDONLY));
  ASSERT_GE(opened.get(), 0) << strerror(errno);
  EXPECT_THAT(Ino(opened.get()), Eq(Ino(m.get())));
  EXPECT_TRUE(ReadFd(opened.get()) == sleep_bin);
  Reap(pid);
}

TEST(ProcExe, SelfExeIsTheRunningBinary) {
  Fd self(open("/proc/self/exe", O_RDONLY));
  ASSERT_GE(self.get(), 0) << strerror(errno);
  struct stat via = {};
  ASSERT_THAT(Libc(stat(ReadLink("/proc/self/exe").c_str(), &via)), Succeeds());
  EXPECT_THAT(Ino(self.get()), Eq(via.st_ino));
}

}  // namespace
}  // namespace syscall_test
