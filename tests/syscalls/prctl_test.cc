// prctl(2): names, parent-death signals, child subreapers, no_new_privs,
// dumpable, capability bounding set and keepcaps, PR_SET_MM checks; and
// personality(2).
#include <linux/capability.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

TEST(PrctlName, SetTruncatesTo15BytesAndGetReturnsIt) {
  char old[16] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, old), 0);
  ASSERT_EQ(prctl(PR_SET_NAME, "a-very-long-thread-name"), 0);
  char buf[16] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, buf), 0);
  EXPECT_STREQ(buf, "a-very-long-thr");
  EXPECT_THAT(Sys(SYS_prctl, PR_SET_NAME, UnmappedAddress()), FailsWith(EFAULT));
  prctl(PR_SET_NAME, old);
}

TEST(PrctlPdeathsig, GetReturnsTheSignalAndForkClearsIt) {
  ASSERT_EQ(prctl(PR_SET_PDEATHSIG, SIGUSR1), 0);
  int sig = 0;
  ASSERT_EQ(prctl(PR_GET_PDEATHSIG, &sig), 0);
  EXPECT_EQ(sig, SIGUSR1);
  EXPECT_EQ(RunInChild([] {
              int s = -1;
              prctl(PR_GET_PDEATHSIG, &s);
              return s;
            }),
            0);
  ASSERT_EQ(prctl(PR_SET_PDEATHSIG, 0), 0);
  EXPECT_THAT(Sys(SYS_prctl, PR_SET_PDEATHSIG, 65), FailsWith(EINVAL));
}

TEST(PrctlPdeathsig, DeliveredWhenTheParentExits) {
  // Middle process forks a grandchild that asks for SIGUSR1 on its parent's
  // death and reports through a pipe whether the signal came.
  Pipe p = MakePipe();
  const int wfd = p.write_end.get();
  const int code = RunInChild([wfd] {
    Pipe ready = MakePipe();
    const pid_t gc = fork();
    if (gc == 0) {
      static volatile sig_atomic_t got = 0;
      struct sigaction sa {};
      sa.sa_handler = [](int) { got = 1; };
      sigaction(SIGUSR1, &sa, nullptr);
      if (prctl(PR_SET_PDEATHSIG, SIGUSR1) != 0) _exit(1);
      char c = 'r';
      if (write(ready.write_end.get(), &c, 1) != 1) _exit(1);
      for (int i = 0; i < 20000 && !got; ++i) usleep(500);
      char r = got ? 'y' : 'n';
      if (write(wfd, &r, 1) != 1) _exit(1);
      _exit(0);
    }
    char c;
    if (read(ready.read_end.get(), &c, 1) != 1) return 1;
    return 0;  // the middle process exits: the grandchild is orphaned
  });
  ASSERT_EQ(code, 0);
  p.write_end.Reset();
  char r = 0;
  ASSERT_EQ(read(p.read_end.get(), &r, 1), 1);
  EXPECT_EQ(r, 'y');
}

// The "parent" of PR_SET_PDEATHSIG is the thread that forked the child
// (kernel/exit.c forget_original_parent): the signal comes when that
// thread exits, though its process lives on and the child, reparented to
// another thread of it, keeps its ppid.
TEST(PrctlPdeathsig, DeliveredWhenTheForkingThreadExits) {
  EXPECT_EQ(RunInChild([] {
              Pipe ready = MakePipe(), report = MakePipe();
              const pid_t me = getpid();
              pid_t gc = -1;
              std::thread t([&] {
                gc = fork();
                if (gc == 0) {
                  static volatile sig_atomic_t got = 0;
                  struct sigaction sa {};
                  sa.sa_handler = [](int) { got = 1; };
                  sigaction(SIGUSR1, &sa, nullptr);
                  if (prctl(PR_SET_PDEATHSIG, SIGUSR1) != 0) _exit(1);
                  char c = 'r';
                  if (write(ready.write_end.get(), &c, 1) != 1) _exit(1);
                  for (int i = 0; i < 10000 && !got; ++i) usleep(500);
                  const char r = !got ? 'n' : getppid() == me ? 'y' : 'p';
                  (void)!write(report.write_end.get(), &r, 1);
                  _exit(0);
                }
                char c;
                (void)!read(ready.read_end.get(), &c, 1);
              });
              t.join();  // the forking thread is gone, the process is not
              char r = 0;
              if (read(report.read_end.get(), &r, 1) != 1) return 2;
              int st = 0;
              if (waitpid(gc, &st, 0) != gc) return 3;  // reaped by this thread
              return r == 'y' ? 0 : r == 'n' ? 4 : 5;
            }),
            0);
}

TEST(PrctlSubreaper, OrphansGoToTheNearestSubreaper) {
  int v = -1;
  ASSERT_EQ(prctl(PR_GET_CHILD_SUBREAPER, &v), 0);
  EXPECT_EQ(v, 0);
  // A child becomes a subreaper; its child forks a grandchild and exits.
  // The orphaned grandchild must be reparented to the subreaper, which
  // then reaps it.
  const int code = RunInChild([] {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return 1;
    int s = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &s) != 0 || s != 1) return 2;
    const pid_t me = getpid();
    Pipe p = MakePipe();
    const pid_t mid = fork();
    if (mid == 0) {
      const pid_t gc = fork();
      if (gc == 0) {
        // Wait until reparented, then tell the subreaper our new ppid.
        for (int i = 0; i < 20000 && getppid() != me; ++i) usleep(500);
        const pid_t pp = getppid();
        if (write(p.write_end.get(), &pp, sizeof(pp)) != sizeof(pp)) _exit(1);
        _exit(7);
      }
      _exit(0);
    }
    if (waitpid(mid, nullptr, 0) != mid) return 3;
    pid_t pp = 0;
    if (read(p.read_end.get(), &pp, sizeof(pp)) != sizeof(pp)) return 4;
    if (pp != me) return 5;
    int st = 0;
    const pid_t r = wait(&st);  // the grandchild is now our child
    if (r <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 7) return 6;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(PrctlNoNewPrivs, SetOnceAndInherited) {
  EXPECT_THAT(Sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), FailsWith(EINVAL));
  EXPECT_EQ(RunInChild([] {
              if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return 1;
              if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
              if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 3;
              return RunInChild([] { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 4; });
            }),
            0);
}

TEST(PrctlDumpable, SetAndGetAndBadValueIsEinval) {
  EXPECT_EQ(RunInChild([] {
              if (prctl(PR_GET_DUMPABLE) != 1) return 1;
              if (prctl(PR_SET_DUMPABLE, 0) != 0) return 2;
              if (prctl(PR_GET_DUMPABLE) != 0) return 3;
              if (prctl(PR_SET_DUMPABLE, 2) != -1 || errno != EINVAL) return 4;
              return 0;
            }),
            0);
}

TEST(PrctlCaps, BoundingSetReadAndDrop) {
  EXPECT_THAT(Sys(SYS_prctl, PR_CAPBSET_READ, 1000), FailsWith(EINVAL));
  if (prctl(PR_CAPBSET_READ, CAP_SETPCAP) != 1) GTEST_SKIP() << "needs CAP_SETPCAP";
  EXPECT_EQ(RunInChild([] {
              if (prctl(PR_CAPBSET_READ, CAP_CHOWN) != 1) return 1;
              if (prctl(PR_CAPBSET_DROP, CAP_CHOWN) != 0) return 2;
              if (prctl(PR_CAPBSET_READ, CAP_CHOWN) != 0) return 3;
              if (setuid(1000) != 0) return 4;
              // Without CAP_SETPCAP the bounding set is fixed.
              if (prctl(PR_CAPBSET_DROP, CAP_KILL) != -1 || errno != EPERM) return 5;
              return 0;
            }),
            0);
}

TEST(PrctlCaps, KeepcapsRejectsBadArguments) {
  EXPECT_THAT(Sys(SYS_prctl, PR_SET_KEEPCAPS, 2, 0, 0, 0), FailsWith(EINVAL));
  EXPECT_EQ(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
}

TEST(PrctlMm, MapSizeIsReportedAndChangesNeedCapSysResource) {
  unsigned int size = 0;
  ASSERT_EQ(prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0), 0);
  EXPECT_EQ(size, 104u);
  EXPECT_EQ(RunInChild([] {
              if (setuid(1000) != 0) return 1;
              if (prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x10000000, 0, 0) != -1 || errno != EPERM) return 2;
              return 0;
            }),
            0);
  if (prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE) != 1) GTEST_SKIP() << "needs CAP_SYS_RESOURCE";
  EXPECT_EQ(RunInChild([] {
              if (prctl(PR_SET_MM, 1000, 0x10000000, 0, 0) != -1 || errno != EINVAL) return 1;
              if (prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x10, 0, 0) != -1 || errno != EINVAL) return 2;
              return 0;
            }),
            0);
}

TEST(Prctl, UnknownOptionIsEinval) { EXPECT_THAT(Sys(SYS_prctl, 0x7fff1234, 0, 0, 0, 0), FailsWith(EINVAL)); }

TEST(Personality, QueryReturnsPerLinux) {
  EXPECT_EQ(personality(0xffffffff) & PER_MASK, PER_LINUX);
  EXPECT_EQ(RunInChild([] {
              const int old = personality(ADDR_NO_RANDOMIZE);
              if ((old & PER_MASK) != PER_LINUX) return 1;
              if (personality(0xffffffff) != ADDR_NO_RANDOMIZE) return 2;
              return 0;
            }),
            0);
}

}  // namespace
}  // namespace syscall_test
