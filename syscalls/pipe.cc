// pipe(2), pipe2(2) (fs/pipe.h does the work; fs/poll.h the waiting).
#include <fcntl.h>

#include <array>

#include "fs/pipe.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr int kPipe2Flags = O_CLOEXEC | O_NONBLOCK | O_DIRECT;

Result<uint64_t> DoPipe2(Task& t, UserPtr<int32_t> out, int flags) {
  if (flags & ~kPipe2Flags) return Errno::kEINVAL;  // before any allocation
  fs::PipeEnds ends = fs::NewPipe(flags & ~O_CLOEXEC, t.creds().euid, t.creds().egid);
  const bool cloexec = flags & O_CLOEXEC;
  // Linux (fs/pipe.c do_pipe2) reserves the fds, copies them out, and only
  // then installs the files, so a bad pointer leaves no fds. FdTable has no
  // reservations yet: install, and undo if the copy-out faults.
  // TODO(#4): FdTable::Reserve, so another thread never sees the fds.
  const int rfd = TRY(t.fds().Install(std::move(ends.read), cloexec));
  Result<int> wfd = t.fds().Install(std::move(ends.write), cloexec);
  if (!wfd.ok()) {
    (void)t.fds().Close(rfd);
    return wfd.error();
  }
  const std::array<int32_t, 2> fds = {rfd, wfd.value()};
  Result<void> c = t.mm().CopyOut(out, std::span<const int32_t>(fds));
  if (!c.ok()) {
    (void)t.fds().Close(rfd);
    (void)t.fds().Close(wfd.value());
    return c.error();
  }
  return 0;
}

}  // namespace

Result<uint64_t> Pipe(Task& t, const SyscallArgs& args) { return DoPipe2(t, args.Ptr<int32_t>(0), 0); }
Result<uint64_t> Pipe2(Task& t, const SyscallArgs& args) { return DoPipe2(t, args.Ptr<int32_t>(0), args.I32(1)); }

}  // namespace syscalls
