// Argument helpers shared by the syscall families (syscall.h).
#include <algorithm>

#include "fs/inode.h"
#include "syscalls/syscall.h"

namespace syscalls {

bool ValidTimespec(const struct timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

Result<std::string> CopyInPath(Task& t, uint64_t addr) { return t.mm().CopyInString(addr, fs::kPathMax - 1); }

Result<std::vector<KIovec>> CopyInIovecs(Task& t, uint64_t addr, uint64_t count, Errno too_many) {
  if (count > kUioMaxIov) return too_many;
  std::vector<KIovec> iov(count);
  if (count > 0) {
    TRY(t.mm().CopyInBytes(addr, std::span<uint8_t>(reinterpret_cast<uint8_t*>(iov.data()), count * sizeof(KIovec))));
  }
  uint64_t total = 0;
  for (KIovec& v : iov) {
    if (static_cast<int64_t>(v.len) < 0) return Errno::kEINVAL;
    v.len = std::min(v.len, kMaxRwCount - total);
    total += v.len;
  }
  return iov;
}

}  // namespace syscalls
