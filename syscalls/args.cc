// Argument helpers shared by the syscall families (syscall.h).
#include "fs/inode.h"
#include "syscalls/syscall.h"

namespace syscalls {

bool ValidTimespec(const struct timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

Result<std::string> CopyInPath(Task& t, uint64_t addr) { return t.mm().CopyInString(addr, fs::kPathMax - 1); }

}  // namespace syscalls
