#include "platform/platform.h"

#include <fmt/format.h>

#include "platform/ptrace/ptrace.h"
#include "platform/systrap/systrap.h"

namespace platform {

Result<std::unique_ptr<Platform>> New(std::string_view name, int memory_fd, std::string* why) {
  if (name == "ptrace") {
    // The sentry tells most fault access types from its own mappings
    // (sentry/kernel/task_run.cc) and asks for the probe only when it cannot.
    ptrace::Options opts;
    opts.lazy_fault_access = true;
    return ptrace::NewPtracePlatform(memory_fd, opts, why);
  }
  if (name == "systrap") {
    return systrap::NewSystrapPlatform(memory_fd, systrap::Options{}, why);
  }
  if (name == "kvm") {
    *why = "platform \"kvm\" is not implemented yet; use --platform=ptrace";
    return Errno::kENOSYS;
  }
  *why = fmt::format("unknown platform \"{}\"; valid: ptrace, systrap, kvm", name);
  return Errno::kEINVAL;
}

}  // namespace platform
