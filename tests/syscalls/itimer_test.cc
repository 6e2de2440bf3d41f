// alarm, setitimer, getitimer (ITIMER_REAL).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

namespace syscall_test {
namespace {

volatile sig_atomic_t g_alarms = 0;
void AlarmHandler(int) { g_alarms = g_alarms + 1; }

class AlarmHandlerScope {
 public:
  AlarmHandlerScope() {
    struct sigaction sa {};
    sa.sa_handler = AlarmHandler;
    sigaction(SIGALRM, &sa, &old_);
    g_alarms = 0;
  }
  ~AlarmHandlerScope() {
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &old_, nullptr);
  }

 private:
  struct sigaction old_;
};

TEST(Alarm, ReturnsTheSecondsLeftOfThePreviousAlarm) {
  AlarmHandlerScope scope;
  EXPECT_EQ(Sys(SYS_alarm, 100).ret, 0);
  EXPECT_EQ(Sys(SYS_alarm, 0).ret, 100);
  EXPECT_EQ(Sys(SYS_alarm, 0).ret, 0);
}

TEST(Setitimer, OneShotTimerDeliversSigalrmOnce) {
  AlarmHandlerScope scope;
  itimerval v{};
  v.it_value.tv_usec = 20000;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_REAL, &v, nullptr), Succeeds());
  for (int i = 0; i < 200 && g_alarms == 0; ++i) usleep(5000);
  usleep(60000);
  EXPECT_EQ(g_alarms, 1);
  itimerval cur{};
  ASSERT_THAT(Sys(SYS_getitimer, ITIMER_REAL, &cur), Succeeds());
  EXPECT_EQ(cur.it_value.tv_sec, 0);
  EXPECT_EQ(cur.it_value.tv_usec, 0);
}

TEST(Setitimer, IntervalTimerRepeats) {
  AlarmHandlerScope scope;
  itimerval v{};
  v.it_value.tv_usec = 10000;
  v.it_interval.tv_usec = 10000;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_REAL, &v, nullptr), Succeeds());
  for (int i = 0; i < 400 && g_alarms < 3; ++i) usleep(5000);
  EXPECT_GE(g_alarms, 3);
  itimerval old{};
  itimerval off{};
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_REAL, &off, &old), Succeeds());
  EXPECT_EQ(old.it_interval.tv_usec, 10000);
}

TEST(Setitimer, InvalidMicrosecondsFailWithEinval) {
  itimerval v{};
  v.it_value.tv_usec = 1000000;
  EXPECT_THAT(Sys(SYS_setitimer, ITIMER_REAL, &v, nullptr), FailsWith(EINVAL));
}

TEST(Alarm, DefaultActionKillsTheProcessWithSigalrm) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(1);
    for (;;) pause();
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGALRM);
}

}  // namespace
}  // namespace syscall_test
