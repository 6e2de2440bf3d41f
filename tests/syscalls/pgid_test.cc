// setpgid(2), getpgid(2), getpgrp(2), setsid(2), getsid(2): Linux's rules
// (kernel/sys.c) and kill(2) to process groups.
#include <signal.h>
#include <sys/syscall.h>

#include <atomic>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

TEST(Getpgid, ZeroIsTheCaller) {
  EXPECT_EQ(getpgid(0), getpgrp());
  EXPECT_EQ(getpgid(getpid()), getpgrp());
  EXPECT_EQ(getsid(0), getsid(getpid()));
}

TEST(Getpgid, UnknownPidFailsWithEsrch) {
  EXPECT_THAT(Sys(SYS_getpgid, 0x3ffffff0), FailsWith(ESRCH));
  EXPECT_THAT(Sys(SYS_getsid, 0x3ffffff0), FailsWith(ESRCH));
}

TEST(Setpgid, ChildInheritsTheParentsGroupAndSession) {
  const pid_t pgrp = getpgrp(), sid = getsid(0);
  EXPECT_EQ(RunInChild([&] { return getpgrp() == pgrp && getsid(0) == sid ? 0 : 1; }), 0);
}

TEST(Setpgid, ParentMovesChildIntoItsOwnGroup) {
  auto* go = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] {
    SpinUntil([&] { return go->load() == 1; });
    return getpgrp() == getpid() ? 0 : 1;
  });
  ASSERT_EQ(setpgid(pid, pid), 0);
  EXPECT_EQ(getpgid(pid), pid);
  go->store(1);
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(Setpgid, ChildJoinsAnExistingGroupOfItsSession) {
  EXPECT_EQ(RunInChild([] {
              if (setpgid(0, 0) != 0) return 1;
              const pid_t leader = getpid();
              return RunInChild([&] {
                if (setpgid(0, getpgid(getppid())) != 0) return 2;
                return getpgrp() == leader ? 0 : 3;
              });
            }),
            0);
}

TEST(Setpgid, NegativeGroupFailsWithEinval) { EXPECT_THAT(Sys(SYS_setpgid, 0, -1), FailsWith(EINVAL)); }

TEST(Setpgid, UnrelatedProcessFailsWithEsrch) {
  EXPECT_THAT(Sys(SYS_setpgid, 0x3ffffff0, 0), FailsWith(ESRCH));
}

TEST(Setpgid, GroupOfNobodyFailsWithEperm) {
  EXPECT_EQ(RunInChild([] {
              errno = 0;
              return setpgid(0, 0x3ffffff0) == -1 && errno == EPERM ? 0 : 1;
            }),
            0);
}

TEST(Setsid, ChildBecomesSessionAndGroupLeader) {
  EXPECT_EQ(RunInChild([] {
              if (setsid() != getpid()) return 1;
              if (getsid(0) != getpid() || getpgrp() != getpid()) return 2;
              // A session leader cannot move to another group...
              errno = 0;
              if (setpgid(0, 0) != -1 || errno != EPERM) return 3;
              // ...nor start another session.
              errno = 0;
              if (setsid() != -1 || errno != EPERM) return 4;
              return 0;
            }),
            0);
}

TEST(Setsid, GroupLeaderFailsWithEperm) {
  EXPECT_EQ(RunInChild([] {
              if (setpgid(0, 0) != 0) return 1;
              errno = 0;
              return setsid() == -1 && errno == EPERM ? 0 : 2;
            }),
            0);
}

TEST(Setpgid, ChildInAnotherSessionFailsWithEperm) {
  auto* state = SharedPage<std::atomic<int>>();
  const pid_t pid = ForkChild([&] {
    setsid();
    state->store(1);
    SpinUntil([&] { return state->load() == 2; });
    return 0;
  });
  ASSERT_TRUE(SpinUntil([&] { return state->load() == 1; }));
  EXPECT_THAT(Sys(SYS_setpgid, pid, pid), FailsWith(EPERM));
  state->store(2);
  EXPECT_EQ(WaitStatus(pid), 0);
}

TEST(KillGroup, SignalsEveryMemberOfTheGroup) {
  EXPECT_EQ(RunInChild([] {
              if (setpgid(0, 0) != 0) return 1;
              auto* go = SharedPage<std::atomic<int>>();
              const pid_t a = ForkChild([&] { SpinUntil([&] { return go->load() == 1; }); return 0; });
              const pid_t b = ForkChild([&] { SpinUntil([&] { return go->load() == 1; }); return 0; });
              signal(SIGUSR1, SIG_IGN);  // the caller is in the group too
              if (kill(-getpgrp(), SIGUSR1) != 0) return 2;
              // The children's SIGUSR1 was not ignored (fork copies SIG_IGN
              // only after it was set; these were forked before).
              const int sa = WaitStatus(a), sb = WaitStatus(b);
              go->store(1);
              return WIFSIGNALED(sa) && WTERMSIG(sa) == SIGUSR1 && WIFSIGNALED(sb) && WTERMSIG(sb) == SIGUSR1 ? 0 : 3;
            }),
            0);
}

}  // namespace
}  // namespace syscall_test
