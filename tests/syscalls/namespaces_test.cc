// unshare(2) and clone(2) with CLONE_NEWUTS and CLONE_NEWIPC: the new
// namespace has its own host name / System V IPC objects, and the old one
// is unchanged. Every change happens in a child, inside its new namespace
// (never to the host's names), and every segment made in the test's own
// namespace is removed.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

int WaitChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Whether this process may make the namespace at all (natively: root with
// CAP_SYS_ADMIN; not inside a container that forbids it).
bool CanUnshare(int flag) {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) _exit(unshare(flag) == 0 ? 0 : 1);
  return WaitChild(pid) == 0;
}

std::string NodeName() {
  struct utsname u;
  if (uname(&u) != 0) return "";
  return u.nodename;
}

TEST(Unshare, NewUtsNamespaceHasItsOwnHostname) {
  if (!CanUnshare(CLONE_NEWUTS)) GTEST_SKIP() << "no CAP_SYS_ADMIN for CLONE_NEWUTS";
  const std::string before = NodeName();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWUTS) != 0) _exit(10);
    if (NodeName() != before) _exit(11);  // starts with the old names
    const char name[] = "mm-uts-test";
    if (sethostname(name, strlen(name)) != 0) _exit(12);
    if (NodeName() != name) _exit(13);
    char buf[64] = {};
    if (gethostname(buf, sizeof(buf)) != 0 || strcmp(buf, name) != 0) _exit(14);
    // A child inherits the namespace.
    const pid_t grandchild = fork();
    if (grandchild < 0) _exit(15);
    if (grandchild == 0) _exit(NodeName() == name ? 0 : 1);
    if (WaitChild(grandchild) != 0) _exit(16);
    _exit(0);
  }
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_EQ(NodeName(), before);
}

TEST(Unshare, NewIpcNamespaceHasNoSegmentsOfTheOldOne) {
  if (!CanUnshare(CLONE_NEWIPC)) GTEST_SKIP() << "no CAP_SYS_ADMIN for CLONE_NEWIPC";
  const key_t key = static_cast<key_t>(0x6d6d0000 | (getpid() & 0xffff));
  const int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0) << strerror(errno);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (shmget(key, 0, 0) != id) _exit(10);  // still the old namespace
    if (unshare(CLONE_NEWIPC) != 0) _exit(11);
    if (shmget(key, 0, 0) != -1 || errno != ENOENT) _exit(12);
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) == 0) _exit(13);
    // The same key makes a new segment here, gone with the namespace.
    const int mine = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600);
    if (mine < 0) _exit(14);
    _exit(0);
  }
  EXPECT_EQ(WaitChild(pid), 0);
  struct shmid_ds ds;
  EXPECT_EQ(shmctl(id, IPC_STAT, &ds), 0);
  EXPECT_EQ(ds.shm_segsz, 4096u);  // ours, not the child's 8192
  EXPECT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
}

TEST(Clone, NewIpcAndUtsNamespacesForTheChild) {
  if (!CanUnshare(CLONE_NEWIPC) || !CanUnshare(CLONE_NEWUTS)) GTEST_SKIP() << "no CAP_SYS_ADMIN";
  const key_t key = static_cast<key_t>(0x6d6e0000 | (getpid() & 0xffff));
  const int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0) << strerror(errno);
  const std::string before = NodeName();
  const long pid = syscall(SYS_clone, CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    if (shmget(key, 0, 0) != -1 || errno != ENOENT) _exit(10);
    if (sethostname("mm-clone", 8) != 0) _exit(11);
    if (NodeName() != "mm-clone") _exit(12);
    _exit(0);
  }
  EXPECT_EQ(WaitChild(static_cast<pid_t>(pid)), 0);
  EXPECT_EQ(NodeName(), before);
  EXPECT_EQ(shmget(key, 0, 0), id);
  EXPECT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
}

TEST(Clone, NewIpcWithSysvsemIsEinval) {
  const long r = syscall(SYS_clone, CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (r == 0) _exit(0);
  EXPECT_EQ(r, -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Unshare, UnknownFlagIsEinval) {
  EXPECT_THAT(Sys(SYS_unshare, 0x1), FailsWith(EINVAL));  // a CSIGNAL bit
}

TEST(Unshare, FilesAndFsAndSysvsemSucceedWithoutPrivilege) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)) _exit(10);
    if (unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM) != 0) _exit(11);
    // New namespaces need CAP_SYS_ADMIN.
    if (unshare(CLONE_NEWUTS) != -1 || errno != EPERM) _exit(12);
    if (unshare(CLONE_NEWIPC) != -1 || errno != EPERM) _exit(13);
    _exit(0);
  }
  EXPECT_EQ(WaitChild(pid), 0);
}

TEST(Unshare, FilesGivesAPrivateFdTable) {
  // A CLONE_FILES thread-less child: fds shared until unshare.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  static char stack[64 * 1024];
  struct Arg {
    int fd;
  } arg{p[0]};
  auto fn = [](void* a) -> int {
    const int fd = static_cast<Arg*>(a)->fd;
    if (unshare(CLONE_FILES) != 0) return 10;
    return close(fd) == 0 ? 0 : 11;  // closes only the child's copy
  };
  const pid_t pid = clone(fn, stack + sizeof(stack), CLONE_FILES | SIGCHLD, &arg);
  ASSERT_GE(pid, 0);
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_EQ(fcntl(p[0], F_GETFD), 0) << "the parent's fd was closed";
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace syscall_test
