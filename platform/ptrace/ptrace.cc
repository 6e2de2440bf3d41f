#include "platform/ptrace/ptrace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ptrace.h>

#include <atomic>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "base/logging.h"
#include "platform/ptrace/address_space.h"
#include "platform/ptrace/context.h"
#include "platform/ptrace/stub_filter.h"

namespace platform::ptrace {
namespace {

class PtracePlatform final : public Platform {
 public:
  PtracePlatform(int memory_fd, const Options& options,
                 std::unique_ptr<StubFactory> factory)
      : memory_fd_(memory_fd),
        options_(options),
        placer_(options.pin_cpu ? CpuPlacer::ForAllowedCpus() : nullptr),
        factory_(std::move(factory)) {}

  ~PtracePlatform() override {
    // Stubs this thread killed and has not reaped yet go before the factory.
    ReapKilledStubs(/*block=*/true);
  }

  std::string_view name() const override { return "ptrace"; }

  Result<std::unique_ptr<AddressSpace>> NewAddressSpace() override {
    // The stub (from the factory) gets its tracer's CPU: each stop is then
    // a same-CPU switch (README.md, "CPU placement").
    const bool pinned = placer_ != nullptr && placer_->PinLeastLoaded();
    std::unique_ptr<PtraceAddressSpace> as = TRY(PtraceAddressSpace::Create(*factory_, memory_fd_, pinned));
    return std::unique_ptr<AddressSpace>(std::move(as));
  }

  Result<std::unique_ptr<AddressSpace>> NewReplacementAddressSpace(AddressSpace& old) override {
    auto* pold = dynamic_cast<PtraceAddressSpace*>(&old);
    if (pold == nullptr) return NewAddressSpace();
    return std::unique_ptr<AddressSpace>(
        PtraceAddressSpace::CreateReplacement(*pold, *factory_, memory_fd_, placer_));
  }

  Result<std::unique_ptr<Context>> NewContext() override {
    return std::unique_ptr<Context>(std::make_unique<PtraceContext>(WaitPolicy{options_.spin_ns}, placer_,
                                                                    options_.lazy_fault_access));
  }

 private:
  const int memory_fd_;
  const Options options_;
  const std::shared_ptr<CpuPlacer> placer_;  // null without pin_cpu
  const std::unique_ptr<StubFactory> factory_;
};

}  // namespace

Result<std::unique_ptr<Platform>> NewPtracePlatform(int memory_fd, std::string* why) {
  return NewPtracePlatform(memory_fd, Options{}, why);
}

Result<std::unique_ptr<Platform>> NewPtracePlatform(int memory_fd, const Options& options, std::string* why) {
  if (fcntl(memory_fd, F_GETFD) < 0) {
    *why = fmt::format("ptrace platform: memory file descriptor {} is not open", memory_fd);
    return Errno::kEBADF;
  }
  logging::Debug("seccomp: stub allowlist: {} host syscalls allowed (platform/ptrace/stub_filter.cc)",
                 StubFilterAllowedCount());
  logging::Debug("seccomp: stub factory allowlist: {} host syscalls allowed (platform/ptrace/stub_filter.cc)",
                 FactoryFilterAllowedCount());
  auto factory = StubFactory::Start(memory_fd, options.stub_pool);
  if (!factory.ok()) {
    *why = fmt::format("ptrace platform: starting the stub factory: {}", base::ErrnoText(factory.error()));
    return factory.error();
  }
  return std::unique_ptr<Platform>(
      std::make_unique<PtracePlatform>(memory_fd, options, std::move(factory).value()));
}

}  // namespace platform::ptrace
