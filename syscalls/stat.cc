// syscalls/stat.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> Stat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Fstat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Lstat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Access(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getcwd(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Chdir(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Fchdir(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Readlink(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Newfstatat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Readlinkat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Faccessat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Statx(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Faccessat2(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
