// wait4, waitid (kernel/exit.c), getrusage and times (sentry/kernel/rusage.h), and the
// process-group/session calls setpgid, setsid, getpgid, getsid.
#include <signal.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>

#include <fcntl.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/rusage.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::WaitRequest;
using sentry::kernel::WaitResult;
using sentry::kernel::WaitWho;

constexpr int kWnothread = 0x20000000;  // __WNOTHREAD
constexpr int kWall = 0x40000000;
constexpr int kWclone = static_cast<int>(0x80000000u);
constexpr int kPPidfd = 3;  // P_PIDFD

struct timeval ToTimeval(int64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<suseconds_t>((ns % 1000000000) / 1000)};
}

struct rusage ToRusage(const sentry::kernel::CpuTimes& c) {
  struct rusage ru {};
  ru.ru_utime = ToTimeval(c.utime_ns);
  ru.ru_stime = ToTimeval(c.stime_ns);
  ru.ru_maxrss = static_cast<long>(c.maxrss_kb);
  ru.ru_minflt = static_cast<long>(c.minflt);
  ru.ru_majflt = static_cast<long>(c.majflt);
  ru.ru_nvcsw = static_cast<long>(c.nvcsw);
  ru.ru_nivcsw = static_cast<long>(c.nivcsw);
  return ru;
}

sentry::kernel::CpuTimes UsageOf(const WaitResult& r) {
  sentry::kernel::CpuTimes c;
  c.utime_ns = r.utime_ns;
  c.stime_ns = r.stime_ns;
  c.minflt = r.minflt, c.majflt = r.majflt, c.nvcsw = r.nvcsw, c.nivcsw = r.nivcsw;
  c.maxrss_kb = r.maxrss_kb;
  return c;
}

// A signal ended the wait: restart it if no handler runs (Linux returns
// ERESTARTSYS from do_wait).
Result<WaitResult> DoWait(Task& t, const WaitRequest& req) {
  auto r = t.kernel().Wait(t, req);
  if (!r.ok() && r.error() == Errno::kEINTR) return Errno::kERESTARTSYS;
  return r;
}

}  // namespace

Result<uint64_t> Wait4(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const auto status_ptr = args.Ptr<int32_t>(1);
  const int options = args.I32(2);
  const auto rusage_ptr = args.Ptr<struct rusage>(3);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | kWnothread | kWall | kWclone)) return Errno::kEINVAL;
  // kernel_wait4(): INT_MIN would be -INT_MIN.
  if (pid == INT32_MIN) return Errno::kESRCH;
  WaitRequest req;
  req.options = options | WEXITED;
  if (pid == -1) {
    req.who = WaitWho::kAll;
  } else if (pid < 0) {
    req.who = WaitWho::kPgid;
    req.id = -pid;
  } else if (pid == 0) {
    req.who = WaitWho::kPgid;
    req.id = t.thread_group().pgid;
  } else {
    req.who = WaitWho::kPid;
    req.id = pid;
  }
  const WaitResult r = TRY(DoWait(t, req));
  if (r.pid == 0) return 0;
  if (!status_ptr.null()) TRY(t.mm().CopyOut(status_ptr, static_cast<int32_t>(r.status)));
  if (!rusage_ptr.null()) TRY(t.mm().CopyOut(rusage_ptr, ToRusage(UsageOf(r))));
  return static_cast<uint64_t>(r.pid);
}

Result<uint64_t> Waitid(Task& t, const SyscallArgs& args) {
  const int which = args.I32(0);
  const int32_t id = args.I32(1);
  const auto info_ptr = args.Ptr<siginfo_t>(2);
  const int options = args.I32(3);
  const auto rusage_ptr = args.Ptr<struct rusage>(4);
  if (options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | kWnothread | kWall | kWclone)) {
    return Errno::kEINVAL;
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return Errno::kEINVAL;
  WaitRequest req;
  req.options = options;
  bool nonblock_pidfd = false;
  switch (which) {
    case P_ALL:
      req.who = WaitWho::kAll;
      break;
    case P_PID:
      if (id <= 0) return Errno::kEINVAL;
      req.who = WaitWho::kPid;
      req.id = id;
      break;
    case P_PGID:
      if (id < 0) return Errno::kEINVAL;
      req.who = WaitWho::kPgid;
      req.id = id == 0 ? t.thread_group().pgid.load() : id;
      break;
    case kPPidfd: {
      // pidfd_get_pid(): the process behind the fd; a non-blocking pidfd
      // makes the wait WNOHANG, reporting EAGAIN instead of 0.
      auto pidfd = TRY(sentry::kernel::GetPidFd(t, id));
      req.who = WaitWho::kPid;
      req.id = pidfd->thread_group().pid;
      if (pidfd->flags() & O_NONBLOCK) {
        req.options |= WNOHANG;
        nonblock_pidfd = true;
      }
      break;
    }
    default:
      return Errno::kEINVAL;
  }
  const WaitResult r = TRY(DoWait(t, req));
  if (r.pid == 0 && nonblock_pidfd && !(options & WNOHANG)) return Errno::kEAGAIN;
  if (!info_ptr.null()) {
    // With WNOHANG and nothing to report, Linux zeroes si_signo and si_pid.
    siginfo_t si {};
    if (r.pid != 0) {
      si.si_signo = SIGCHLD;
      si.si_code = r.code;
      si.si_pid = r.pid;
      si.si_uid = static_cast<uid_t>(r.uid);
      si.si_status = r.child_status;
    }
    TRY(t.mm().CopyOut(info_ptr, si));
  }
  if (!rusage_ptr.null()) TRY(t.mm().CopyOut(rusage_ptr, ToRusage(UsageOf(r))));
  return 0;
}

Result<uint64_t> Getrusage(Task& t, const SyscallArgs& args) {
  const int who = args.I32(0);
  sentry::kernel::CpuTimes c;
  switch (who) {
    case RUSAGE_SELF:
      c = sentry::kernel::GroupTimes(t.thread_group());
      break;
    case RUSAGE_CHILDREN:
      c = sentry::kernel::ChildTimes(t.thread_group());
      break;
    case RUSAGE_THREAD:
      c = sentry::kernel::TaskTimes(t);
      break;
    default:
      return Errno::kEINVAL;
  }
  TRY(t.mm().CopyOut(args.Ptr<struct rusage>(1), ToRusage(c)));
  return 0;
}

Result<uint64_t> Times(Task& t, const SyscallArgs& args) {
  const auto buf = args.Ptr<struct tms>(0);
  if (!buf.null()) {
    // Clock ticks of USER_HZ = 100: 10 ms each.
    constexpr int64_t kTick = 10000000;
    const auto self = sentry::kernel::GroupTimes(t.thread_group());
    const auto kids = sentry::kernel::ChildTimes(t.thread_group());
    struct tms tm {};
    tm.tms_utime = self.utime_ns / kTick;
    tm.tms_stime = self.stime_ns / kTick;
    tm.tms_cutime = kids.utime_ns / kTick;
    tm.tms_cstime = kids.stime_ns / kTick;
    TRY(t.mm().CopyOut(buf, tm));
  }
  // Clock ticks (USER_HZ = 100) since boot.
  return static_cast<uint64_t>(absl::ToInt64Milliseconds(absl::Now() - t.kernel().boot_time()) / 10);
}

Result<uint64_t> Setpgid(Task& t, const SyscallArgs& args) {
  TRY(t.kernel().Setpgid(t, args.I32(0), args.I32(1)));
  return 0;
}

Result<uint64_t> Setsid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(TRY(t.kernel().Setsid(t))); }

}  // namespace syscalls
