// syscalls/signal.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> RtSigaction(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> RtSigprocmask(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Sigaltstack(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
