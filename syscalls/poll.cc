// poll(2), ppoll(2), select(2), pselect6(2), after Linux fs/select.c. The
// waiting is fs::PollWait: every file's waiter queue, one Task::Block.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <vector>

#include "fs/poll.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

// fs/select.c POLLIN_SET, POLLOUT_SET, POLLEX_SET.
constexpr uint64_t kInSet = EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR;
constexpr uint64_t kOutSet = EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR;
constexpr uint64_t kExSet = EPOLLPRI;

struct KPollfd {
  int32_t fd;
  int16_t events;
  int16_t revents;
};
static_assert(sizeof(KPollfd) == 8);

// poll_select_set_timeout(): the absolute end of a relative timeout; a
// zero timeout polls once (deadline now).
Result<std::optional<absl::Time>> DeadlineOf(int64_t sec, int64_t nsec) {
  if (sec < 0 || nsec < 0 || nsec >= 1000000000) return Errno::kEINVAL;
  return absl::Now() + absl::Seconds(sec) + absl::Nanoseconds(nsec);
}

absl::Duration Remaining(absl::Time deadline) { return std::max(deadline - absl::Now(), absl::ZeroDuration()); }

// set_user_sigmask(): the optional mask of ppoll/pselect6.
Result<void> SetUserSigmask(Task& t, UserPtr<uint64_t> mask, uint64_t size, fs::ScopedSignalMask& scope) {
  if (mask.null()) return {};
  if (size != kSigsetSize) return Errno::kEINVAL;
  const uint64_t m = TRY(t.mm().CopyIn(mask));
  scope.Set(t, m);
  return {};
}

// A wait interrupted by a signal. Linux returns ERESTART_RESTARTBLOCK from
// poll() to resume with the time left; restarting with the full timeout
// (ERESTARTNOHAND) differs only for a signal with no handler, and EINTR is
// what an app with a handler sees either way. TODO(#5).
Errno InterruptedWait(Errno e) { return e == Errno::kEINTR ? Errno::kERESTARTNOHAND : e; }

Result<uint64_t> DoPoll(Task& t, uint64_t ufds, uint64_t nfds, std::optional<absl::Time> deadline) {
  uint64_t nofile;
  {
    auto& tg = t.thread_group();
    absl::MutexLock l(&tg.mu);
    nofile = tg.rlimits[RLIMIT_NOFILE].cur;
  }
  if (nfds > nofile) return Errno::kEINVAL;
  std::vector<KPollfd> pfds(nfds);
  if (nfds > 0) {
    TRY(t.mm().CopyInBytes(ufds, std::span<uint8_t>(reinterpret_cast<uint8_t*>(pfds.data()), nfds * sizeof(KPollfd))));
  }
  std::vector<fs::PollItem> items(nfds);
  for (size_t i = 0; i < nfds; ++i) {
    if (pfds[i].fd < 0) {
      items[i].skip = true;
      continue;
    }
    Result<std::shared_ptr<fs::FileDescription>> f = t.fds().Get(pfds[i].fd);
    if (f.ok()) items[i].file = std::move(f).value();
    items[i].events = static_cast<uint16_t>(pfds[i].events);
  }
  Result<size_t> r = fs::PollWait(t, items, deadline);
  if (!r.ok()) return InterruptedWait(r.error());
  const size_t n = r.value();
  for (size_t i = 0; i < nfds; ++i) pfds[i].revents = static_cast<int16_t>(items[i].revents);
  // Only revents is written back, one field at a time as Linux does.
  for (size_t i = 0; i < nfds; ++i) {
    TRY(t.mm().CopyOut(UserPtr<int16_t>(ufds + i * sizeof(KPollfd) + offsetof(KPollfd, revents)), pfds[i].revents));
  }
  return n;
}

// fdt->max_fds: select() ignores bits at or above the fd table's size,
// which Linux grows in steps (64, then 128 << k) as fds are opened.
int MaxFds(Task& t) {
  const std::vector<int> fds = t.fds().Fds();
  const int hi = fds.empty() ? -1 : fds.back();
  if (hi < 64) return 64;
  int n = 128;
  while (n <= hi) n *= 2;
  return n;
}

Result<uint64_t> DoSelect(Task& t, int nfds, uint64_t in_addr, uint64_t out_addr, uint64_t ex_addr,
                          std::optional<absl::Time> deadline) {
  if (nfds < 0) return Errno::kEINVAL;
  nfds = std::min(nfds, MaxFds(t));
  const size_t words = (static_cast<size_t>(nfds) + 63) / 64;
  std::vector<uint64_t> in(words), out(words), ex(words);
  auto copy_in = [&](uint64_t addr, std::vector<uint64_t>& v) -> Result<void> {
    if (addr == 0 || words == 0) return {};
    return t.mm().CopyInBytes(addr, std::span<uint8_t>(reinterpret_cast<uint8_t*>(v.data()), words * 8));
  };
  TRY(copy_in(in_addr, in));
  TRY(copy_in(out_addr, out));
  TRY(copy_in(ex_addr, ex));
  std::vector<fs::PollItem> items;
  std::vector<int> item_fd;
  for (int fd = 0; fd < nfds; ++fd) {
    const uint64_t bit = 1ull << (fd % 64);
    const size_t w = static_cast<size_t>(fd) / 64;
    uint64_t events = 0;
    if (in[w] & bit) events |= kInSet;
    if (out[w] & bit) events |= kOutSet;
    if (ex[w] & bit) events |= kExSet;
    if (events == 0) continue;
    fs::PollItem it;
    it.file = TRY(t.fds().Get(fd));  // EBADF, as max_select_fd()
    it.events = events;
    items.push_back(std::move(it));
    item_fd.push_back(fd);
  }
  if (Result<size_t> r = fs::PollWait(t, items, deadline); !r.ok()) return InterruptedWait(r.error());
  std::fill(in.begin(), in.end(), 0);
  std::fill(out.begin(), out.end(), 0);
  std::fill(ex.begin(), ex.end(), 0);
  uint64_t count = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const uint64_t bit = 1ull << (item_fd[i] % 64);
    const size_t w = static_cast<size_t>(item_fd[i]) / 64;
    const uint64_t r = items[i].revents;
    // Each set an fd was asked for and is ready in counts once.
    if ((items[i].events & EPOLLIN) && (r & kInSet)) in[w] |= bit, ++count;
    if ((items[i].events & EPOLLOUT) && (r & kOutSet)) out[w] |= bit, ++count;
    if ((items[i].events & EPOLLPRI) && (r & kExSet)) ex[w] |= bit, ++count;
  }
  auto copy_out = [&](uint64_t addr, const std::vector<uint64_t>& v) -> Result<void> {
    if (addr == 0 || words == 0) return {};
    return t.mm().CopyOutBytes(addr, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), words * 8));
  };
  TRY(copy_out(in_addr, in));
  TRY(copy_out(out_addr, out));
  TRY(copy_out(ex_addr, ex));
  return count;
}

// poll_select_finish(): writes the time left back for select/ppoll/pselect6
// (not for a zero timeout). A fault there is ignored, except that a restart
// becomes EINTR since the timeout could not be updated.
template <typename T>
Result<uint64_t> FinishTimeout(Task& t, UserPtr<T> p, std::optional<absl::Time> deadline, bool zero,
                               Result<uint64_t> ret) {
  if (p.null() || !deadline.has_value() || zero) return ret;
  const absl::Duration left = Remaining(*deadline);
  T v{};
  if constexpr (std::is_same_v<T, struct timeval>) {
    v = absl::ToTimeval(left);
  } else {
    v = absl::ToTimespec(left);
  }
  if (!t.mm().CopyOut(p, v).ok() && !ret.ok() && ret.error() == Errno::kERESTARTNOHAND) return Errno::kEINTR;
  return ret;
}

}  // namespace

Result<uint64_t> Poll(Task& t, const SyscallArgs& args) {
  const int timeout_ms = args.I32(2);
  std::optional<absl::Time> deadline;
  if (timeout_ms >= 0) deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  return DoPoll(t, args.U64(0), args.U32(1), deadline);
}

Result<uint64_t> Ppoll(Task& t, const SyscallArgs& args) {
  const auto ts_ptr = args.Ptr<struct timespec>(2);
  std::optional<absl::Time> deadline;
  bool zero = false;
  if (!ts_ptr.null()) {
    const struct timespec ts = TRY(t.mm().CopyIn(ts_ptr));
    deadline = TRY(DeadlineOf(ts.tv_sec, ts.tv_nsec));
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
  }
  fs::ScopedSignalMask mask;
  TRY(SetUserSigmask(t, args.Ptr<uint64_t>(3), args.U64(4), mask));
  return mask.Finish(FinishTimeout(t, ts_ptr, deadline, zero, DoPoll(t, args.U64(0), args.U32(1), deadline)));
}

Result<uint64_t> Select(Task& t, const SyscallArgs& args) {
  const auto tv_ptr = args.Ptr<struct timeval>(4);
  std::optional<absl::Time> deadline;
  bool zero = false;
  if (!tv_ptr.null()) {
    const struct timeval tv = TRY(t.mm().CopyIn(tv_ptr));
    // sys_select() folds whole seconds of tv_usec into tv_sec first.
    if (tv.tv_usec < 0) return Errno::kEINVAL;
    deadline = TRY(DeadlineOf(tv.tv_sec + tv.tv_usec / 1000000, (tv.tv_usec % 1000000) * 1000));
    zero = tv.tv_sec == 0 && tv.tv_usec == 0;
  }
  return FinishTimeout(t, tv_ptr, deadline, zero,
                       DoSelect(t, args.I32(0), args.U64(1), args.U64(2), args.U64(3), deadline));
}

Result<uint64_t> Pselect6(Task& t, const SyscallArgs& args) {
  const auto ts_ptr = args.Ptr<struct timespec>(4);
  std::optional<absl::Time> deadline;
  bool zero = false;
  if (!ts_ptr.null()) {
    const struct timespec ts = TRY(t.mm().CopyIn(ts_ptr));
    deadline = TRY(DeadlineOf(ts.tv_sec, ts.tv_nsec));
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
  }
  // The sixth argument points at {const sigset_t* ss; size_t ss_len}.
  struct SigsetArg {
    uint64_t ss;
    uint64_t len;
  };
  fs::ScopedSignalMask mask;
  const auto pack_ptr = args.Ptr<SigsetArg>(5);
  if (!pack_ptr.null()) {
    const SigsetArg pack = TRY(t.mm().CopyIn(pack_ptr));
    TRY(SetUserSigmask(t, UserPtr<uint64_t>(pack.ss), pack.len, mask));
  }
  return mask.Finish(FinishTimeout(t, ts_ptr, deadline, zero,
                                   DoSelect(t, args.I32(0), args.U64(1), args.U64(2), args.U64(3), deadline)));
}

}  // namespace syscalls
