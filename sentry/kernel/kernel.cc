#include "sentry/kernel/kernel.h"

#include "sentry/kernel/task.h"

namespace sentry::kernel {

Kernel::Kernel(KernelConfig config, std::unique_ptr<mm::MemoryFile> mf, std::unique_ptr<platform::Platform> p,
               std::shared_ptr<fs::Vfs> vfs)
    : config_(std::move(config)),
      mf_(std::move(mf)),
      platform_(std::move(p)),
      vfs_(std::move(vfs)),
      boot_time_(absl::Now()) {}

Kernel::~Kernel() = default;

int32_t Kernel::AllocateTid() {
  absl::MutexLock l(&mu_);
  return next_tid_++;
}

// TODO(#3): the run loop lands with the loader and platform.
base::Result<int> Kernel::Run(const ExecSpec&, std::string* why) {
  *why = "not implemented";
  return base::Errno::kENOSYS;
}

}  // namespace sentry::kernel
