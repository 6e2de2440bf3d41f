// seccomp(2) and prctl(PR_SET_SECCOMP) for the app (kernel/seccomp.c): the
// app's own filters, run by the sentry on each of the app's syscalls before
// its handler (SeccompEnter, called by Dispatch). The sandbox's host
// filters are a different thing (runsc/seccomp_*.cc).
#include <linux/filter.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <vector>

#include "base/logging.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/signal.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::SeccompFilter;
namespace k = sentry::kernel;

// include/uapi/linux/seccomp.h.
constexpr uint32_t kSetModeStrict = 0, kSetModeFilter = 1, kGetActionAvail = 2, kGetNotifSizes = 3;
constexpr uint32_t kFlagTsync = 1, kFlagLog = 2, kFlagSpecAllow = 4, kFlagNewListener = 8, kFlagTsyncEsrch = 16,
                   kFlagWaitKillableRecv = 32;
constexpr uint32_t kKnownFlags =
    kFlagTsync | kFlagLog | kFlagSpecAllow | kFlagNewListener | kFlagTsyncEsrch | kFlagWaitKillableRecv;
constexpr int kSysSeccomp = 1;  // SYS_SECCOMP, the si_code of a SECCOMP_RET_TRAP SIGSYS
constexpr uint32_t kMaxErrno = 4095;

// struct sock_fprog as the app lays it out.
struct UserFprog {
  uint16_t len;
  uint16_t pad[3];
  uint64_t filter;
};
static_assert(sizeof(UserFprog) == 16);

// is_ancestor(): null is everyone's ancestor.
bool IsAncestor(const SeccompFilter* parent, const SeccompFilter* child) {
  if (parent == nullptr) return true;
  for (; child != nullptr; child = child->prev()) {
    if (child == parent) return true;
  }
  return false;
}

Result<uint64_t> SetStrict(Task& t, uint32_t flags, uint64_t uargs) {
  if (flags != 0 || uargs != 0) return Errno::kEINVAL;
  const int mode = t.seccomp_mode.load();
  if (mode != k::kSeccompModeDisabled && mode != k::kSeccompModeStrict) return Errno::kEINVAL;
  t.SetSeccomp(k::kSeccompModeStrict, nullptr);
  return 0;
}

Result<uint64_t> SetFilter(Task& t, uint32_t flags, uint64_t uargs) {
  if (flags & ~kKnownFlags) return Errno::kEINVAL;
  // Both report a failure in the return value (seccomp_set_mode_filter).
  if ((flags & kFlagTsync) && (flags & kFlagNewListener) && !(flags & kFlagTsyncEsrch)) return Errno::kEINVAL;
  // No user-space listener: the sandbox has no seccomp notify fd (yet).
  if (flags & (kFlagNewListener | kFlagWaitKillableRecv)) return Errno::kEINVAL;
  // seccomp_prepare_user_filter / seccomp_prepare_filter, in Linux's order.
  const UserFprog fprog = TRY(t.mm().CopyIn(UserPtr<UserFprog>(uargs)));
  if (fprog.len == 0 || fprog.len > BPF_MAXINSNS) return Errno::kEINVAL;
  if (!t.no_new_privs && !t.creds().HasCap(CAP_SYS_ADMIN)) return Errno::kEACCES;
  std::vector<sock_filter> prog(fprog.len);
  TRY(t.mm().CopyInBytes(fprog.filter, {reinterpret_cast<uint8_t*>(prog.data()), prog.size() * sizeof(sock_filter)}));
  TRY(k::CheckSeccompProgram(prog));

  if (!(flags & kFlagTsync)) {
    if (t.seccomp_mode.load() == k::kSeccompModeStrict) return Errno::kEINVAL;
    auto f = TRY(SeccompFilter::Create(std::move(prog), flags & kFlagLog, t.SeccompFilterSnapshot()));
    t.SetSeccomp(k::kSeccompModeFilter, std::move(f));
    return 0;
  }
  // TSYNC: every thread of the process gets the new chain, if each one's
  // own chain is an ancestor of ours (seccomp_can_sync_threads); else the
  // first other thread's tid (or ESRCH with TSYNC_ESRCH) and nothing changes.
  k::ThreadGroup& tg = t.thread_group();
  absl::MutexLock l(&tg.signal_mu);
  if (t.seccomp_mode.load() == k::kSeccompModeStrict) return Errno::kEINVAL;
  const auto mine = t.SeccompFilterSnapshot();
  for (Task* other : tg.tasks) {
    if (other == &t) continue;
    const int mode = other->seccomp_mode.load();
    if (mode == k::kSeccompModeDisabled) continue;
    if (mode == k::kSeccompModeFilter && IsAncestor(other->SeccompFilterSnapshot().get(), mine.get())) continue;
    if (flags & kFlagTsyncEsrch) return Errno::kESRCH;
    return static_cast<uint64_t>(other->tid());
  }
  auto f = TRY(SeccompFilter::Create(std::move(prog), flags & kFlagLog, mine));
  // TODO(#8): Linux also sets the other threads' no_new_privs when the
  // caller has it; ours is a task-thread-only field.
  for (Task* other : tg.tasks) other->SetSeccomp(k::kSeccompModeFilter, f);
  return 0;
}

Result<uint64_t> ActionAvail(Task& t, uint32_t flags, uint64_t uargs) {
  if (flags != 0) return Errno::kEINVAL;
  const uint32_t action = TRY(t.mm().CopyIn(UserPtr<uint32_t>(uargs)));
  switch (action) {
    case k::kSeccompRetKillProcess:
    case k::kSeccompRetKillThread:
    case k::kSeccompRetTrap:
    case k::kSeccompRetErrno:
    case k::kSeccompRetTrace:
    case k::kSeccompRetLog:
    case k::kSeccompRetAllow:
      return 0;
    default:
      // SECCOMP_RET_USER_NOTIF too: no listener can be made here.
      return Errno::kEOPNOTSUPP;
  }
}

// A filter's kill: the thread alone when other threads live
// (SECCOMP_RET_KILL_THREAD), else the whole process, as by SIGSYS.
void KillBySeccomp(Task& t, uint32_t action) {
  bool thread_only = false;
  if (action == k::kSeccompRetKillThread) {
    k::ThreadGroup& tg = t.thread_group();
    absl::MutexLock l(&tg.signal_mu);
    thread_only = tg.live_threads > 1;
  }
  const int status = k::KilledStatus(SIGSYS);
  if (!thread_only) k::StartGroupExit(t, status);
  t.RequestExit(status, !thread_only);
}

}  // namespace

Result<uint64_t> SetSeccompMode(Task& t, uint32_t op, uint32_t flags, uint64_t uargs) {
  switch (op) {
    case kSetModeStrict:
      return SetStrict(t, flags, uargs);
    case kSetModeFilter:
      return SetFilter(t, flags, uargs);
    case kGetActionAvail:
      return ActionAvail(t, flags, uargs);
    case kGetNotifSizes: {
      if (flags != 0) return Errno::kEINVAL;
      // struct seccomp_notif_sizes: seccomp_notif, seccomp_notif_resp, seccomp_data.
      const uint16_t sizes[3] = {80, 24, 64};
      TRY(t.mm().CopyOut(UserPtr<uint16_t>(uargs), std::span<const uint16_t>(sizes)));
      return 0;
    }
    default:
      return Errno::kEINVAL;
  }
}

Result<uint64_t> Seccomp(Task& t, const SyscallArgs& args) {
  return SetSeccompMode(t, args.U32(0), args.U32(1), args.U64(2));
}

bool SeccompEnter(Task& t, uint64_t nr, const SyscallArgs& args) {
  auto& r = t.regs().regs;
  if (t.seccomp_mode.load(std::memory_order_acquire) == k::kSeccompModeStrict) {
    // mode1_syscalls; anything else is do_exit(SIGKILL) of the thread.
    if (nr == SYS_read || nr == SYS_write || nr == SYS_exit || nr == SYS_rt_sigreturn) return true;
    logging::Info("seccomp: task {}: syscall {} in strict mode: killed", t.tid(), nr);
    t.RequestExit(k::KilledStatus(SIGKILL), false);
    return false;
  }
  const auto filter = t.SeccompFilterSnapshot();
  if (filter == nullptr) return true;
  k::SeccompData d{};
  d.nr = static_cast<int32_t>(nr);
  d.arch = k::kAuditArchX86_64;
  d.instruction_pointer = r.rip;
  std::copy(std::begin(args.raw), std::end(args.raw), d.args);
  const uint32_t ret = filter->Run(d);
  const uint32_t action = ret & k::kSeccompRetActionFull;
  const uint32_t data = ret & k::kSeccompRetData;
  switch (action) {
    case k::kSeccompRetAllow:
      return true;
    case k::kSeccompRetLog:
      logging::Info("seccomp: task {}: syscall {} logged (SECCOMP_RET_LOG)", t.tid(), nr);
      return true;
    case k::kSeccompRetErrno:
      r.rax = static_cast<uint64_t>(-static_cast<int64_t>(std::min(data, kMaxErrno)));
      return false;
    case k::kSeccompRetTrap: {
      // force_sig_seccomp(): SIGSYS with the call's address, number and
      // arch, the filter's data in si_errno; rax is rolled back to the
      // syscall number (syscall_rollback).
      siginfo_t info{};
      info.si_signo = SIGSYS;
      info.si_code = kSysSeccomp;
      info.si_errno = static_cast<int>(data);
      info.si_call_addr = reinterpret_cast<void*>(r.rip);
      info.si_syscall = static_cast<int>(nr);
      info.si_arch = k::kAuditArchX86_64;
      r.rax = r.orig_rax;
      k::ForceSignal(t, info);
      return false;
    }
    case k::kSeccompRetTrace:
    case k::kSeccompRetUserNotif:
      // No tracer (the sandbox has no ptrace) and no listener: ENOSYS, as
      // Linux without one.
      r.rax = static_cast<uint64_t>(-static_cast<int64_t>(ENOSYS));
      return false;
    default:
      logging::Info("seccomp: task {}: syscall {}: killed by its filter ({:#x})", t.tid(), nr, ret);
      KillBySeccomp(t, action);
      return false;
  }
}

}  // namespace syscalls
