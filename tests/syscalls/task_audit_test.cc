// Rules of issue #5 (exec errors, rlimits, __WALL) and the /proc, /sys and
// /dev names of issue #4 that had no test of their own (docs/issue4-audit.md).
// Checked on Linux first (fs/exec.c, mm/mmap.c, kernel/fork.c, fs/proc/).
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs fn in a forked child; returns the raw wait status.
template <typename Fn>
int InChild(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::string WriteTemp(const std::string& contents, mode_t mode) {
  char tmpl[] = "/tmp/task_audit.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "";
  if (!contents.empty() && write(fd, contents.data(), contents.size()) != static_cast<ssize_t>(contents.size())) {
    close(fd);
    return "";
  }
  fchmod(fd, mode);
  close(fd);
  return tmpl;
}

SyscallResult Exec(const std::string& path) {
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  char* envp[] = {nullptr};
  return Sys(SYS_execve, path.c_str(), argv, envp);
}

// ---- execve errors ------------------------------------------------------------

TEST(ExecErrors, UnknownFormatIsEnoexec) {
  std::string garbage = WriteTemp("this is not a program\n\x01\x02", 0755);
  std::string empty = WriteTemp("", 0755);
  std::string short_elf = WriteTemp("\x7f" "ELF", 0755);
  ASSERT_FALSE(garbage.empty());
  EXPECT_THAT(Exec(garbage), FailsWith(ENOEXEC));
  EXPECT_THAT(Exec(empty), FailsWith(ENOEXEC));
  EXPECT_THAT(Exec(short_elf), FailsWith(ENOEXEC));
  unlink(garbage.c_str());
  unlink(empty.c_str());
  unlink(short_elf.c_str());
}

TEST(ExecErrors, ScriptInterpreterMissingIsEnoentAndDirectoryIsEacces) {
  std::string script = WriteTemp("#!/nonexistent/interp\necho hi\n", 0755);
  ASSERT_FALSE(script.empty());
  EXPECT_THAT(Exec(script), FailsWith(ENOENT));
  EXPECT_THAT(Exec("/tmp"), FailsWith(EACCES));
  EXPECT_THAT(Exec("/etc/passwd/x"), FailsWith(ENOTDIR));
  // An interpreter that is itself not executable.
  std::string noexec = WriteTemp("#!/bin/sh\n", 0644);
  std::string via = WriteTemp("#!" + noexec + "\n", 0755);
  EXPECT_THAT(Exec(via), FailsWith(EACCES));
  unlink(script.c_str());
  unlink(noexec.c_str());
  unlink(via.c_str());
}

// ---- rlimits --------------------------------------------------------------------

TEST(RlimitFsize, WritePastTheLimitRaisesSigxfszOrFailsWithEfbig) {
  std::string path = WriteTemp("", 0644);
  ASSERT_FALSE(path.empty());
  // Default action: killed by SIGXFSZ (a core signal).
  int status = InChild([&] {
    struct rlimit rl = {10, 10};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 1;
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
    if (write(fd, "0123456789abcdef", 16) != 10) return 2;  // short write up to the limit
    (void)!write(fd, "x", 1);                                 // at the limit: the signal
    return 3;
  });
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_THAT(WTERMSIG(status), Eq(SIGXFSZ));
  // Ignored: EFBIG; truncate past the limit too.
  status = InChild([&] {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {10, 10};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 1;
    int fd = open(path.c_str(), O_WRONLY | O_TRUNC);
    if (pwrite(fd, "x", 1, 10) != -1 || errno != EFBIG) return 2;
    if (ftruncate(fd, 11) != -1 || errno != EFBIG) return 3;
    if (ftruncate(fd, 10) != 0) return 4;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
  unlink(path.c_str());
}

TEST(RlimitNofile, DupAboveTheLimitFails) {
  int status = InChild([] {
    struct rlimit rl = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return 1;
    if (dup2(0, 64) != -1 || errno != EBADF) return 2;
    if (fcntl(0, F_DUPFD, 64) != -1 || errno != EINVAL) return 3;
    if (dup2(0, 63) != 63) return 4;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
}

TEST(RlimitAs, MmapBeyondTheLimitIsEnomem) {
  int status = InChild([] {
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    // Room for what is mapped now plus a little.
    std::string maps = ReadFile("/proc/self/maps");
    unsigned long total = 0;
    std::istringstream in(maps);
    std::string line;
    while (std::getline(in, line)) {
      unsigned long a, b;
      if (sscanf(line.c_str(), "%lx-%lx", &a, &b) == 2 && line.find("[vsyscall]") == std::string::npos) total += b - a;
    }
    rl.rlim_cur = total + (64 << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0) return 1;
    void* big = mmap(nullptr, 256 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big != MAP_FAILED || errno != ENOMEM) return 2;
    void* small = mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (small == MAP_FAILED) return 3;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
}

TEST(RlimitNproc, NonRootForkPastTheLimitIsEagain) {
  int status = InChild([] {
    // An id no other process of the host or the sandbox runs as.
    const uid_t uid = 54321;
    struct rlimit rl = {1, 1};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) return 1;
    if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) return 2;
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid > 0) {
      waitpid(pid, nullptr, 0);
      return 3;
    }
    return errno == EAGAIN ? 0 : 4;
  });
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
}

// ---- wait -----------------------------------------------------------------------

TEST(WaitAll, WallReapsACloneChildWithoutExitSignal) {
  alignas(16) static char stack[64 * 1024];
  pid_t pid = clone([](void*) -> int { return 7; }, stack + sizeof(stack), 0 /* no exit signal */, nullptr);
  ASSERT_GT(pid, 0);
  int status = 0;
  // Without __WALL/__WCLONE a child that signals nothing is not waited for.
  EXPECT_THAT(Libc(waitpid(pid, &status, WNOHANG)), FailsWith(ECHILD));
  ASSERT_THAT(waitpid(pid, &status, __WALL), Eq(pid));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(7));
}

// ---- /proc, /sys, /dev names of issue #4 -------------------------------------------

TEST(ProcNames, CmdlineRootFilesystemsAndCpuPossible) {
  std::string cmdline = ReadFile("/proc/self/cmdline");
  ASSERT_FALSE(cmdline.empty());
  EXPECT_THAT(cmdline.back(), Eq('\0'));
  EXPECT_THAT(std::string(cmdline.c_str()), Eq(Argv0()));
  char root[64] = {};
  ASSERT_THAT(Libc(readlink("/proc/self/root", root, sizeof(root) - 1)), Succeeds());
  EXPECT_THAT(std::string(root), Eq("/"));
  std::string fss = ReadFile("/proc/filesystems");
  EXPECT_THAT(fss, HasSubstr("\ttmpfs\n"));
  EXPECT_THAT(fss, HasSubstr("nodev\tproc\n"));
  std::string possible = ReadFile("/sys/devices/system/cpu/possible");
  EXPECT_THAT(possible, MatchesRegex("0(-[0-9]+)?\n"));
  std::string online = ReadFile("/sys/devices/system/cpu/online");
  EXPECT_THAT(online, MatchesRegex("0(-[0-9]+)?\n"));
}

void CheckThreadInProc(bool check_names) {
  static pid_t tid;
  static int stop_fd[2];
  ASSERT_THAT(Libc(pipe(stop_fd)), Succeeds());
  static int ready[2];
  ASSERT_THAT(Libc(pipe(ready)), Succeeds());
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  prctl(PR_SET_NAME, "auditthr");
                  tid = static_cast<pid_t>(syscall(SYS_gettid));
                  char c = 1;
                  (void)!write(ready[1], &c, 1);
                  (void)!read(stop_fd[0], &c, 1);
                  return nullptr;
                },
                nullptr),
            0);
  char c;
  ASSERT_THAT(Libc(read(ready[0], &c, 1)), Succeeds());
  const std::string dir = "/proc/self/task/" + std::to_string(tid);
  std::string stat = ReadFile(dir + "/stat");
  EXPECT_THAT(stat, StartsWith(std::to_string(tid) + " ("));
  std::string status = ReadFile(dir + "/status");
  EXPECT_THAT(status, HasSubstr("\nPid:\t" + std::to_string(tid) + "\n"));
  EXPECT_THAT(status, HasSubstr("\nTgid:\t" + std::to_string(getpid()) + "\n"));
  if (check_names) {
    EXPECT_THAT(ReadFile(dir + "/comm"), Eq("auditthr\n"));
    EXPECT_THAT(stat, StartsWith(std::to_string(tid) + " (auditthr) "));
    // The thread's tid also works as /proc/<tid> (hidden from the listing).
    EXPECT_THAT(ReadFile("/proc/" + std::to_string(tid) + "/comm"), Eq("auditthr\n"));
  }
  (void)!write(stop_fd[1], &c, 1);
  pthread_join(th, nullptr);
  for (int fd : {stop_fd[0], stop_fd[1], ready[0], ready[1]}) close(fd);
}

TEST(ProcNames, TaskDirectoryOfAThreadShowsItsIds) { CheckThreadInProc(false); }

TEST(ProcNames, ThreadNamesArePerThreadAndTidsResolveUnderProc) { CheckThreadInProc(true); }

// comm_write(): a thread of the group renames another through its
// task/<tid>/comm; the leader's name stays.
TEST(ProcNames, WritingATasksCommRenamesThatThread) {
  static int stop_fd[2], ready[2];
  static pid_t tid;
  ASSERT_THAT(Libc(pipe(stop_fd)), Succeeds());
  ASSERT_THAT(Libc(pipe(ready)), Succeeds());
  pthread_t th;
  ASSERT_EQ(pthread_create(
                &th, nullptr,
                [](void*) -> void* {
                  tid = static_cast<pid_t>(syscall(SYS_gettid));
                  char c = 1;
                  (void)!write(ready[1], &c, 1);
                  (void)!read(stop_fd[0], &c, 1);
                  static char name[16] = {};
                  prctl(PR_GET_NAME, name);
                  return name;
                },
                nullptr),
            0);
  char c;
  ASSERT_THAT(Libc(read(ready[0], &c, 1)), Succeeds());
  const std::string leader = ReadFile("/proc/self/comm");
  {
    Fd f(open(("/proc/self/task/" + std::to_string(tid) + "/comm").c_str(), O_WRONLY));
    ASSERT_THAT(Libc(f.get()), Succeeds());
    EXPECT_THAT(Libc(write(f.get(), "renamed", 7)), Succeeds());
  }
  EXPECT_THAT(ReadFile("/proc/self/task/" + std::to_string(tid) + "/comm"), Eq("renamed\n"));
  EXPECT_THAT(ReadFile("/proc/self/comm"), Eq(leader));
  (void)!write(stop_fd[1], &c, 1);
  void* name = nullptr;
  pthread_join(th, &name);
  EXPECT_THAT(std::string(static_cast<char*>(name)), Eq("renamed"));
  for (int fd : {stop_fd[0], stop_fd[1], ready[0], ready[1]}) close(fd);
}

TEST(DevNames, NodesHaveLinuxsNumbers) {
  struct Node {
    const char* path;
    unsigned maj, min;
  };
  for (const Node& n : {Node{"/dev/null", 1, 3}, Node{"/dev/zero", 1, 5}, Node{"/dev/full", 1, 7},
                        Node{"/dev/random", 1, 8}, Node{"/dev/urandom", 1, 9}, Node{"/dev/tty", 5, 0},
                        Node{"/dev/ptmx", 5, 2}}) {
    struct stat st = {};
    ASSERT_THAT(Libc(stat(n.path, &st)), Succeeds()) << n.path;
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << n.path;
    EXPECT_THAT(major(st.st_rdev), Eq(n.maj)) << n.path;
    EXPECT_THAT(minor(st.st_rdev), Eq(n.min)) << n.path;
  }
  char buf[16];
  Fd r(open("/dev/random", O_RDONLY));
  EXPECT_THAT(Libc(read(r.get(), buf, sizeof(buf))), Succeeds());
  for (const char* link : {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    struct stat st = {};
    ASSERT_THAT(Libc(lstat(link, &st)), Succeeds()) << link;
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << link;
  }
  struct stat shm = {};
  ASSERT_THAT(Libc(stat("/dev/shm", &shm)), Succeeds());
  EXPECT_TRUE(S_ISDIR(shm.st_mode));
  EXPECT_THAT(shm.st_mode & 07777, Eq(01777u));
}

}  // namespace
}  // namespace syscall_test
