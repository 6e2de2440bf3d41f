// PtraceContext: runs app code in a stub thread with PTRACE_SYSEMU. Internal
// to platform/ptrace/.
#ifndef PLATFORM_PTRACE_CONTEXT_H_
#define PLATFORM_PTRACE_CONTEXT_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "platform/platform.h"
#include "platform/ptrace/stub_process.h"

namespace platform::ptrace {

// Sent with tgkill to the stub thread by Interrupt(). Any signal works: the
// app's own signals are emulated by the sentry and never sent on the host.
inline constexpr int kInterruptSignal = SIGUSR2;

// CPU placement shared by a platform's address spaces and contexts
// (README.md, "CPU placement"). Any thread.
class CpuPlacer {
 public:
  explicit CpuPlacer(std::vector<int> cpus);
  // A placer over the CPUs the calling thread may run on.
  static std::shared_ptr<CpuPlacer> ForAllowedCpus();
  // Pins the calling thread, unless it is pinned already, to the CPU with
  // the fewest bound contexts (NewAddressSpace: the new stub gets the same
  // affinity, and its Bind then most likely picks the same CPU: no
  // migration). False if it failed (only costs speed).
  bool PinLeastLoaded();
  // Whether the calling thread may run on one CPU only (a forked task's
  // sentry thread inherits its parent's pin).
  static bool CallerPinned();
  // Pins the calling thread and stub thread `stub_tid` to the CPU with the
  // fewest bound contexts and counts one more there. Returns the slot to
  // pass to Release, or -1.
  int Place(pid_t stub_tid);
  // Moves a placed pair (its `slot`) off its CPU, which the host keeps busy
  // with others' work, to the CPU with the fewest bound pairs among the
  // others if that leaves it no more loaded than this one. Returns the new
  // slot (the old one if it stays).
  int Move(int slot, pid_t stub_tid);
  void Release(int slot);

 private:
  bool Pin(int cpu, pid_t also);
  size_t LeastLoaded() const;
  const std::vector<int> cpus_;  // allowed at platform creation
  std::unique_ptr<std::atomic<int>[]> bound_;  // contexts per entry of cpus_
};

class PtraceContext final : public Context {
 public:
  // `placer` (may be null: no pinning) places the sentry thread and stub
  // thread of each bound context.
  PtraceContext(WaitPolicy wait, std::shared_ptr<CpuPlacer> placer, bool lazy_fault_access = false)
      : wait_(wait), placer_(std::move(placer)), lazy_fault_access_(lazy_fault_access) {}
  ~PtraceContext() override;

  // Binds to a stub thread of `as` on first use (TODO(#5): only the stub's
  // main thread exists, so only one Context per AddressSpace; a second one
  // gets kEAGAIN). Must run on the AddressSpace's tracer thread (kEPERM
  // otherwise). Returns kDied once, when the stub is found dead; kESRCH after.
  // StopInfo::usage: from the stub's rusage at the stop (StubProcess::TakeUsage).
  Result<StopInfo> Switch(AddressSpace& as, Registers& regs) override;
  void Interrupt() override;
  // kESRCH before the first Switch unless a state was set; then a state set
  // before binding is the one returned and applied at the next Switch.
  Result<void> GetFpState(FpState& out) override;
  Result<void> SetFpState(const FpState& in) override;
  // Runs the fault probe for the page fault the last Switch reported with
  // fault_access 0 (lazy_fault_access).
  Result<int> FaultAccess() override;

 private:
  // Switch without the usage accounting.
  Result<StopInfo> Run(AddressSpace& as, Registers& regs);
  Result<StubThread*> Bind(AddressSpace& as);
  void Unbind();
  // A ptrace request on the bound thread failed: if the stub is gone, collect
  // its exit and report kDied.
  Result<StopInfo> Gone(StubThread& t, const char* what);
  Result<StopInfo> Died(StubThread& t, int status);
  // Delivers the fault signal to the stub's probe handler to learn the
  // hardware error code (read/write/exec), then restores the app state.
  Result<StopInfo> ProbeFault(StubThread& t, int sig, const user_regs_struct& app_regs, StopInfo& info);

  const WaitPolicy wait_;
  const std::shared_ptr<CpuPlacer> placer_;
  int placed_ = -1;  // placer_ slot while bound
  // Stops since Bind while not placed (a clone'd thread is placed at this).
  static constexpr uint32_t kPlaceAfterStops = 64;
  static constexpr int64_t kPlaceAfterNs = 10'000'000;
  uint32_t unplaced_stops_ = 0;
  int64_t bound_ns_ = 0;
  // A placed pair checks every kContendedCheckNs whether its CPU is shared
  // with other work: kContendedPreemptions involuntary context switches of
  // the sentry thread and the stub in that window move it (CpuPlacer::Move).
  static constexpr int64_t kContendedCheckNs = 10'000'000;
  static constexpr long kContendedPreemptions = 3;
  void CheckContention(pid_t tid, int64_t now);
  int64_t next_contention_check_ns_ = 0;
  long preemptions_seen_ = -1;  // at the last check; -1: none yet
  int64_t switch_start_ns_ = 0;  // Switch's start, for Run
  std::shared_ptr<StubProcess> stub_;  // tracer thread only
  uint64_t as_id_ = 0;
  StubThread* thread_ = nullptr;
  std::optional<FpState> pending_fp_;  // set before binding
  std::unique_ptr<FpState> scratch_fp_ = std::make_unique<FpState>();
  const bool lazy_fault_access_;
  // The page fault the last Switch left unprobed: the stub thread still
  // sits in its signal-delivery-stop (cleared by the next Switch).
  struct PendingFault {
    int sig;
    user_regs_struct regs;
    StopInfo info;
  };
  std::optional<PendingFault> pending_fault_;
  // The stub's rusage at the last stop Run waited for (tracer thread only).
  struct rusage stop_ru_{};
  bool have_ru_ = false;
  int64_t spun_ns_ = 0;  // tracer time overlapping the app's run in this Switch (WaitStop)
  // This Switch's app run overlapped another thread's (StubProcess::LeaveApp).
  bool shared_ = false;
  // A thread's CPU time is measured (one injected getrusage, ~15 us) once
  // its shared runs add up to this much wall time: at most ~1% more stops
  // for threads that run app code side by side, none for a lone thread.
  static constexpr int64_t kMeasureAfterSharedNs = 2000000;

  // Interrupt() may run on any thread: it sets the flag, then signals the
  // thread in `target_` (tgid << 32 | tid, 0 if unbound). Switch consumes the
  // flag; an interrupt signal that finds the flag already consumed is stale
  // and ignored, so no interrupt is lost or doubled.
  std::atomic<bool> interrupt_pending_{false};
  std::atomic<uint64_t> target_{0};
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_CONTEXT_H_
