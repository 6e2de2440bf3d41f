// Scheduling: sched_yield, affinity, policies and parameters, sched_attr,
// nice values (getpriority/setpriority) and I/O priorities (kernel/sched/
// core.c, kernel/sys.c, block/ioprio.c). The sandbox records what the app
// asks for and reports it back with Linux's checks; the host schedules the
// sentry's threads. CPUs are virtual: the sandbox has NumCpus() of them.
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::Credentials;
using sentry::kernel::SchedState;

constexpr int kSchedDeadline = 6;
constexpr int kResetOnFork = 0x40000000;  // SCHED_RESET_ON_FORK
constexpr uint64_t kSchedFlagResetOnFork = 0x01;
constexpr uint32_t kSchedAttrSizeVer0 = 48, kSchedAttrSize = 56;
constexpr int kRrTimesliceMs = 100;  // RR_TIMESLICE

// The sentry cannot read /sys, so not sysconf(_SC_NPROCESSORS_ONLN).
int NumCpus() { return sentry::kernel::NumCpus(); }
uint64_t AllCpus() { return NumCpus() >= 64 ? ~0ull : (1ull << NumCpus()) - 1; }

bool ValidPolicy(int p) {
  return p == SCHED_OTHER || p == SCHED_FIFO || p == SCHED_RR || p == SCHED_BATCH || p == SCHED_IDLE;
}
bool RtPolicy(int p) { return p == SCHED_FIFO || p == SCHED_RR; }

// Runs fn on task `pid` (0: the caller) with its sched state locked.
// ESRCH if there is no such task; fn's error otherwise.
Result<void> OnTask(Task& t, int32_t pid, absl::FunctionRef<Result<void>(Task&, SchedState&)> fn) {
  if (pid == 0 || pid == t.tid()) {
    absl::MutexLock l(&t.sched_mu);
    return fn(t, t.sched);
  }
  Result<void> r = Errno::kESRCH;
  t.kernel().WithTask(pid, [&](Task& target) {
    absl::MutexLock l(&target.sched_mu);
    r = fn(target, target.sched);
  });
  return r;
}

// check_same_owner(): the caller's euid is the target's ruid or euid.
bool SameOwnerOrNice(const Credentials& me, Task& target) {
  if (me.HasCap(CAP_SYS_NICE)) return true;
  const auto tc = target.CredsSnapshot();
  return me.euid == tc->euid || me.euid == tc->ruid;
}

uint64_t Rlimit(Task& t, int resource) {
  auto& tg = t.thread_group();
  absl::MutexLock l(&tg.mu);
  return tg.rlimits[static_cast<size_t>(resource)].cur;
}

// __sched_setscheduler()'s checks and update. policy -1 keeps the policy.
Result<void> SetScheduler(Task& caller, Task& target, SchedState& s, int policy, int priority, int nice,
                          bool set_nice, bool reset_on_fork) {
  if (policy < 0) policy = s.policy;
  if (!ValidPolicy(policy)) return Errno::kEINVAL;  // TODO(#5): SCHED_DEADLINE
  if (priority < 0 || priority > 99 || RtPolicy(policy) != (priority != 0)) return Errno::kEINVAL;
  const Credentials& me = caller.creds();
  if (!me.HasCap(CAP_SYS_NICE)) {
    if (RtPolicy(policy)) {
      // Unprivileged RT needs RLIMIT_RTPRIO (0 by default).
      const uint64_t rt = Rlimit(caller, RLIMIT_RTPRIO);
      if (rt == 0 && !RtPolicy(s.policy)) return Errno::kEPERM;
      if (priority > s.priority && static_cast<uint64_t>(priority) > rt) return Errno::kEPERM;
    }
    if (set_nice && nice < s.nice && 20 - nice > static_cast<int>(Rlimit(caller, RLIMIT_NICE))) {
      return Errno::kEPERM;
    }
    if (s.reset_on_fork && !reset_on_fork) return Errno::kEPERM;
    if (!SameOwnerOrNice(me, target)) return Errno::kEPERM;
  }
  s.policy = policy;
  s.priority = priority;
  if (set_nice) s.nice = nice;
  s.reset_on_fork = reset_on_fork;
  return {};
}

Result<int> ParamPriority(Task& t, UserPtr<struct sched_param> p) {
  if (p.null()) return Errno::kEINVAL;
  const struct sched_param param = TRY(t.mm().CopyIn(p));
  return param.sched_priority;
}

// struct sched_attr (include/uapi/linux/sched/types.h).
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
static_assert(sizeof(SchedAttr) == kSchedAttrSize);

// The targets of getpriority/setpriority/ioprio: a task (PRIO_PROCESS), a
// process group or every task of a real uid. Kernel::mu_ is held while
// `fn` runs.
Result<void> ForPrioTargets(Task& t, int which, int32_t who, absl::FunctionRef<void(Task&)> fn) {
  bool found = false;
  auto visit = [&](Task& x) {
    found = true;
    fn(x);
  };
  switch (which) {
    case PRIO_PROCESS:
      if (who == 0 || who == t.tid()) {
        visit(t);
      } else {
        t.kernel().WithTask(who, visit);
      }
      break;
    case PRIO_PGRP: {
      const int32_t pgrp = who == 0 ? t.thread_group().pgid.load() : who;
      t.kernel().ForEachTask([&](Task& x) {
        if (x.thread_group().pgid == pgrp) visit(x);
      });
      break;
    }
    case PRIO_USER: {
      const uint32_t uid = who == 0 ? t.creds().ruid : static_cast<uint32_t>(who);
      t.kernel().ForEachTask([&](Task& x) {
        if (x.CredsSnapshot()->ruid == uid) visit(x);
      });
      break;
    }
    default:
      return Errno::kEINVAL;
  }
  if (!found) return Errno::kESRCH;
  return {};
}

}  // namespace

Result<uint64_t> SchedYield(Task&, const SyscallArgs&) { return 0; }

Result<uint64_t> SchedGetaffinity(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const uint64_t len = args.U64(1);
  // Linux: len must cover nr_cpu_ids bits and be a multiple of sizeof(long).
  if (len * 8 < static_cast<uint64_t>(NumCpus()) || len % sizeof(uint64_t) != 0) return Errno::kEINVAL;
  if (pid < 0) return Errno::kESRCH;
  uint64_t mask = 0;
  TRY(OnTask(t, pid, [&](Task&, SchedState& s) -> Result<void> {
    mask = s.affinity & AllCpus();
    return {};
  }));
  TRY(t.mm().CopyOut(args.Ptr<uint64_t>(2), mask));
  return sizeof(uint64_t);
}

Result<uint64_t> SchedSetaffinity(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const uint64_t len = args.U64(1);
  // get_user_cpu_mask(): shorter masks are zero-extended, longer ones cut.
  uint64_t mask = 0;
  const size_t n = std::min<uint64_t>(len, sizeof(mask));
  TRY(t.mm().CopyInBytes(args.U64(2), {reinterpret_cast<uint8_t*>(&mask), n}));
  if (pid < 0) return Errno::kESRCH;
  mask &= AllCpus();
  const Credentials& me = t.creds();
  TRY(OnTask(t, pid, [&](Task& target, SchedState& s) -> Result<void> {
    if (&target != &t && !SameOwnerOrNice(me, target)) return Errno::kEPERM;
    if (mask == 0) return Errno::kEINVAL;  // no allowed CPU left
    s.affinity = mask;
    return {};
  }));
  return 0;
}

Result<uint64_t> SchedGetscheduler(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  if (pid < 0) return Errno::kEINVAL;
  int policy = 0;
  TRY(OnTask(t, pid, [&](Task&, SchedState& s) -> Result<void> {
    policy = s.policy | (s.reset_on_fork ? kResetOnFork : 0);
    return {};
  }));
  return static_cast<uint64_t>(policy);
}

Result<uint64_t> SchedSetscheduler(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  int policy = args.I32(1);
  if (pid < 0 || policy < 0) return Errno::kEINVAL;
  const int prio = TRY(ParamPriority(t, args.Ptr<struct sched_param>(2)));
  const bool reset = policy & kResetOnFork;
  policy &= ~kResetOnFork;
  TRY(OnTask(t, pid, [&](Task& target, SchedState& s) {
    return SetScheduler(t, target, s, policy, prio, 0, false, reset);
  }));
  return 0;
}

Result<uint64_t> SchedGetparam(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const auto out = args.Ptr<struct sched_param>(1);
  if (pid < 0 || out.null()) return Errno::kEINVAL;
  struct sched_param p {};
  TRY(OnTask(t, pid, [&](Task&, SchedState& s) -> Result<void> {
    p.sched_priority = s.priority;
    return {};
  }));
  TRY(t.mm().CopyOut(out, p));
  return 0;
}

Result<uint64_t> SchedSetparam(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  if (pid < 0) return Errno::kEINVAL;
  const int prio = TRY(ParamPriority(t, args.Ptr<struct sched_param>(1)));
  TRY(OnTask(t, pid, [&](Task& target, SchedState& s) {
    return SetScheduler(t, target, s, -1, prio, 0, false, s.reset_on_fork);
  }));
  return 0;
}

Result<uint64_t> SchedGetPriorityMax(Task&, const SyscallArgs& args) {
  const int policy = args.I32(0);
  if (RtPolicy(policy)) return 99;
  if (ValidPolicy(policy) || policy == kSchedDeadline) return 0;
  return Errno::kEINVAL;
}

Result<uint64_t> SchedGetPriorityMin(Task&, const SyscallArgs& args) {
  const int policy = args.I32(0);
  if (RtPolicy(policy)) return 1;
  if (ValidPolicy(policy) || policy == kSchedDeadline) return 0;
  return Errno::kEINVAL;
}

Result<uint64_t> SchedRrGetInterval(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  if (pid < 0) return Errno::kEINVAL;
  int policy = 0;
  TRY(OnTask(t, pid, [&](Task&, SchedState& s) -> Result<void> {
    policy = s.policy;
    return {};
  }));
  struct timespec ts {};
  // FIFO has no time slice; RR has RR_TIMESLICE; CFS reports its slice
  // (sysctl_sched_base_slice, 3 ms by default).
  if (policy == SCHED_RR) ts.tv_nsec = kRrTimesliceMs * 1000000L;
  if (policy != SCHED_RR && policy != SCHED_FIFO) ts.tv_nsec = 3000000;
  TRY(t.mm().CopyOut(args.Ptr<struct timespec>(1), ts));
  return 0;
}

Result<uint64_t> SchedGetattr(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const uint64_t addr = args.U64(1);
  const uint32_t usize = args.U32(2);
  if (addr == 0 || pid < 0 || usize > sentry::mm::kPageSize || usize < kSchedAttrSizeVer0 || args.U32(3) != 0) {
    return Errno::kEINVAL;
  }
  SchedAttr a{};
  TRY(OnTask(t, pid, [&](Task&, SchedState& s) -> Result<void> {
    a.sched_policy = static_cast<uint32_t>(s.policy);
    a.sched_flags = s.reset_on_fork ? kSchedFlagResetOnFork : 0;
    a.sched_nice = s.nice;
    a.sched_priority = static_cast<uint32_t>(s.priority);
    a.sched_util_max = 1024;  // SCHED_CAPACITY_SCALE
    return {};
  }));
  a.size = std::min(usize, kSchedAttrSize);
  TRY(t.mm().CopyOutBytes(addr, {reinterpret_cast<const uint8_t*>(&a), a.size}));
  return 0;
}

Result<uint64_t> SchedSetattr(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  const uint64_t addr = args.U64(1);
  if (addr == 0 || pid < 0 || args.U32(2) != 0) return Errno::kEINVAL;
  // sched_copy_attr(): size 0 means VER0; an odd size gets E2BIG and the
  // kernel's size written back.
  uint32_t size = TRY(t.mm().CopyIn(UserPtr<uint32_t>(addr)));
  if (size == 0) size = kSchedAttrSizeVer0;
  if (size < kSchedAttrSizeVer0 || size > sentry::mm::kPageSize) {
    TRY(t.mm().CopyOut(UserPtr<uint32_t>(addr), kSchedAttrSize));
    return Errno::kE2BIG;
  }
  SchedAttr a{};
  TRY(t.mm().CopyInBytes(addr, {reinterpret_cast<uint8_t*>(&a), std::min(size, kSchedAttrSize)}));
  if (size > kSchedAttrSize) {
    std::vector<uint8_t> tail(size - kSchedAttrSize);
    TRY(t.mm().CopyInBytes(addr + kSchedAttrSize, tail));
    if (std::any_of(tail.begin(), tail.end(), [](uint8_t b) { return b != 0; })) {
      TRY(t.mm().CopyOut(UserPtr<uint32_t>(addr), kSchedAttrSize));
      return Errno::kE2BIG;
    }
  }
  // SCHED_FLAG_ALL is 0x7f; only RESET_ON_FORK and KEEP_* mean anything here.
  if (a.sched_flags & ~0x7full) return Errno::kEINVAL;
  const bool keep_policy = a.sched_flags & 0x08;  // SCHED_FLAG_KEEP_POLICY
  const bool keep_params = a.sched_flags & 0x10;  // SCHED_FLAG_KEEP_PARAMS
  const int nice = std::clamp(a.sched_nice, -20, 19);
  TRY(OnTask(t, pid, [&](Task& target, SchedState& s) {
    const int policy = keep_policy ? -1 : static_cast<int>(a.sched_policy);
    const int prio = keep_params ? s.priority : static_cast<int>(a.sched_priority);
    const bool fair = !RtPolicy(policy < 0 ? s.policy : policy);
    return SetScheduler(t, target, s, policy, prio, nice, fair && !keep_params,
                        a.sched_flags & kSchedFlagResetOnFork);
  }));
  return 0;
}

Result<uint64_t> Getpriority(Task& t, const SyscallArgs& args) {
  // The best (lowest) nice of the targets, as 20 - nice (1..40).
  int best = 20;
  TRY(ForPrioTargets(t, args.I32(0), args.I32(1), [&](Task& x) {
    absl::MutexLock l(&x.sched_mu);
    best = std::min(best, x.sched.nice);
  }));
  return static_cast<uint64_t>(20 - best);
}

Result<uint64_t> Setpriority(Task& t, const SyscallArgs& args) {
  const int nice = std::clamp(args.I32(2), -20, 19);
  const Credentials& me = t.creds();
  const uint64_t nice_rlim = Rlimit(t, RLIMIT_NICE);
  Errno err{};
  bool failed = false;
  TRY(ForPrioTargets(t, args.I32(0), args.I32(1), [&](Task& x) {
    // set_one_prio(): EPERM for someone else's task, EACCES for a lower
    // nice than now without CAP_SYS_NICE or RLIMIT_NICE room.
    const auto xc = x.CredsSnapshot();
    if (xc->ruid != me.euid && xc->euid != me.euid && !me.HasCap(CAP_SYS_NICE)) {
      failed = true, err = Errno::kEPERM;
      return;
    }
    absl::MutexLock l(&x.sched_mu);
    if (nice < x.sched.nice && static_cast<uint64_t>(20 - nice) > nice_rlim && !me.HasCap(CAP_SYS_NICE)) {
      failed = true, err = Errno::kEACCES;
      return;
    }
    x.sched.nice = nice;
  }));
  if (failed) return err;
  return 0;
}

Result<uint64_t> IoprioGet(Task& t, const SyscallArgs& args) {
  // IOPRIO_WHO_PROCESS/PGRP/USER are PRIO_* + 1.
  const int which = args.I32(0) - 1;
  if (which < PRIO_PROCESS || which > PRIO_USER) return Errno::kEINVAL;
  int best = -1;
  TRY(ForPrioTargets(t, which, args.I32(1), [&](Task& x) {
    absl::MutexLock l(&x.sched_mu);
    // ioprio_best(): a lower class (RT < BE < IDLE) wins, none counts as BE.
    auto rank = [](int p) { return (p >> 13) == 0 ? (2 << 13) | 4 : p; };
    if (best < 0 || rank(x.sched.ioprio) < rank(best)) best = x.sched.ioprio;
  }));
  return static_cast<uint64_t>(best);
}

Result<uint64_t> IoprioSet(Task& t, const SyscallArgs& args) {
  const int which = args.I32(0) - 1;
  const int ioprio = args.I32(2);
  // Linux 6.5+: bits 3..12 are hints, the level is bits 0..2.
  const int cls = (ioprio >> 13) & 0x7, level = ioprio & 0x7;
  if (ioprio < 0 || ioprio >= (4 << 13)) return Errno::kEINVAL;
  switch (cls) {
    case 1:  // IOPRIO_CLASS_RT
      if (!t.creds().HasCap(CAP_SYS_ADMIN) && !t.creds().HasCap(CAP_SYS_NICE)) return Errno::kEPERM;
      [[fallthrough]];
    case 2:  // IOPRIO_CLASS_BE
      break;
    case 3:  // IOPRIO_CLASS_IDLE
      break;
    case 0:  // IOPRIO_CLASS_NONE
      if (level != 0) return Errno::kEINVAL;
      break;
  }
  if (which < PRIO_PROCESS || which > PRIO_USER) return Errno::kEINVAL;
  const Credentials& me = t.creds();
  bool denied = false;
  TRY(ForPrioTargets(t, which, args.I32(1), [&](Task& x) {
    const auto xc = x.CredsSnapshot();
    if (xc->ruid != me.euid && xc->euid != me.euid && !me.HasCap(CAP_SYS_NICE)) {
      denied = true;
      return;
    }
    absl::MutexLock l(&x.sched_mu);
    x.sched.ioprio = ioprio;
  }));
  if (denied) return Errno::kEPERM;
  return 0;
}

}  // namespace syscalls
