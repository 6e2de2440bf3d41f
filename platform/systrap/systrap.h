// The systrap platform: app code runs in untraced stub threads, and every
// syscall, fault or interrupt is a signal (SIGSYS from a per-thread seccomp
// filter, SIGSEGV, ...) whose handler hands the registers to the sentry
// through shared memory and a futex. See README.md.
#ifndef PLATFORM_SYSTRAP_SYSTRAP_H_
#define PLATFORM_SYSTRAP_SYSTRAP_H_

#include <memory>
#include <string>

#include "platform/platform.h"

namespace platform::systrap {

struct Options {
  // CPU placement as the ptrace platform's (ptrace/README.md).
  bool pin_cpu = true;
  int stub_pool = 2;
};

// As ptrace::NewPtracePlatform: call before the sentry's seccomp filter.
// Fails (kENOSYS, with `why`) where the CPU or kernel lacks what it needs
// (FSGSBASE instructions in user mode).
Result<std::unique_ptr<Platform>> NewSystrapPlatform(int memory_fd, const Options& options, std::string* why);

}  // namespace platform::systrap

#endif  // PLATFORM_SYSTRAP_SYSTRAP_H_
