// epoll_create(2), epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
// epoll_pwait2, with Linux's argument checks (fs/eventpoll.c); the
// instances are fs/epoll.h.
#include <sys/epoll.h>

#include <climits>

#include "fs/epoll.h"
#include "fs/poll.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr uint64_t kMaxEvents = INT_MAX / sizeof(fs::EpollEvent);  // EP_MAX_EVENTS
// EPOLLEXCLUSIVE_OK_BITS.
constexpr uint32_t kExclusiveOk = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

Result<uint64_t> DoCreate(Task& t, int flags) {
  if (flags & ~EPOLL_CLOEXEC) return Errno::kEINVAL;
  const int fd = TRY(t.fds().Install(fs::NewEpoll(), flags & EPOLL_CLOEXEC));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> DoWait(Task& t, int epfd, uint64_t events, int maxevents, std::optional<absl::Time> deadline) {
  if (maxevents <= 0 || static_cast<uint64_t>(maxevents) > kMaxEvents) return Errno::kEINVAL;
  const uint64_t bytes = static_cast<uint64_t>(maxevents) * sizeof(fs::EpollEvent);
  if (events > kTaskSize || bytes > kTaskSize - events) return Errno::kEFAULT;
  std::shared_ptr<fs::FileDescription> ep = TRY(t.fds().Get(epfd));
  if (!fs::IsEpoll(*ep)) return Errno::kEINVAL;
  const std::vector<fs::EpollEvent> out = TRY(fs::EpollWait(t, *ep, static_cast<size_t>(maxevents), deadline));
  if (!out.empty()) TRY(t.mm().CopyOut(UserPtr<fs::EpollEvent>(events), std::span<const fs::EpollEvent>(out)));
  return out.size();
}

std::optional<absl::Time> DeadlineMs(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return absl::Now() + absl::Milliseconds(timeout_ms);
}

Result<uint64_t> DoPwait(Task& t, const SyscallArgs& args, std::optional<absl::Time> deadline) {
  fs::ScopedSignalMask mask;
  const auto set = args.Ptr<uint64_t>(4);
  if (!set.null()) {
    if (args.U64(5) != kSigsetSize) return Errno::kEINVAL;
    mask.Set(t, TRY(t.mm().CopyIn(set)));
  }
  return mask.Finish(DoWait(t, args.Fd(0), args.U64(1), args.I32(2), deadline));
}

}  // namespace

Result<uint64_t> EpollCreate(Task& t, const SyscallArgs& args) {
  if (args.I32(0) <= 0) return Errno::kEINVAL;  // the size hint must be positive
  return DoCreate(t, 0);
}

Result<uint64_t> EpollCreate1(Task& t, const SyscallArgs& args) { return DoCreate(t, args.I32(0)); }

Result<uint64_t> EpollCtl(Task& t, const SyscallArgs& args) {
  const int epfd = args.Fd(0), op = args.I32(1), fd = args.Fd(2);
  fs::EpollEvent ev{};
  if (op != EPOLL_CTL_DEL) ev = TRY(t.mm().CopyIn(args.Ptr<fs::EpollEvent>(3)));
  std::shared_ptr<fs::FileDescription> ep = TRY(t.fds().Get(epfd));
  std::shared_ptr<fs::FileDescription> target = TRY(t.fds().Get(fd));
  if (!target->Pollable()) return Errno::kEPERM;  // regular files, directories
  if (ep == target || !fs::IsEpoll(*ep)) return Errno::kEINVAL;
  if (op != EPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
    if (op == EPOLL_CTL_MOD) return Errno::kEINVAL;
    if (op == EPOLL_CTL_ADD && (fs::IsEpoll(*target) || (ev.events & ~kExclusiveOk))) return Errno::kEINVAL;
  }
  TRY(fs::EpollCtl(*ep, op, fd, target, ev));
  return 0;
}

Result<uint64_t> EpollWait(Task& t, const SyscallArgs& args) {
  return DoWait(t, args.Fd(0), args.U64(1), args.I32(2), DeadlineMs(args.I32(3)));
}

Result<uint64_t> EpollPwait(Task& t, const SyscallArgs& args) { return DoPwait(t, args, DeadlineMs(args.I32(3))); }

Result<uint64_t> EpollPwait2(Task& t, const SyscallArgs& args) {
  std::optional<absl::Time> deadline;
  const auto ts_ptr = args.Ptr<struct timespec>(3);
  if (!ts_ptr.null()) {
    const struct timespec ts = TRY(t.mm().CopyIn(ts_ptr));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  return DoPwait(t, args, deadline);
}

}  // namespace syscalls
