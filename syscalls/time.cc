// syscalls/time.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> Nanosleep(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Gettimeofday(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Time(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> ClockGettime(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> ClockGetres(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> ClockNanosleep(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
