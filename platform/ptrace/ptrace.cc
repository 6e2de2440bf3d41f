#include "platform/ptrace/ptrace.h"

namespace platform::ptrace {

// TODO(#3): the stub process platform.
Result<std::unique_ptr<Platform>> NewPtracePlatform(int, std::string* why) {
  *why = "ptrace platform not built yet";
  return Errno::kENOSYS;
}

}  // namespace platform::ptrace
