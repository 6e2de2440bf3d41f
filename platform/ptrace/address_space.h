// PtraceAddressSpace: an AddressSpace backed by one stub process. Internal to
// platform/ptrace/.
#ifndef PLATFORM_PTRACE_ADDRESS_SPACE_H_
#define PLATFORM_PTRACE_ADDRESS_SPACE_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "platform/platform.h"
#include "platform/ptrace/stub_process.h"

namespace platform::ptrace {

class CpuPlacer;

// An address space's stub, handed from one that execve replaces to its
// successor (PtraceAddressSpace::CreateReplacement). Tracer thread only.
struct StubHandoff {
  std::shared_ptr<StubProcess> stub;
};

class PtraceAddressSpace final : public AddressSpace {
 public:
  // Takes a stub from `factory`; the calling thread becomes its tracer.
  // `pin`: the stub gets the calling thread's CPU affinity.
  static Result<std::unique_ptr<PtraceAddressSpace>> Create(StubFactory& factory, int memory_fd, bool pin);
  // execve's new address space, on `old`'s tracer thread: it has no stub
  // until its first use that needs one (Activate, AddContext, an immediate
  // Map...; everything before is queued). Then it takes `old`'s stub if old
  // was destroyed on this thread in the meantime and its stub was
  // Recyclable (emptied by the first batch: one stop plus a prctl instead of
  // a new stub's seize now and the old one's kill and reap), else one from
  // `factory` (pinned by `placer`, if any, as Create's `pin`).
  static std::unique_ptr<PtraceAddressSpace> CreateReplacement(PtraceAddressSpace& old, StubFactory& factory,
                                                               int memory_fd, std::shared_ptr<CpuPlacer> placer);
  // Kills and reaps the stub, or hands it to a successor waiting for it
  // (CreateReplacement); Contexts still bound to it see kESRCH.
  ~PtraceAddressSpace() override;

  // Only `host_fd == memory fd` is supported for now (EINVAL otherwise): the
  // stub holds no other fd. TODO(#3): donate other fds (gofer files) to the
  // stub with an injected recvmsg on a socket pair, or map them through the
  // memory file.
  Result<void> Map(uint64_t addr, uint64_t len, int prot, int host_fd, uint64_t offset) override;
  Result<void> Unmap(uint64_t addr, uint64_t len) override;
  Result<void> Protect(uint64_t addr, uint64_t len, int prot) override;
  uint64_t MaxUserAddress() const override { return kStubBase; }
  // A new stub thread for `c`, cloned through the calling thread's own.
  Result<void> AddContext(Context& c) override;

  // Runs the Maps queued before the first Switch (see Map), then makes Map
  // immediate. Called by PtraceContext::Bind on the tracer thread.
  Result<void> Activate();

  // Distinguishes address spaces even if one is freed and another allocated
  // at the same address.
  uint64_t id() const { return id_; }
  // Null only before a replacement's first use (Activate gets it).
  const std::shared_ptr<StubProcess>& stub() const { return stub_; }

 private:
  PtraceAddressSpace(std::shared_ptr<StubProcess> stub, int memory_fd, pid_t tracer);
  // A replacement's stub (see CreateReplacement); kEPERM off the tracer thread.
  Result<void> EnsureStub();
  Result<void> CheckRange(uint64_t addr, uint64_t len) const;
  // Queues the syscall if the address space is not active yet (false: run
  // it now).
  bool Queue(int nr, std::initializer_list<uint64_t> args);
  // A full batch is flushed at once, unless there is no stub yet (a
  // replacement keeps queueing until its first use).
  bool QueueFull() const { return pending_.size() >= kBatchMax && stub_ != nullptr; }
  // Injects the queued calls, kBatchMax per stop.
  Result<void> FlushPending();

  std::shared_ptr<StubProcess> stub_;  // set once, on the tracer thread
  const int memory_fd_;
  const uint64_t id_;
  const pid_t tracer_;  // the creating thread: the stub's tracer
  // A replacement without its stub yet: where to get one.
  StubFactory* factory_ = nullptr;
  std::shared_ptr<CpuPlacer> placer_;
  std::shared_ptr<StubHandoff> donor_;  // filled by the replaced one's destructor
  // Set by CreateReplacement on the replaced one: where its destructor
  // leaves the stub if a successor still waits (holds the other reference).
  std::shared_ptr<StubHandoff> successor_;
  // Until the first Switch (a fresh address space being filled by fork's
  // copy or exec's loader), Map/Unmap/Protect are only checked and queued,
  // then injected in batches, in order: one stop per kBatchMax calls
  // instead of one per call (a replacement without a stub queues them all). A host failure then surfaces at the first
  // Switch (or the next AddContext), not from the call. Only the creating (tracer) thread
  // drives a fresh address space, so no lock.
  std::atomic<bool> active_{false};
  std::vector<BatchEntry> pending_;  // only while !active_, tracer thread
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_ADDRESS_SPACE_H_
