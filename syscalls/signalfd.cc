// signalfd(2), signalfd4(2) (fs/signalfd.h).
#include <fcntl.h>
#include <sys/signalfd.h>

#include "fs/signalfd.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

Result<uint64_t> DoSignalfd(Task& t, int fd, UserPtr<uint64_t> mask_ptr, uint64_t size, int flags) {
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return Errno::kEINVAL;
  if (size != sizeof(uint64_t)) return Errno::kEINVAL;  // sizeof(sigset_t) in the kernel
  const uint64_t mask = TRY(t.mm().CopyIn(mask_ptr));
  if (fd != -1) {
    auto f = TRY(t.fds().Get(fd));
    TRY(fs::SetSignalfdMask(t, *f, mask));
    return static_cast<uint64_t>(fd);
  }
  auto f = fs::NewSignalfd(t, mask, flags & SFD_NONBLOCK);
  const int nfd = TRY(t.fds().Install(std::move(f), flags & SFD_CLOEXEC));
  return static_cast<uint64_t>(nfd);
}

}  // namespace

Result<uint64_t> Signalfd(Task& t, const SyscallArgs& args) {
  return DoSignalfd(t, args.Fd(0), args.Ptr<uint64_t>(1), args.U64(2), 0);
}
Result<uint64_t> Signalfd4(Task& t, const SyscallArgs& args) {
  return DoSignalfd(t, args.Fd(0), args.Ptr<uint64_t>(1), args.U64(2), args.I32(3));
}

}  // namespace syscalls
