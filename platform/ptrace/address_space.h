// PtraceAddressSpace: an AddressSpace backed by one stub process. Internal to
// platform/ptrace/.
#ifndef PLATFORM_PTRACE_ADDRESS_SPACE_H_
#define PLATFORM_PTRACE_ADDRESS_SPACE_H_

#include <cstdint>
#include <memory>

#include "platform/platform.h"
#include "platform/ptrace/stub_process.h"

namespace platform::ptrace {

class PtraceAddressSpace final : public AddressSpace {
 public:
  // Takes a stub from `factory`; the calling thread becomes its tracer.
  // `pin`: the stub gets the calling thread's CPU affinity.
  static Result<std::unique_ptr<PtraceAddressSpace>> Create(StubFactory& factory, int memory_fd, bool pin);
  // Kills and reaps the stub; Contexts still bound to it see kESRCH.
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

  // Distinguishes address spaces even if one is freed and another allocated
  // at the same address.
  uint64_t id() const { return id_; }
  const std::shared_ptr<StubProcess>& stub() const { return stub_; }

 private:
  PtraceAddressSpace(std::shared_ptr<StubProcess> stub, int memory_fd);
  Result<void> CheckRange(uint64_t addr, uint64_t len) const;

  const std::shared_ptr<StubProcess> stub_;
  const int memory_fd_;
  const uint64_t id_;
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_ADDRESS_SPACE_H_
