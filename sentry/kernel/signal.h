// Signals: generation, delivery, default actions (kernel/signal.c,
// arch/x86/kernel/signal.c). Pending sets live in Task (per thread) and
// ThreadGroup (shared); delivery happens on the task's own thread before it
// returns to app code (DeliverSignals, called by the run loop).
//
// Public API for other kernel code (kill/tkill/tgkill, timers, pipes):
//   SendToTask(task, info)     tkill/tgkill, faults: that thread only
//   SendToGroup(tg, info)      kill: the group's shared set; a thread that
//                              does not block it is woken
//   SendToTid(tg, tid, info)   tgkill: the live thread `tid` of `tg`
//   UserSignalInfo(...)        the siginfo of kill/tkill from a task
// Every sender may run on any thread.
#ifndef SENTRY_KERNEL_SIGNAL_H_
#define SENTRY_KERNEL_SIGNAL_H_

#include <signal.h>

#include <cstdint>

#include "sentry/kernel/task.h"

namespace sentry::kernel {

// SA_RESTORER: kernel ABI, not in glibc's headers.
inline constexpr uint64_t kSaRestorer = 0x04000000;
// SS_AUTODISARM (include/uapi/linux/signal.h).
inline constexpr int kSsAutodisarm = static_cast<int>(1u << 31);
inline constexpr uint64_t kUnblockable = SigBit(SIGKILL) | SigBit(SIGSTOP);

enum class DefaultAction { kTerminate, kCore, kIgnore, kStop, kContinue };
DefaultAction DefaultActionOf(int signo);

// Linux wait status of a death by `signo`. The core bit (0x80) is set only
// when a core file was written; RLIMIT_CORE is 0 in the sandbox, so never.
inline int KilledStatus(int signo) { return signo & 0x7f; }

// siginfo for kill(2) (SI_USER) / tkill (SI_TKILL) from `sender`.
siginfo_t UserSignalInfo(int signo, int code, const Task& sender);
// siginfo for a signal the kernel generates (SI_KERNEL), e.g. SIGKILL.
siginfo_t KernelSignalInfo(int signo);

// Queues on one thread. Returns false only if a real-time queue is full
// (sigqueue's EAGAIN); discarded-as-ignored counts as sent.
bool SendToTask(Task& t, const siginfo_t& info);
// Queues on the thread group (kill(2)).
bool SendToGroup(ThreadGroup& tg, const siginfo_t& info);
// Queues on thread `tid` of `tg` (tgkill, tkill, rt_tgsigqueueinfo) if it
// is still alive: kESRCH if not, kEAGAIN if a real-time queue is full.
base::Result<void> SendToTid(ThreadGroup& tg, int32_t tid, const siginfo_t& info);

// POSIX timers (timer_posix.h): if the SI_TIMER signal of `info.si_timerid`
// is still pending (on thread `tid` of `tg`, or on the group for tid 0),
// adds `expirations` to its si_overrun (capped at INT_MAX) and returns the
// new overrun; otherwise queues `info` and returns -1.
// (kernel/time/posix-timers.c: one preallocated sigqueue per timer.)
int SendTimerSignal(ThreadGroup& tg, int32_t tid, const siginfo_t& info, uint64_t expirations);

// A synchronous signal from the app's own instruction (fault, int3, ud2):
// force_sig_info semantics: if the task blocks or ignores it, the handler is
// reset to SIG_DFL and it is unblocked, so the process dies.
void ForceSignal(Task& t, const siginfo_t& info);

// Ends the whole thread group with `status` (exit_group, fatal signals):
// every other thread gets SIGKILL. Returns false if a group exit was
// already under way (the caller's status loses).
bool StartGroupExit(Task& t, int status);

// execve from a thread of a multi-threaded process (fs/exec.c de_thread):
// StartDeThread makes `t` the group's exec task and SIGKILLs every other
// thread (false, nothing done, if a group exit or another exec is under
// way); WaitDeThread then waits (killable) until `t` is the only thread
// and holds the leader's tid (the leader hands it over as it exits, see
// thread.cc). False if a SIGKILL ended the wait.
bool NeedsDeThread(Task& t);
bool StartDeThread(Task& t);
bool WaitDeThread(Task& t);

// Called by the run loop before each Switch: resolves a pending syscall
// restart, acts on pending signals (default actions, job-control stops,
// handler frames). Returns false if the task must exit (exiting() is set).
bool DeliverSignals(Task& t);

// rt_sigreturn: restores the state saved by the handler's frame. Ok: the
// app's rax (to be returned as the syscall's value); an error means the
// frame was bad and the task got SIGSEGV.
base::Result<uint64_t> SigReturn(Task& t);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SIGNAL_H_
