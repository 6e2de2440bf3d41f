// Per-task CPU time and resource accounting: the CPU clocks (own thread,
// own process, from a pid or a pthread), getrusage's counters, the CPU-time
// interval timers (ITIMER_VIRTUAL, ITIMER_PROF), CPU-clock POSIX timers and
// clock_nanosleep on CPU clocks, and /proc/self/{stat,status}. No timing
// assertions beyond "advanced" and "less than wall time".
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

int64_t Ns(clockid_t c) {
  struct timespec ts {};
  clock_gettime(c, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t TvNs(const struct timeval& tv) { return static_cast<int64_t>(tv.tv_sec) * 1000000000 + tv.tv_usec * 1000; }

// Spins in app code (no system calls) until `clock` advanced by `ns`, or
// `max_wall_ns` of wall time passed.
void BurnCpu(clockid_t clock, int64_t ns, int64_t max_wall_ns = 5000000000) {
  const int64_t start = Ns(clock), wall = Ns(CLOCK_MONOTONIC);
  volatile uint64_t x = 0;
  while (Ns(clock) - start < ns && Ns(CLOCK_MONOTONIC) - wall < max_wall_ns) {
    for (int i = 0; i < 200000; ++i) x = x + i;
  }
}

TEST(CpuClock, ThreadClockAdvancesWithABusyLoopAndStaysBelowWallTime) {
  const int64_t cpu0 = Ns(CLOCK_THREAD_CPUTIME_ID), wall0 = Ns(CLOCK_MONOTONIC);
  BurnCpu(CLOCK_MONOTONIC, 200000000);
  const int64_t cpu = Ns(CLOCK_THREAD_CPUTIME_ID) - cpu0, wall = Ns(CLOCK_MONOTONIC) - wall0;
  EXPECT_GT(cpu, 10000000);  // 10 ms of 200 ms even on a loaded machine
  // Below wall time: a 1% allowance covers the sandbox's accounting lag
  // (the host charges a stopping stub's last microseconds to its next run),
  // while counting the run twice (app and tracer) would still fail.
  EXPECT_LT(cpu, wall + wall / 100);
}

TEST(CpuClock, ProcessClockCoversTheThreadClock) {
  BurnCpu(CLOCK_MONOTONIC, 50000000);
  const int64_t thread = Ns(CLOCK_THREAD_CPUTIME_ID);
  const int64_t process = Ns(CLOCK_PROCESS_CPUTIME_ID);
  EXPECT_GE(process, thread);
}

TEST(CpuClock, ClockFromOwnPidIsTheProcessClock) {
  clockid_t c;
  ASSERT_EQ(clock_getcpuclockid(getpid(), &c), 0);
  const int64_t a = Ns(c);
  BurnCpu(CLOCK_MONOTONIC, 100000000);
  EXPECT_GT(Ns(c), a);
}

TEST(CpuClock, ClockOfAChildProcessAdvancesWhileItSpins) {
  const pid_t pid = ForkChild([] {
    BurnCpu(CLOCK_MONOTONIC, 3000000000);
    return 0;
  });
  ASSERT_GT(pid, 0);
  clockid_t c;
  ASSERT_EQ(clock_getcpuclockid(pid, &c), 0);
  // The child never enters the kernel: its clock must still move.
  int64_t seen = 0;
  for (int i = 0; i < 300 && seen < 20000000; ++i) {
    usleep(10000);
    seen = Ns(c);
  }
  EXPECT_GE(seen, 20000000);
  kill(pid, SIGKILL);
  WaitStatus(pid);
}

TEST(CpuClock, PthreadClockOfABusyThreadAdvances) {
  std::atomic<bool> stop{false};
  std::thread th([&] {
    volatile uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  clockid_t c;
  ASSERT_EQ(pthread_getcpuclockid(th.native_handle(), &c), 0);
  const int64_t a = Ns(c);
  int64_t b = a;
  for (int i = 0; i < 300 && b - a < 20000000; ++i) {
    usleep(10000);
    b = Ns(c);
  }
  stop = true;
  th.join();
  EXPECT_GE(b - a, 20000000);
  // The process clock includes the other thread's time.
  EXPECT_GE(Ns(CLOCK_PROCESS_CPUTIME_ID), b - a);
}

// Spins `iterations` rounds of the same loop as BurnCpu (no system calls).
void Work(uint64_t iterations) {
  volatile uint64_t x = 0;
  for (uint64_t n = 0; n < iterations; ++n) {
    for (int i = 0; i < 20000; ++i) x = x + i;
  }
}

// This thread's utime + stime from /proc/thread-self/stat, in ns.
int64_t ProcStatCpuNs();

// A thread's clock counts its own work, not that of the other threads of
// its process that run at the same time (maybe on the same CPU): the same
// work costs about the same CPU time alone and beside three spinning
// threads, while an account that shares the process's time out by wall
// time credits the thread several times its work. Also the process clock
// covers every thread's, and /proc/thread-self/stat agrees with the clock.
struct BesideBusy {
  int64_t alone = 0, beside = 0, stat_ns = 0, clock_ns = 0, process = 0, sum = 0;
};

BesideBusy MeasureBesideBusyThreads() {
  BesideBusy m;
  std::atomic<bool> stop{false};
  std::atomic<int> spinning{0};
  std::vector<int64_t> helper_ns(3);
  const int64_t p0 = Ns(CLOCK_PROCESS_CPUTIME_ID);
  std::thread measured([&] {
    // Calibrate: as many rounds as take 50 ms of CPU alone.
    uint64_t rounds = 0;
    int64_t t0 = Ns(CLOCK_THREAD_CPUTIME_ID);
    const int64_t wall0 = Ns(CLOCK_MONOTONIC);
    while (Ns(CLOCK_THREAD_CPUTIME_ID) - t0 < 50000000 && Ns(CLOCK_MONOTONIC) - wall0 < 5000000000) {
      Work(10);
      rounds += 10;
    }
    t0 = Ns(CLOCK_THREAD_CPUTIME_ID);
    Work(rounds);
    m.alone = Ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    // The same work beside three spinners.
    std::vector<std::thread> helpers;
    for (size_t i = 0; i < helper_ns.size(); ++i) {
      helpers.emplace_back([&, i] {
        const int64_t h0 = Ns(CLOCK_THREAD_CPUTIME_ID);
        spinning.fetch_add(1);
        volatile uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x + 1;
        helper_ns[i] = Ns(CLOCK_THREAD_CPUTIME_ID) - h0;
      });
    }
    while (spinning.load() < static_cast<int>(helpers.size())) sched_yield();
    t0 = Ns(CLOCK_THREAD_CPUTIME_ID);
    Work(rounds);
    m.clock_ns = Ns(CLOCK_THREAD_CPUTIME_ID);
    m.beside = m.clock_ns - t0;
    m.stat_ns = ProcStatCpuNs();
    stop = true;
    for (auto& h : helpers) h.join();
  });
  measured.join();
  m.process = Ns(CLOCK_PROCESS_CPUTIME_ID) - p0;
  m.sum = m.alone + m.beside;
  for (int64_t h : helper_ns) m.sum += h;
  return m;
}

TEST(CpuClock, ThreadClockCountsOnlyItsOwnWorkBesideBusyThreads) {
  // The same work really costs more CPU time beside busy threads on a
  // loaded VM (shared caches, a sibling hyperthread, steal time): natively
  // it once took 4x. A wrong account is off every time, so the best of
  // three tries is judged.
  BesideBusy m;
  for (int attempt = 0; attempt < 3; ++attempt) {
    m = MeasureBesideBusyThreads();
    if (m.alone > 0 && m.beside < m.alone * 5 / 2 + 5000000) break;
  }
  ASSERT_GT(m.alone, 0);
  EXPECT_LT(m.beside, m.alone * 5 / 2 + 5000000) << "alone " << m.alone;
  EXPECT_GT(m.beside, m.alone / 3) << "alone " << m.alone;
  EXPECT_GE(m.process, m.sum);
  // proc(5) stat: clock ticks, so allow a few ticks either way.
  EXPECT_NEAR(m.stat_ns, m.clock_ns, 30000000 + m.clock_ns / 10);
}

TEST(CpuClock, ClockNanosleepOnTheThreadClockFailsWithEinval) {
  struct timespec ts {0, 1000};
  EXPECT_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, nullptr), EINVAL);
}

TEST(CpuClock, ClockNanosleepOnTheProcessClockWaitsForCpuTime) {
  std::atomic<bool> stop{false};
  std::thread th([&] {
    volatile uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  const int64_t before = Ns(CLOCK_PROCESS_CPUTIME_ID);
  struct timespec ts {0, 30000000};
  EXPECT_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, nullptr), 0);
  EXPECT_GE(Ns(CLOCK_PROCESS_CPUTIME_ID) - before, 30000000);
  // An absolute time already passed returns at once.
  struct timespec past {0, 1};
  EXPECT_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &past, nullptr), 0);
  stop = true;
  th.join();
}

volatile sig_atomic_t g_prof = 0, g_vtalrm = 0, g_timer = 0;
void OnProf(int) { g_prof = g_prof + 1; }
void OnVtalrm(int) { g_vtalrm = g_vtalrm + 1; }
void OnTimer(int) { g_timer = g_timer + 1; }

class Handler {
 public:
  Handler(int sig, void (*fn)(int)) : sig_(sig) {
    struct sigaction sa {};
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, &old_);
  }
  ~Handler() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ {};
};

// Spins until `*counter` reaches n (or 5 s of wall time).
void SpinUntil(volatile sig_atomic_t* counter, int n) {
  const int64_t wall = Ns(CLOCK_MONOTONIC);
  volatile uint64_t x = 0;
  while (*counter < n && Ns(CLOCK_MONOTONIC) - wall < 5000000000) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

TEST(CpuItimer, ProfFiresDuringABusyLoopAndRepeats) {
  Handler h(SIGPROF, OnProf);
  g_prof = 0;
  itimerval v{};
  v.it_value.tv_usec = 10000;
  v.it_interval.tv_usec = 10000;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_PROF, &v, nullptr), Succeeds());
  itimerval cur{};
  ASSERT_THAT(Sys(SYS_getitimer, ITIMER_PROF, &cur), Succeeds());
  EXPECT_EQ(cur.it_interval.tv_usec, 10000);
  EXPECT_GT(cur.it_value.tv_sec * 1000000 + cur.it_value.tv_usec, 0);  // Linux rounds up to a tick
  SpinUntil(&g_prof, 3);
  itimerval off{}, old{};
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_PROF, &off, &old), Succeeds());
  EXPECT_GE(g_prof, 3);
  EXPECT_EQ(old.it_interval.tv_usec, 10000);
  ASSERT_THAT(Sys(SYS_getitimer, ITIMER_PROF, &cur), Succeeds());
  EXPECT_EQ(cur.it_value.tv_sec + cur.it_value.tv_usec, 0);
}

TEST(CpuItimer, VirtualFiresOnceDuringABusyLoop) {
  Handler h(SIGVTALRM, OnVtalrm);
  g_vtalrm = 0;
  itimerval v{};
  v.it_value.tv_usec = 20000;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_VIRTUAL, &v, nullptr), Succeeds());
  SpinUntil(&g_vtalrm, 1);
  EXPECT_EQ(g_vtalrm, 1);
  // One-shot: disarmed after firing.
  itimerval cur{};
  ASSERT_THAT(Sys(SYS_getitimer, ITIMER_VIRTUAL, &cur), Succeeds());
  EXPECT_EQ(cur.it_value.tv_sec + cur.it_value.tv_usec, 0);
}

TEST(CpuItimer, VirtualDoesNotRunWhileSleeping) {
  Handler h(SIGVTALRM, OnVtalrm);
  g_vtalrm = 0;
  itimerval v{};
  v.it_value.tv_sec = 1;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_VIRTUAL, &v, nullptr), Succeeds());
  usleep(50000);
  itimerval cur{};
  ASSERT_THAT(Sys(SYS_getitimer, ITIMER_VIRTUAL, &cur), Succeeds());
  // Sleeping uses (almost) no user time: most of the second is left.
  EXPECT_GT(cur.it_value.tv_sec * 1000000 + cur.it_value.tv_usec, 900000);
  itimerval off{};
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_VIRTUAL, &off, nullptr), Succeeds());
  EXPECT_EQ(g_vtalrm, 0);
}

// ITIMER_PROF and ITIMER_VIRTUAL count the whole process: a spinning
// thread makes them fire while the thread that armed them only waits (the
// signal, blocked everywhere, stays pending for its sigtimedwait).
TEST(CpuItimer, OtherThreadsCpuTimeCounts) {
  for (const auto& [which, sig] : {std::pair{ITIMER_PROF, SIGPROF}, std::pair{ITIMER_VIRTUAL, SIGVTALRM}}) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, sig);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
    std::atomic<bool> stop{false};
    std::thread spinner([&] {
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
    itimerval v{};
    v.it_value.tv_usec = 20000;
    ASSERT_THAT(Sys(SYS_setitimer, which, &v, nullptr), Succeeds());
    struct timespec timeout {10, 0};
    const int got = sigtimedwait(&set, nullptr, &timeout);
    stop = true;
    spinner.join();
    itimerval off{};
    ASSERT_THAT(Sys(SYS_setitimer, which, &off, nullptr), Succeeds());
    EXPECT_EQ(got, sig);
    // Nothing left pending once the timer is off.
    struct timespec zero {0, 0};
    sigtimedwait(&set, nullptr, &zero);
    ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  }
}

TEST(CpuItimer, NotInheritedByForkChildren) {
  itimerval v{};
  v.it_value.tv_sec = 100;
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_PROF, &v, nullptr), Succeeds());
  EXPECT_EQ(RunInChild([] {
              itimerval cur{};
              getitimer(ITIMER_PROF, &cur);
              return cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 ? 0 : 1;
            }),
            0);
  itimerval off{};
  ASSERT_THAT(Sys(SYS_setitimer, ITIMER_PROF, &off, nullptr), Succeeds());
}

TEST(CpuTimer, ProcessCpuClockTimerFiresDuringABusyLoop) {
  Handler h(SIGUSR1, OnTimer);
  g_timer = 0;
  struct sigevent ev {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  timer_t id;
  ASSERT_EQ(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), 0);
  struct itimerspec its {};
  its.it_value.tv_nsec = 20000000;
  ASSERT_EQ(timer_settime(id, 0, &its, nullptr), 0);
  struct itimerspec cur {};
  ASSERT_EQ(timer_gettime(id, &cur), 0);
  EXPECT_GT(cur.it_value.tv_nsec, 0);
  EXPECT_LE(cur.it_value.tv_nsec, 20000000);
  SpinUntil(&g_timer, 1);
  EXPECT_EQ(g_timer, 1);
  ASSERT_EQ(timer_gettime(id, &cur), 0);
  EXPECT_EQ(cur.it_value.tv_sec + cur.it_value.tv_nsec, 0);
  timer_delete(id);
}

TEST(CpuTimer, ThreadCpuClockTimerDoesNotFireWhileTheThreadSleeps) {
  Handler h(SIGUSR1, OnTimer);
  g_timer = 0;
  struct sigevent ev {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  timer_t id;
  ASSERT_EQ(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &id), 0);
  struct itimerspec its {};
  its.it_value.tv_sec = 1;
  ASSERT_EQ(timer_settime(id, 0, &its, nullptr), 0);
  usleep(50000);
  EXPECT_EQ(g_timer, 0);
  struct itimerspec cur {};
  ASSERT_EQ(timer_gettime(id, &cur), 0);
  EXPECT_TRUE(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 900000000) << cur.it_value.tv_nsec;
  timer_delete(id);
}

TEST(Rusage, ThreadUserTimeAdvancesWithABusyLoop) {
  struct rusage a {}, b {};
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &a), 0);
  const int64_t wall0 = Ns(CLOCK_MONOTONIC);
  BurnCpu(CLOCK_MONOTONIC, 200000000);
  const int64_t wall = Ns(CLOCK_MONOTONIC) - wall0;
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &b), 0);
  const int64_t user = TvNs(b.ru_utime) - TvNs(a.ru_utime);
  const int64_t sys = TvNs(b.ru_stime) - TvNs(a.ru_stime);
  EXPECT_GT(user, 10000000);
  EXPECT_LT(user + sys, wall + wall / 100);  // see ThreadClockAdvances...: 1% accounting lag
}

TEST(Rusage, TouchingMemoryCountsFaultsAndRaisesMaxrss) {
  struct rusage a {}, b {};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &a), 0);
  constexpr size_t kLen = 32 << 20;
  char* p = static_cast<char*>(mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < kLen; i += 4096) p[i] = 1;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &b), 0);
  munmap(p, kLen);
  EXPECT_GT(b.ru_minflt, a.ru_minflt);
  EXPECT_GE(b.ru_maxrss, 32 * 1024);  // KiB
}

TEST(Rusage, SleepingCountsVoluntaryContextSwitches) {
  struct rusage a {}, b {};
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &a), 0);
  for (int i = 0; i < 3; ++i) usleep(1000);
  ASSERT_EQ(getrusage(RUSAGE_THREAD, &b), 0);
  EXPECT_GE(b.ru_nvcsw - a.ru_nvcsw, 3);
}

TEST(Rusage, ChildrenGetAReapedChildsTimesFaultsAndMaxrss) {
  const pid_t pid = ForkChild([] {
    BurnCpu(CLOCK_MONOTONIC, 100000000);
    constexpr size_t kLen = 16 << 20;
    char* p = static_cast<char*>(mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < kLen; i += 4096) p[i] = 1;
    return 0;
  });
  struct rusage ru {};
  int status = 0;
  ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
  EXPECT_GT(TvNs(ru.ru_utime), 5000000);
  EXPECT_GE(ru.ru_maxrss, 16 * 1024);
  EXPECT_GE(ru.ru_minflt, 16 * 256 / 2);
  struct rusage kids {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &kids), 0);
  EXPECT_GE(kids.ru_maxrss, 16 * 1024);
  EXPECT_GE(kids.ru_minflt, ru.ru_minflt);
}

std::vector<std::string> StatFields(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> out;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return out;
  out.push_back(line.substr(0, line.find(' ')));
  out.push_back("comm");
  std::istringstream rest(line.substr(paren + 2));
  std::string s;
  while (rest >> s) out.push_back(s);
  return out;  // out[i] is field i+1 of proc(5)
}

int64_t ProcStatCpuNs() {
  const auto f = StatFields("/proc/thread-self/stat");
  if (f.size() < 15) return -1;
  return (std::stoll(f[13]) + std::stoll(f[14])) * (1000000000 / sysconf(_SC_CLK_TCK));
}

TEST(ProcStat, UtimeAndMinfltAdvance) {
  BurnCpu(CLOCK_MONOTONIC, 100000000);
  constexpr size_t kLen = 8 << 20;
  char* p = static_cast<char*>(mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < kLen; i += 4096) p[i] = 1;
  for (const std::string path : {"/proc/self/stat", "/proc/thread-self/stat"}) {
    const auto f = StatFields(path);
    ASSERT_GE(f.size(), 17u) << path;
    EXPECT_GT(std::stoll(f[9]), 8 * 256 / 2) << path << " minflt";
    EXPECT_GT(std::stoll(f[13]) + std::stoll(f[14]), 0) << path << " utime+stime";
  }
  munmap(p, kLen);
}

TEST(ProcStatus, CountsVoluntaryContextSwitches) {
  for (int i = 0; i < 3; ++i) usleep(1000);
  std::ifstream f("/proc/thread-self/status");
  std::string line;
  long long v = -1;
  while (std::getline(f, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0) v = std::stoll(line.substr(line.find(':') + 1));
  }
  EXPECT_GE(v, 3);
}

}  // namespace
}  // namespace syscall_test
