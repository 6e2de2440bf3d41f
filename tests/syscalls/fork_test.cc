// fork(2), vfork(2), clone(2), clone3(2): new processes with copy-on-write
// memory, and clone's argument checks.
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

int g_global = 1;

TEST(Fork, ChildGetsZeroAndParentGetsChildPid) {
  auto* seen = SharedPage<std::atomic<int>>();
  ASSERT_NE(seen, nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    seen->store(getpid());
    _exit(getppid() == parent ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "child's getppid() is not the parent";
  EXPECT_EQ(seen->load(), pid);
}

TEST(Fork, ChildWritesDoNotReachParent) {
  std::vector<char> heap(1 << 20, 'a');
  char stack_buf[64];
  memset(stack_buf, 's', sizeof(stack_buf));
  void* anon = mmap(nullptr, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anon, MAP_FAILED);
  memset(anon, 'm', 8 * 4096);
  g_global = 1;
  EXPECT_EQ(RunInChild([&] {
              heap[0] = heap[500000] = 'b';
              stack_buf[3] = 'x';
              static_cast<char*>(anon)[4096 * 5] = 'n';
              g_global = 2;
              return heap[0] == 'b' && g_global == 2 ? 0 : 1;
            }),
            0);
  EXPECT_EQ(heap[0], 'a');
  EXPECT_EQ(heap[500000], 'a');
  EXPECT_EQ(stack_buf[3], 's');
  EXPECT_EQ(static_cast<char*>(anon)[4096 * 5], 'm');
  EXPECT_EQ(g_global, 1);
  munmap(anon, 8 * 4096);
}

TEST(Fork, ParentWritesAfterForkDoNotReachChild) {
  auto* flag = SharedPage<std::atomic<int>>();
  ASSERT_NE(flag, nullptr);
  std::vector<char> heap(64 * 1024, 'a');
  const pid_t pid = ForkChild([&] {
    if (!SpinUntil([&] { return flag->load() == 1; })) return 2;
    return heap[100] == 'a' ? 0 : 1;
  });
  ASSERT_GT(pid, 0);
  heap[100] = 'p';
  flag->store(1);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "the child saw the parent's write";
}

TEST(Fork, SharedAnonymousMemoryStaysShared) {
  auto* shared = SharedPage<std::atomic<int>>();
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(RunInChild([&] {
              shared->store(42);
              return 0;
            }),
            0);
  EXPECT_EQ(shared->load(), 42);
}

TEST(Fork, KernelWritesIntoChildMemoryAreCopyOnWrite) {
  // getcwd() writes through the kernel's copy-out, not a user-mode fault.
  char buf[256];
  memset(buf, 'z', sizeof(buf));
  EXPECT_EQ(RunInChild([&] { return getcwd(buf, sizeof(buf)) != nullptr && buf[0] == '/' ? 0 : 1; }), 0);
  EXPECT_EQ(buf[0], 'z');
}

TEST(Fork, PrivateFileMappingIsCopyOnWrite) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char* p = static_cast<char*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0));
  ASSERT_NE(p, MAP_FAILED);
  const char first = p[0];
  EXPECT_EQ(RunInChild([&] {
              if (p[0] != first) return 1;
              p[0] = '#';
              return p[0] == '#' ? 0 : 2;
            }),
            0);
  EXPECT_EQ(p[0], first);
  munmap(p, 4096);
}

TEST(Fork, ChildInheritsFdsAndOffsetIsShared) {
  Fd fd(open("/etc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(RunInChild([&] {
              char c[10];
              return read(fd.get(), c, sizeof(c)) == 10 ? 0 : 1;
            }),
            0);
  // The open file description (and its offset) is shared.
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 10);
}

TEST(Fork, ManyForksInALoopAllExit) {
  for (int i = 0; i < 50; ++i) {
    const int code = i % 7;
    ASSERT_EQ(RunInChild([&] { return code; }), code) << "iteration " << i;
  }
}

TEST(Vfork, ParentResumesAfterChildExits) {
  const pid_t pid = vfork();
  if (pid == 0) _exit(5);
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 5);
}

TEST(Clone, SighandWithoutVmFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0), FailsWith(EINVAL));
}

TEST(Clone, ThreadWithoutSighandFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_clone, CLONE_THREAD | CLONE_VM | SIGCHLD, 0, 0, 0, 0), FailsWith(EINVAL));
}

TEST(Clone, NewNamespaceWithSharedFsFailsWithEinval) {
  EXPECT_THAT(Sys(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0, 0), FailsWith(EINVAL));
}

TEST(Clone, ParentSettidWritesTheChildPidInTheParent) {
  pid_t ptid = 0;
  const long pid = syscall(SYS_clone, CLONE_PARENT_SETTID | SIGCHLD, 0, &ptid, 0, 0);
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(ptid, pid);
  EXPECT_EQ(WaitStatus(static_cast<pid_t>(pid)), 0);
}

TEST(Clone, ExitSignalOtherThanSigchldNeedsWclone) {
  const long pid = syscall(SYS_clone, 0 /* no exit signal */, 0, 0, 0, 0);
  if (pid == 0) _exit(4);
  ASSERT_GT(pid, 0);
  int st = 0;
  // A "clone" child is invisible to a plain wait...
  EXPECT_THAT(Sys(SYS_wait4, pid, &st, WNOHANG, 0), FailsWith(ECHILD));
  // ...and found with __WCLONE or __WALL.
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &st, __WCLONE), pid);
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 4);
}

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

TEST(Clone3, TooSmallFailsWithEinval) {
  CloneArgs a{};
  a.exit_signal = SIGCHLD;
  EXPECT_THAT(Sys(SYS_clone3, &a, 63), FailsWith(EINVAL));
}

TEST(Clone3, LargerThanAPageFailsWithE2big) {
  std::vector<uint8_t> big(8192, 0);
  EXPECT_THAT(Sys(SYS_clone3, big.data(), big.size()), FailsWith(E2BIG));
}

TEST(Clone3, NonzeroUnknownTailFailsWithE2big) {
  std::vector<uint64_t> args(16, 0);
  args[4] = SIGCHLD;
  args[15] = 1;
  EXPECT_THAT(Sys(SYS_clone3, args.data(), args.size() * 8), FailsWith(E2BIG));
}

TEST(Clone3, ExitSignalInFlagsFailsWithEinval) {
  CloneArgs a{};
  a.flags = SIGCHLD;
  EXPECT_THAT(Sys(SYS_clone3, &a, sizeof(a)), FailsWith(EINVAL));
}

TEST(Clone3, StackWithoutSizeFailsWithEinval) {
  CloneArgs a{};
  a.exit_signal = SIGCHLD;
  a.stack = 0x10000;
  EXPECT_THAT(Sys(SYS_clone3, &a, sizeof(a)), FailsWith(EINVAL));
}

TEST(Clone3, ForksLikeFork) {
  CloneArgs a{};
  a.exit_signal = SIGCHLD;
  const long pid = syscall(SYS_clone3, &a, sizeof(a));
  if (pid == 0) _exit(9);
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(static_cast<pid_t>(pid));
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 9);
}

}  // namespace
}  // namespace syscall_test
