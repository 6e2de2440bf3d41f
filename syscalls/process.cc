// syscalls/process.cc: TODO implement.
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> SchedYield(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getpid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Exit(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Uname(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Umask(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getrlimit(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Sysinfo(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getuid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getgid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Geteuid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getegid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getppid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getpgrp(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getgroups(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getresuid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getresgid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getpgid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getsid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Prctl(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> ArchPrctl(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Setrlimit(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Gettid(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> SchedGetaffinity(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> SetTidAddress(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> ExitGroup(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> SetRobustList(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Prlimit64(Task&, const SyscallArgs&) { return Errno::kENOSYS; }
Result<uint64_t> Getrandom(Task&, const SyscallArgs&) { return Errno::kENOSYS; }

}  // namespace syscalls
