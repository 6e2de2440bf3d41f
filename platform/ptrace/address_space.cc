#include "platform/ptrace/address_space.h"

#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>

#include "base/logging.h"
#include "platform/ptrace/context.h"
#include "platform/ptrace/stub.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kPageSize = 4096;
std::atomic<uint64_t> g_next_id{1};

Result<void> ToResult(int64_t raw) {
  if (raw < 0 && raw >= -4095) return base::FromHost(static_cast<int>(-raw));
  return {};
}

}  // namespace

Result<std::unique_ptr<PtraceAddressSpace>> PtraceAddressSpace::Create(StubFactory& factory, int memory_fd, bool pin) {
  std::shared_ptr<StubProcess> stub = TRY(StubProcess::Create(factory, pin));
  return std::unique_ptr<PtraceAddressSpace>(new PtraceAddressSpace(std::move(stub), memory_fd, CurrentTid()));
}

std::unique_ptr<PtraceAddressSpace> PtraceAddressSpace::CreateReplacement(PtraceAddressSpace& old,
                                                                          StubFactory& factory, int memory_fd,
                                                                          std::shared_ptr<CpuPlacer> placer) {
  std::unique_ptr<PtraceAddressSpace> as(new PtraceAddressSpace(nullptr, memory_fd, CurrentTid()));
  as->factory_ = &factory;
  as->placer_ = std::move(placer);
  if (old.stub_ != nullptr && old.stub_->OnTracerThread()) {
    auto cell = std::make_shared<StubHandoff>();
    old.successor_ = cell;  // a failed execve's earlier cell is dropped
    as->donor_ = std::move(cell);
  }
  return as;
}

PtraceAddressSpace::PtraceAddressSpace(std::shared_ptr<StubProcess> stub, int memory_fd, pid_t tracer)
    : stub_(std::move(stub)), memory_fd_(memory_fd), id_(g_next_id.fetch_add(1)), tracer_(tracer) {}

PtraceAddressSpace::~PtraceAddressSpace() {
  // A replacement that never used the stub it was handed.
  if (donor_ != nullptr && donor_->stub != nullptr) donor_->stub->Kill();
  if (stub_ == nullptr) return;
  // execve: the successor (still alive: it holds the other reference)
  // takes the stub over at its first use.
  if (successor_ != nullptr && successor_.use_count() > 1 && stub_->Recyclable()) {
    successor_->stub = std::move(stub_);
    return;
  }
  stub_->Kill();
}

Result<void> PtraceAddressSpace::EnsureStub() {
  if (stub_ != nullptr) return {};
  if (CurrentTid() != tracer_) return Errno::kEPERM;
  std::shared_ptr<StubHandoff> donor = std::move(donor_);
  if (donor != nullptr && donor->stub != nullptr) {
    std::shared_ptr<StubProcess> old = std::move(donor->stub);
    auto r = StubProcess::Recycle(*old);
    if (r.ok()) {
      stub_ = std::move(r).value();
      // Empty it before anything queued runs: the old image's mappings, the
      // altstacks of its later threads, and the fault probe's frames (the
      // old image's registers) on the main sigaltstack above the batch
      // buffer, which the batch itself is read from.
      const uint64_t buf_end = StubBatchBuffer() + (kBatchMax * sizeof(BatchEntry) + kPageSize - 1) / kPageSize * kPageSize;
      BatchEntry wipe[3];
      wipe[0].nr = SYS_munmap;
      wipe[0].args[0] = 0;
      wipe[0].args[1] = kStubBase;
      wipe[1].nr = SYS_munmap;
      wipe[1].args[0] = StubEnd();
      wipe[1].args[1] = kUserTop - StubEnd();
      wipe[2].nr = SYS_mmap;
      wipe[2].args[0] = buf_end;
      wipe[2].args[1] = StubEnd() - buf_end;
      wipe[2].args[2] = PROT_READ | PROT_WRITE;
      wipe[2].args[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      wipe[2].args[4] = ~0ull;
      pending_.insert(pending_.begin(), std::begin(wipe), std::end(wipe));
      return {};
    }
    logging::Debug("ptrace: reusing stub {} for execve failed: {}; taking a new one", old->pid(),
                   base::ErrnoName(r.error()));
  }
  if (factory_ == nullptr) return Errno::kESRCH;
  const bool pinned = placer_ != nullptr && placer_->PinLeastLoaded();
  stub_ = TRY(StubProcess::Create(*factory_, pinned));
  return {};
}

// The stub's own pages lie above MaxUserAddress(); nothing may be mapped,
// unmapped or reprotected there, or the app could reach them.
Result<void> PtraceAddressSpace::CheckRange(uint64_t addr, uint64_t len) const {
  if (len == 0 || addr % kPageSize != 0 || len % kPageSize != 0) return Errno::kEINVAL;
  if (addr >= MaxUserAddress() || len > MaxUserAddress() - addr) return Errno::kEINVAL;
  return {};
}

Result<void> PtraceAddressSpace::Map(uint64_t addr, uint64_t len, int prot, int host_fd, uint64_t offset) {
  TRY(CheckRange(addr, len));
  if (offset % kPageSize != 0 || (prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  if (host_fd != memory_fd_) {
    logging::Warn("ptrace: Map of host fd {} refused: only the memory file ({}) is supported", host_fd,
                  memory_fd_);
    return Errno::kEINVAL;
  }
  if (Queue(SYS_mmap, {addr, len, static_cast<uint64_t>(prot), MAP_SHARED | MAP_FIXED,
                       static_cast<uint64_t>(host_fd), offset})) {
    return QueueFull() ? FlushPending() : Result<void>{};
  }
  TRY(EnsureStub());
  TRY(FlushPending());
  const int64_t raw = TRY(stub_->Inject(SYS_mmap, addr, len, static_cast<uint64_t>(prot),
                                        MAP_SHARED | MAP_FIXED, static_cast<uint64_t>(host_fd), offset));
  if (raw < 0 && raw >= -4095) {
    logging::Debug("ptrace: stub {}: mmap({:#x}, {:#x}, {}, fd {}, {:#x}) failed: {}", stub_->pid(), addr, len,
                   prot, host_fd, offset, base::ErrnoName(base::FromHost(static_cast<int>(-raw))));
    return base::FromHost(static_cast<int>(-raw));
  }
  if (static_cast<uint64_t>(raw) != addr) {
    logging::Warn("ptrace: stub {}: mmap MAP_FIXED at {:#x} returned {:#x}", stub_->pid(), addr, raw);
    return Errno::kEIO;
  }
  return {};
}

bool PtraceAddressSpace::Queue(int nr, std::initializer_list<uint64_t> args) {
  if (active_.load(std::memory_order_acquire) || CurrentTid() != tracer_) return false;
  BatchEntry e;
  e.nr = nr;
  size_t i = 0;
  for (uint64_t a : args) e.args[i++] = a;
  pending_.push_back(e);
  return true;
}

Result<void> PtraceAddressSpace::FlushPending() {
  if (pending_.empty()) return {};
  if (stub_ == nullptr) return Errno::kEPERM;  // queued on the tracer thread only
  size_t start = 0;
  while (start < pending_.size()) {
    const size_t n = std::min(kBatchMax, pending_.size() - start);
    int64_t last = 0;
    auto done = stub_->InjectBatch(pending_.data() + start, n, &last);
    if (!done.ok()) {
      pending_.clear();
      return done.error();
    }
    if (done.value() < n) {
      const BatchEntry& e = pending_[start + done.value()];
      logging::Warn("ptrace: stub {}: queued syscall {}({:#x}, {:#x}, {}) failed: {}", stub_->pid(), e.nr, e.args[0], e.args[1],
                    e.args[2], base::ErrnoName(base::FromHost(static_cast<int>(-last))));
      pending_.clear();
      return last < 0 && last >= -4095 ? base::FromHost(static_cast<int>(-last)) : Errno::kEIO;
    }
    start += n;
  }
  pending_.clear();
  return {};
}

Result<void> PtraceAddressSpace::Activate() {
  // Another thread's Bind (refused by ClaimThread, or a thread made by
  // AddContext, which already activated) changes nothing.
  if (active_.load(std::memory_order_acquire) || CurrentTid() != tracer_) return {};
  TRY(EnsureStub());
  active_.store(true, std::memory_order_release);
  // Non-dumpable from now on (batches needed it dumpable): as the last entry
  // of the batch if there is one, which saves a stop.
  if (!pending_.empty() && stub_->ClaimDumpableOff()) {
    BatchEntry e;
    e.nr = SYS_prctl;
    e.args[0] = PR_SET_DUMPABLE;
    pending_.push_back(e);
  }
  TRY(FlushPending());
  return stub_->SyncDumpable();  // nothing to do if the batch did it
}

Result<void> PtraceAddressSpace::AddContext(Context& c) {
  // From now on more than one thread may drive it: no more queueing. (The
  // first AddContext comes from the tracer thread, the only one that can
  // drive a fresh address space.)
  if (!active_.load(std::memory_order_acquire) && CurrentTid() == tracer_) {
    TRY(EnsureStub());
    active_.store(true, std::memory_order_release);
  }
  if (stub_ == nullptr) return Errno::kEPERM;
  TRY(FlushPending());
  auto* pc = dynamic_cast<PtraceContext*>(&c);
  if (pc == nullptr) return Errno::kEINVAL;
  // The owner key is what PtraceContext::Bind passes to ClaimThread.
  return stub_->CreateThread(static_cast<const void*>(pc));
}

Result<void> PtraceAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  TRY(CheckRange(addr, len));
  if (Queue(SYS_munmap, {addr, len})) return QueueFull() ? FlushPending() : Result<void>{};
  TRY(EnsureStub());
  TRY(FlushPending());
  return ToResult(TRY(stub_->Inject(SYS_munmap, addr, len)));
}

Result<void> PtraceAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  TRY(CheckRange(addr, len));
  if ((prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  if (Queue(SYS_mprotect, {addr, len, static_cast<uint64_t>(prot)})) {
    return QueueFull() ? FlushPending() : Result<void>{};
  }
  TRY(EnsureStub());
  TRY(FlushPending());
  return ToResult(TRY(stub_->Inject(SYS_mprotect, addr, len, static_cast<uint64_t>(prot))));
}

}  // namespace platform::ptrace
