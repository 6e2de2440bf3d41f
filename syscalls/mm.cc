// syscalls/mm.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> Mmap(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Mprotect(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Munmap(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Brk(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Mremap(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Madvise(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
