// eventfd(2), eventfd2(2) (fs/eventfd.h).
#include <fcntl.h>
#include <sys/eventfd.h>

#include "fs/eventfd.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

Result<uint64_t> DoEventfd(Task& t, uint32_t initval, int flags) {
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) return Errno::kEINVAL;
  auto f = fs::NewEventfd(initval, flags & EFD_SEMAPHORE, flags & EFD_NONBLOCK);
  const int fd = TRY(t.fds().Install(std::move(f), flags & EFD_CLOEXEC));
  return static_cast<uint64_t>(fd);
}

}  // namespace

Result<uint64_t> Eventfd(Task& t, const SyscallArgs& args) { return DoEventfd(t, args.U32(0), 0); }
Result<uint64_t> Eventfd2(Task& t, const SyscallArgs& args) { return DoEventfd(t, args.U32(0), args.I32(1)); }

}  // namespace syscalls
