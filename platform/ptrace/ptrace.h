// The ptrace platform: each AddressSpace is a clean stub process, each
// Context runs app code in a stub thread with PTRACE_SYSEMU. See README.md.
#ifndef PLATFORM_PTRACE_PTRACE_H_
#define PLATFORM_PTRACE_PTRACE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "platform/platform.h"

namespace platform::ptrace {

struct Options {
  // Pin the thread calling NewAddressSpace (the tracer) and the stub it
  // forks to one CPU, chosen round-robin among the CPUs allowed at platform
  // creation, so that each stop is a same-CPU switch.
  bool pin_cpu = true;
  // Poll for a stop (wait4 WNOHANG) this long before blocking. 0 = block.
  int64_t spin_ns = 0;
  // Stubs the factory keeps ready (0: each is forked on request).
  int stub_pool = 2;
  // Page faults stop with fault_access 0 and the fault probe (one more stop
  // and six ptrace requests) runs only if Context::FaultAccess() asks.
  bool lazy_fault_access = false;
};

// `memory_fd` must stay open for the platform's lifetime; stubs inherit it
// under the same number and nothing else. Starts the stub factory (stub.h):
// call before installing a seccomp filter that refuses executable mappings,
// on a thread that outlives the platform.
Result<std::unique_ptr<Platform>> NewPtracePlatform(int memory_fd, std::string* why);
Result<std::unique_ptr<Platform>> NewPtracePlatform(int memory_fd, const Options& options, std::string* why);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_H_
