// The ptrace platform: stub processes driven with PTRACE_SYSEMU.
#ifndef PLATFORM_PTRACE_PTRACE_H_
#define PLATFORM_PTRACE_PTRACE_H_

#include <memory>
#include <string>

#include "platform/platform.h"

namespace platform::ptrace {

Result<std::unique_ptr<Platform>> NewPtracePlatform(int memory_fd, std::string* why);

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_PTRACE_H_
