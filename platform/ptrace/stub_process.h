// StubProcess: one traced stub process (one per AddressSpace) and its
// threads. Internal to platform/ptrace/.
//
// Threading: ptrace(2) only accepts requests from a thread's tracer, so each
// stub thread is driven by one sentry thread (the main one by the sentry
// thread that forked the stub). mu_ guards the thread list. Kill() may run
// on any thread, but not while another thread is inside a method of this
// stub.
#ifndef PLATFORM_PTRACE_STUB_PROCESS_H_
#define PLATFORM_PTRACE_STUB_PROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/user.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "platform/platform.h"
#include "platform/ptrace/stub.h"

namespace platform::ptrace {

// How the tracer waits for a stop: spin with WNOHANG for up to `spin_ns`,
// then block. 0 = block at once.
struct WaitPolicy {
  int64_t spin_ns = 0;
};

// One host thread of a stub, traced by `tracer`. Its fields are touched
// only by its tracer thread (after claiming), except as noted.
struct StubThread {
  pid_t tid = -1;
  pid_t tracer = -1;
  // What the kernel holds for this thread, when known: lets Switch skip
  // PTRACE_SETREGS if the sentry did not change the registers. Any resume
  // other than a Context's own invalidates it.
  user_regs_struct regs{};
  bool regs_valid = false;
  // Set once a wait reported the thread's exit; no ptrace request after it.
  bool dead = false;
  // The fault probe misbehaved once; access types are guessed from then on.
  bool probe_broken = false;
  // Guarded by StubProcess::mu_: the Context it belongs to; whether its
  // tracer has seized it (later threads); its sigaltstack slot (-1: main).
  const void* owner = nullptr;
  bool attached = true;
  int slot = -1;
  // CPU accounting (tracer only): what TakeUsage credited to this thread so
  // far, and the wall time of its Switches that overlapped another thread's
  // app run since its CPU time was last measured (StubProcess::MeasureCpu).
  int64_t credited_user_ns = 0, credited_sys_ns = 0;
  int64_t shared_ns = 0;
};

// A stub thread's own CPU time since it started (getrusage RUSAGE_THREAD).
struct ThreadCpu {
  int64_t user_ns = 0, sys_ns = 0;
};

// A wait status, or the fact that the thread is gone. With `ru`, the host
// fills in the stub process's resource use as of the stop (wait4's rusage:
// all its threads).
// `overlap_ns`, if given, grows by the CLOCK_MONOTONIC time from
// `resumed_ns` (just before the thread was resumed) until polling ended: the
// tracer's CPU time there overlapped the app's run on another CPU, so it is
// not the task's system time (it would count the run twice).
Result<int> WaitStop(pid_t tid, const WaitPolicy& policy, struct rusage* ru = nullptr, int64_t* overlap_ns = nullptr,
                     int64_t resumed_ns = 0);
int64_t MonotonicNowNs();

// Reaps the stubs the calling thread killed (StubProcess::Kill does not
// wait for a stub to die on its tracer thread); `block`: wait for each.
void ReapKilledStubs(bool block);

class StubProcess {
 public:
  // A stub from `factory`, seized by the calling thread (its tracer); `pin`
  // as StubFactory::Take. It stays dumpable (as the factory made it) until
  // the first SyncDumpable: InjectBatch's process_vm_writev needs that
  // without CAP_SYS_PTRACE.
  static Result<std::shared_ptr<StubProcess>> Create(StubFactory& factory, bool pin);
  // Whether Recycle may take this stub: on its tracer thread, alive, and
  // with no thread but the main one (none created, parked or unreaped).
  bool Recyclable();
  // execve: the same host process for a new address space. Returns a new
  // StubProcess for `old`'s process (old keeps its threads' bookkeeping but
  // treats the process as gone: its Kill does nothing), with the main
  // thread's FP state reset to the init state and the process dumpable
  // again (for InjectBatch). The caller empties the address space
  // (EmptyingBatch) before any app code runs. On failure `old` is killed.
  static Result<std::shared_ptr<StubProcess>> Recycle(StubProcess& old);
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  pid_t pid() const { return pid_; }
  pid_t tracer() const { return tracer_; }
  bool OnTracerThread() const;

  // Runs one syscall in the stub thread traced by the calling thread
  // (which must be in a ptrace-stop, as it is whenever no Switch is running
  // on it) and returns its raw result (-errno on failure). kEPERM if the
  // calling thread traces no thread of this stub. Host signals arriving
  // meanwhile are dropped: an Interrupt() stays pending in its Context flag.
  Result<int64_t> Inject(int64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                         uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

  // Runs stub code from `r` (a copy of init_regs() with rip at an entry
  // and the entry's arguments) in the stub thread the calling thread
  // traces, until its int3 at `trap`; returns the registers there. kEPERM
  // if the calling thread traces none. (platform/systrap/ clones its app
  // threads this way.)
  Result<user_regs_struct> InjectCode(const user_regs_struct& r, uint64_t trap);
  const user_regs_struct& init_regs() const { return init_regs_; }

  // Runs `n` (<= kBatchMax) syscalls in order in the stub's main thread
  // (the calling thread must be its tracer: kEPERM otherwise) with one stop,
  // stopping at the first failure. Returns how many succeeded; `*last` is
  // the last raw result (the failure's -errno if fewer than n).
  Result<size_t> InjectBatch(const BatchEntry* entries, size_t n, int64_t* last);

  // Threads. The main thread goes to the first Context that asks on the
  // tracer thread. Every later Context needs CreateThread(owner) first, on a
  // thread that traces a thread of this stub: it injects a clone of a new
  // stub thread that waits, untraced, in pause(). The owner's first Switch,
  // on whichever sentry thread, claims it: PTRACE_SEIZE makes that thread
  // its tracer. All stub threads share the address space, so each sentry
  // thread injects Map/Unmap/Protect through its own stub thread.
  Result<void> CreateThread(const void* owner);
  Result<StubThread*> ClaimThread(const void* owner);
  // The owner is done: a later stub thread exits (injected exit(2), on its
  // tracer thread); the main thread stays for the process's lifetime.
  void ReleaseThread(const void* owner);

  // Makes the stub dumpable exactly while a created thread waits to be
  // seized (unattached_ > 0), and otherwise not. Decision and prctl
  // injection happen under dumpable_mu_, so concurrent creators and
  // attachers cannot reorder them.
  Result<void> SyncDumpable();
  // If the stub is dumpable and should not be (no created thread waits to be
  // seized), records it as non-dumpable and returns true: the caller then
  // runs prctl(PR_SET_DUMPABLE, 0) itself (at the end of a batch).
  bool ClaimDumpableOff();

  // Marks `t` dead after a wait reported its exit (the main thread's exit
  // also reaps the process).
  void MarkDead(StubThread& t);

  // SIGKILLs the stub unless already done, and reaps it: on its tracer
  // thread later (ReapKilledStubs), elsewhere at once. Idempotent.
  void Kill();

  // The app usage of one Switch of `t` (platform.h AppUsage) from the
  // stub's cumulative rusage `ru` at its stop. Counters: the growth since
  // what earlier Switches took. CPU time: with `exact` (t's own CPU time,
  // MeasureCpu), what t used beyond what it was credited; otherwise, if
  // `cpu_room_ns` >= 0, the process's growth capped at it (the Switch's wall
  // time when no other thread ran app code meanwhile: then the growth is
  // this run's, plus leftovers), and none if -1 (the growth stays for
  // later). Any thread (t's tracer for t); usage_mu_ is a leaf.
  AppUsage TakeUsage(StubThread& t, const struct rusage& ru, int64_t cpu_room_ns, const ThreadCpu* exact = nullptr);

  // App runs of several threads overlap: the process's CPU time then says
  // nothing about one thread's, which MeasureCpu asks the host for. EnterApp
  // just before resuming a thread into app code returns a token for
  // LeaveApp after its stop, which says whether any other thread of the
  // stub ran app code in between. Any thread, lock-free.
  uint64_t EnterApp();
  bool LeaveApp(uint64_t token);
  // t's own CPU time (an injected getrusage(RUSAGE_THREAD); the host offers
  // no other way to read another process's thread clock). t's tracer only,
  // with t in a stop; t's registers are the stub's afterwards.
  Result<ThreadCpu> MeasureCpu(StubThread& t);

 private:
  StubProcess(pid_t pid, pid_t tracer, const user_regs_struct& init_regs);
  // PTRACE_SETREGSET of the x87/SSE/AVX init state (what execve leaves) on
  // the main thread.
  Result<void> ResetFpState();
  // The stub thread the calling thread traces, or null.
  StubThread* Mine();
  // Runs the stub code at `entry` on `t` with `r`'s arguments until its
  // int3 (rip = `trap`); returns the registers there.
  Result<user_regs_struct> Run(StubThread& t, user_regs_struct r, uint64_t trap);
  // PTRACE_SEIZE + PTRACE_INTERRUPT of a created thread, on its new tracer.
  Result<void> Attach(StubThread& t);

  const pid_t pid_;
  const pid_t tracer_;
  const user_regs_struct init_regs_;
  absl::Mutex mu_;
  StubThread main_;  // tid == pid_
  std::vector<std::unique_ptr<StubThread>> others_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> slots_ ABSL_GUARDED_BY(mu_);  // sigaltstack slots in use
  int unattached_ ABSL_GUARDED_BY(mu_) = 0;        // created, not yet seized
  absl::Mutex dumpable_mu_;                        // before mu_
  bool dumpable_ ABSL_GUARDED_BY(dumpable_mu_) = false;
  bool reaped_ = false;
  // What TakeUsage has handed out so far (the stub's rusage starts at 0).
  absl::Mutex usage_mu_;
  int64_t taken_user_ns_ ABSL_GUARDED_BY(usage_mu_) = 0;
  int64_t taken_sys_ns_ ABSL_GUARDED_BY(usage_mu_) = 0;
  uint64_t taken_minflt_ ABSL_GUARDED_BY(usage_mu_) = 0;
  uint64_t taken_majflt_ ABSL_GUARDED_BY(usage_mu_) = 0;
  uint64_t taken_nivcsw_ ABSL_GUARDED_BY(usage_mu_) = 0;
  // EnterApp/LeaveApp, in one word so that each is one atomic step: app
  // runs begun so far << kRunShift | threads in app code now.
  static constexpr int kRunShift = 20;
  std::atomic<uint64_t> app_state_{0};
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_PROCESS_H_
