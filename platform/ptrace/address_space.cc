#include "platform/ptrace/address_space.h"

#include <linux/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>

#include "base/logging.h"
#include "platform/ptrace/context.h"

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
  return std::unique_ptr<PtraceAddressSpace>(new PtraceAddressSpace(std::move(stub), memory_fd));
}

PtraceAddressSpace::PtraceAddressSpace(std::shared_ptr<StubProcess> stub, int memory_fd)
    : stub_(std::move(stub)), memory_fd_(memory_fd), id_(g_next_id.fetch_add(1)) {}

PtraceAddressSpace::~PtraceAddressSpace() { stub_->Kill(); }

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
    return pending_.size() >= kBatchMax ? FlushPending() : Result<void>{};
  }
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
  if (active_.load(std::memory_order_acquire) || !stub_->OnTracerThread()) return false;
  BatchEntry e;
  e.nr = nr;
  size_t i = 0;
  for (uint64_t a : args) e.args[i++] = a;
  pending_.push_back(e);
  return true;
}

Result<void> PtraceAddressSpace::FlushPending() {
  if (pending_.empty()) return {};
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
  if (active_.load(std::memory_order_acquire) || !stub_->OnTracerThread()) return {};
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
  if (!active_.load(std::memory_order_acquire) && stub_->OnTracerThread()) {
    active_.store(true, std::memory_order_release);
  }
  TRY(FlushPending());
  auto* pc = dynamic_cast<PtraceContext*>(&c);
  if (pc == nullptr) return Errno::kEINVAL;
  // The owner key is what PtraceContext::Bind passes to ClaimThread.
  return stub_->CreateThread(static_cast<const void*>(pc));
}

Result<void> PtraceAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  TRY(CheckRange(addr, len));
  if (Queue(SYS_munmap, {addr, len})) return pending_.size() >= kBatchMax ? FlushPending() : Result<void>{};
  TRY(FlushPending());
  return ToResult(TRY(stub_->Inject(SYS_munmap, addr, len)));
}

Result<void> PtraceAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  TRY(CheckRange(addr, len));
  if ((prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  if (Queue(SYS_mprotect, {addr, len, static_cast<uint64_t>(prot)})) {
    return pending_.size() >= kBatchMax ? FlushPending() : Result<void>{};
  }
  TRY(FlushPending());
  return ToResult(TRY(stub_->Inject(SYS_mprotect, addr, len, static_cast<uint64_t>(prot))));
}

}  // namespace platform::ptrace
