// syscalls/file.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> Read(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Write(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Open(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Close(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Lseek(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Ioctl(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Pread64(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Pwrite64(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Readv(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Writev(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Dup(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Dup2(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Fcntl(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getdents64(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Openat(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Dup3(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
