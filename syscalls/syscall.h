// The syscall handler shape and the table entry (STYLE.md). Handlers decode
// their arguments at the top, validate before allocating, and return a value
// or an Errno; the dispatcher turns errors into -errno for the app.
#ifndef SYSCALLS_SYSCALL_H_
#define SYSCALLS_SYSCALL_H_

#include <time.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/user_ptr.h"

namespace syscalls {

using base::Errno;
using base::Result;
using sentry::kernel::Task;
using sentry::mm::UserPtr;

struct SyscallArgs {
  uint64_t raw[6];
  uint64_t U64(int i) const { return raw[i]; }
  int64_t I64(int i) const { return static_cast<int64_t>(raw[i]); }
  uint32_t U32(int i) const { return static_cast<uint32_t>(raw[i]); }
  int32_t I32(int i) const { return static_cast<int32_t>(raw[i]); }
  // fds are ints: the upper half of the register is ignored, as in Linux.
  int Fd(int i) const { return static_cast<int>(raw[i]); }
  template <typename T>
  UserPtr<T> Ptr(int i) const { return UserPtr<T>(raw[i]); }
};

using Handler = Result<uint64_t> (*)(Task& t, const SyscallArgs& args);
enum class Support { kFull, kPartial, kNone };

// How --strace prints each argument.
enum class ArgKind : uint8_t { kNone, kHex, kInt, kFd, kPath, kStr, kBuf, kOct };

struct SyscallEntry {
  int nr;
  std::string_view name;
  Handler fn;  // null: ENOSYS, logged once
  Support support;
  std::string_view note;
  ArgKind args[6];
};

// The table, indexed by number; entries for unused numbers have an empty name.
std::span<const SyscallEntry> Table();
const SyscallEntry* Lookup(uint64_t nr);

// Argument helpers the families share (syscalls/args.cc).
inline constexpr uint64_t kSigsetSize = 8;  // the kernel's sigset_t: 64 signals
inline constexpr uint64_t kMaxRwCount = 0x7ffff000;  // MAX_RW_COUNT: INT_MAX & PAGE_MASK
inline constexpr uint64_t kUioMaxIov = 1024;          // UIO_MAXIOV
inline constexpr uint64_t kTaskSize = 0x7ffffffff000;  // TASK_SIZE_MAX: access_ok()'s bound
inline constexpr size_t kBounceChunk = 1 << 20;        // the most one sentry bounce buffer takes per step
struct KIovec {  // struct iovec as the app lays it out
  uint64_t base;
  uint64_t len;
};
// An iovec array from app memory: `too_many` past UIO_MAXIOV (readv's
// EINVAL; sendmsg's EMSGSIZE), EINVAL for a negative length, and lengths
// clamped so that the total stays within MAX_RW_COUNT.
Result<std::vector<KIovec>> CopyInIovecs(Task& t, uint64_t addr, uint64_t count, Errno too_many = Errno::kEINVAL);
// timespec64_valid(): tv_sec >= 0 and 0 <= tv_nsec < 1e9.
bool ValidTimespec(const struct timespec& ts);
// A NUL-terminated path from app memory: EFAULT, or ENAMETOOLONG past PATH_MAX.
Result<std::string> CopyInPath(Task& t, uint64_t addr);

// Runs one syscall for `t` from its registers and writes the result back
// (rax), including --strace output. Restart errnos are resolved here.
void Dispatch(Task& t);

}  // namespace syscalls

#endif  // SYSCALLS_SYSCALL_H_
