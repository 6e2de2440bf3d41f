#include "platform/ptrace/address_space.h"

#include <sys/mman.h>
#include <sys/syscall.h>

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

Result<void> PtraceAddressSpace::AddContext(Context& c) {
  auto* pc = dynamic_cast<PtraceContext*>(&c);
  if (pc == nullptr) return Errno::kEINVAL;
  // The owner key is what PtraceContext::Bind passes to ClaimThread.
  return stub_->CreateThread(static_cast<const void*>(pc));
}

Result<void> PtraceAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  TRY(CheckRange(addr, len));
  return ToResult(TRY(stub_->Inject(SYS_munmap, addr, len)));
}

Result<void> PtraceAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  TRY(CheckRange(addr, len));
  if ((prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  return ToResult(TRY(stub_->Inject(SYS_mprotect, addr, len, static_cast<uint64_t>(prot))));
}

}  // namespace platform::ptrace
