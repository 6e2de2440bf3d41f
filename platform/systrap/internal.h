// The systrap platform's classes. Internal to platform/systrap/.
#ifndef PLATFORM_SYSTRAP_INTERNAL_H_
#define PLATFORM_SYSTRAP_INTERNAL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"
#include "platform/platform.h"
#include "platform/ptrace/address_space.h"
#include "platform/ptrace/context.h"
#include "platform/systrap/sysmsg.h"

namespace platform::systrap {

// The sysmsg file: a memfd the stubs inherit, mapped whole in the sentry.
// Slot 0 is the control page. Any thread.
class SlotPool {
 public:
  static Result<std::shared_ptr<SlotPool>> Create();
  ~SlotPool();
  int fd() const { return fd_.get(); }
  // A free file slot (its first pages zeroed), or kEAGAIN.
  Result<uint64_t> Alloc();
  // `slot` was used by stub thread `tid` of `pid`: reusable once that
  // thread is gone (a killed stub dies asynchronously, and a dying thread
  // still reading its slot could take a wake meant for the slot's next
  // owner, or run its requests).
  void Free(uint64_t slot, pid_t pid, pid_t tid);
  uint8_t* Slot(uint64_t slot) const { return base_ + slot * kSlotSize; }
  // The XSAVE layout of signal frames (size, features), learned from the
  // first app thread ever made (before any app code ran anywhere, so
  // trusted); later threads must show the same.
  absl::Mutex fp_mu;
  uint32_t fp_size ABSL_GUARDED_BY(fp_mu) = 0;
  uint64_t fp_features ABSL_GUARDED_BY(fp_mu) = 0;

 private:
  SlotPool(base::UniqueFd fd, uint8_t* base) : fd_(std::move(fd)), base_(base), slots_(kFileSlots) {
    slots_[0].used = true;
  }
  struct SlotState {
    bool used = false;
    pid_t pid = 0, tid = 0;  // freed, but its last thread may still run
  };
  base::UniqueFd fd_;
  uint8_t* const base_;
  absl::Mutex mu_;
  std::vector<SlotState> slots_ ABSL_GUARDED_BY(mu_);
  size_t cursor_ ABSL_GUARDED_BY(mu_) = 1;  // where the next search starts
};

// One app thread: an untraced stub thread and its slot.
struct AppThread {
  std::shared_ptr<SlotPool> pool;
  uint64_t file_slot = 0;
  uint64_t local_base = 0;  // the slot's address in the stub
  uint8_t* mem = nullptr;   // the slot in the sentry
  uint64_t local_index = 0;
  pid_t pid = -1, tid = -1;
  bool dead = false;        // its driving thread only
  std::atomic<bool> exited{false};  // gone for good: its slots may be reused
  std::atomic<const void*> owner{nullptr};  // the Context it belongs to
  // The XSAVE layout of its signal frames (SlotPool's).
  uint32_t fp_size = 0;
  uint64_t fp_features = 0;
  ~AppThread() {
    if (pool != nullptr) pool->Free(file_slot, pid, tid);
  }
  Sysmsg* msg() const { return reinterpret_cast<Sysmsg*>(mem + kSysmsgOffset); }
  // The sentry's view of stub range [addr, addr+len) inside this thread's
  // altstack, or null if it is not inside.
  uint8_t* Stack(uint64_t addr, uint64_t len) const;
};

class SystrapAddressSpace final : public AddressSpace {
 public:
  // `reserved`: file slots taken for it (its syscall thread, its first
  // app thread).
  SystrapAddressSpace(std::unique_ptr<ptrace::PtraceAddressSpace> inner, std::shared_ptr<SlotPool> pool,
                      int memory_fd, std::vector<uint64_t> reserved);
  ~SystrapAddressSpace() override;
  // On the creating thread (and before the first app thread exists):
  // ptrace injection through the stub's main thread (exact host errors).
  // Elsewhere: through the syscall thread, where a host failure kills the
  // stub (kESRCH then).
  Result<void> Map(uint64_t addr, uint64_t len, int prot, int host_fd, uint64_t offset) override;
  Result<void> Unmap(uint64_t addr, uint64_t len) override;
  Result<void> Protect(uint64_t addr, uint64_t len, int prot) override;
  uint64_t MaxUserAddress() const override { return inner_->MaxUserAddress(); }
  // A new app thread for `c` (cloned by the syscall thread); c's first
  // Switch, on any sentry thread, claims it.
  Result<void> AddContext(Context& c) override;

  uint64_t id() const { return inner_->id(); }
  // The app thread for `owner` (a Context): the creating thread's first
  // claim makes the first one. kEPERM from another thread, kEAGAIN for an
  // owner without one (AddContext first).
  Result<std::shared_ptr<AppThread>> Claim(const void* owner);

 private:
  bool OnCreator() const { return ptrace::CurrentTid() == creator_; }
  Result<void> CheckRange(uint64_t addr, uint64_t len) const;
  // Once per stub, on the creating thread: the control page, the handlers
  // and the syscall thread.
  Result<void> SetUpStub();
  // A syscall run by the syscall thread: its (untrusted) result. kESRCH if
  // the stub is gone.
  Result<int64_t> SysCall(uint64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                          uint64_t a5 = 0, uint64_t a6 = 0, uint64_t child_slot = 0);
  // An app thread owned by `owner`: through ptrace on the creating thread
  // before set-up, else through the syscall thread.
  Result<std::shared_ptr<AppThread>> NewThread(const void* owner);
  // mmap of the sysmsg file through whichever path NewThread uses.
  Result<void> MapSysmsg(bool ptrace, uint64_t addr, uint64_t len, int prot, uint64_t offset);

  std::unique_ptr<ptrace::PtraceAddressSpace> inner_;
  const std::shared_ptr<SlotPool> pool_;
  const int memory_fd_;
  const pid_t creator_;
  std::atomic<bool> set_up_{false};
  // The syscall thread (local slot 1).
  absl::Mutex sys_mu_;
  uint64_t sys_slot_ = 0;
  uint8_t* sys_mem_ = nullptr;
  pid_t pid_ = -1;
  pid_t sys_tid_ = -1;
  uint32_t sys_seq_ ABSL_GUARDED_BY(sys_mu_) = 0;
  absl::Mutex mu_;  // after sys_mu_? never both
  std::vector<std::shared_ptr<AppThread>> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> local_used_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> reserved_ ABSL_GUARDED_BY(mu_);  // file slots not used yet
  // A reserved file slot, else a new one.
  Result<uint64_t> TakeSlot();
};

class SystrapContext final : public Context {
 public:
  explicit SystrapContext(std::shared_ptr<ptrace::CpuPlacer> placer) : placer_(std::move(placer)) {}
  ~SystrapContext() override;
  Result<StopInfo> Switch(AddressSpace& as, Registers& regs) override;
  void Interrupt() override;
  Result<void> GetFpState(FpState& out) override;
  Result<void> SetFpState(const FpState& in) override;
  // Stops always carry the access type: kEINVAL.
  Result<int> FaultAccess() override { return Errno::kEINVAL; }

 private:
  Result<AppThread*> Bind(AddressSpace& as);
  void Unbind();
  // The frame's XSAVE area of the current stop (in the sentry), or null.
  uint8_t* FrameFp() const;
  Result<StopInfo> Died();

  const std::shared_ptr<ptrace::CpuPlacer> placer_;
  int placed_ = -1;
  // A bound pair not placed at Bind is placed (moved together to the
  // least-loaded CPU) at its kPlaceAfterStops-th stop or kPlaceAfterNs after
  // Bind, as ptrace's (ptrace/README.md, "CPU placement").
  static constexpr uint32_t kPlaceAfterStops = 64;
  static constexpr int64_t kPlaceAfterNs = 10'000'000;
  uint32_t unplaced_stops_ = 0;
  int64_t bound_ns_ = 0;
  uint64_t as_id_ = 0;
  std::shared_ptr<AppThread> thread_;
  std::optional<FpState> pending_fp_;
  // The thread's rusage at the previous stop.
  struct rusage last_ru_ {};
  std::atomic<bool> interrupt_pending_{false};
  std::atomic<uint64_t> target_{0};  // pid << 32 | tid, 0 if unbound
};

// Waits until `t` is stopped in its handler; kESRCH once it is gone.
Result<void> WaitStopped(AppThread& t);
// Lets `t` resume from its stop.
void Resume(AppThread& t);

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_INTERNAL_H_
