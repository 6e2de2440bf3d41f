#include "fs/poll.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>

#include "absl/cleanup/cleanup.h"

namespace fs {
namespace {

using sentry::kernel::Waiter;

constexpr uint64_t kReadEvents = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint64_t kWriteEvents = EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR;

Errno Interrupted(Errno e) { return e == Errno::kEINTR ? Errno::kERESTARTSYS : e; }

}  // namespace

Result<size_t> ReadBlocking(sentry::kernel::Task& t, FileDescription& f, std::span<uint8_t> buf) {
  if (f.OwnBlocking()) return f.TaskRead(t, buf);
  Result<size_t> r = f.Read(buf);
  if (r.ok() || r.error() != Errno::kEAGAIN || (f.flags() & O_NONBLOCK)) return r;
  Waiter w(t, kReadEvents);
  f.EventRegister(&w);
  absl::Cleanup done = [&] { f.EventUnregister(&w); };
  while (true) {
    r = f.Read(buf);
    if (r.ok() || r.error() != Errno::kEAGAIN) return r;
    Result<void> b = t.Block(w, std::nullopt);
    if (!b.ok()) return Interrupted(b.error());
  }
}

Result<size_t> WriteBlocking(sentry::kernel::Task& t, FileDescription& f, std::span<const uint8_t> buf) {
  if (f.OwnBlocking()) return f.TaskWrite(t, buf);
  const bool whole = f.WritesWholeBuffer();
  std::optional<Waiter> w;
  absl::Cleanup done = [&] {
    if (w.has_value()) f.EventUnregister(&*w);
  };
  size_t written = 0;
  while (true) {
    Result<size_t> r = f.Write(buf.subspan(written));
    if (r.ok()) {
      written += r.value();
      if (!whole || written == buf.size() || buf.empty()) return written;
      continue;  // room for more may have appeared meanwhile
    }
    if (r.error() == Errno::kEPIPE) t.SendSignal(SIGPIPE);
    if (r.error() != Errno::kEAGAIN || (f.flags() & O_NONBLOCK)) {
      if (written > 0) return written;
      return r.error();
    }
    if (!w.has_value()) {
      // Register, then try again before sleeping (waiter.h).
      w.emplace(t, kWriteEvents);
      f.EventRegister(&*w);
      continue;
    }
    Result<void> b = t.Block(*w, std::nullopt);
    if (!b.ok()) {
      if (written > 0) return written;
      return Interrupted(b.error());
    }
  }
}

Result<size_t> PollWait(sentry::kernel::Task& t, std::span<PollItem> items, std::optional<absl::Time> deadline) {
  std::optional<Waiter> w;
  absl::Cleanup done = [&] {
    if (!w.has_value()) return;
    for (PollItem& it : items) {
      if (it.file != nullptr && !it.skip) it.file->EventUnregister(&*w);
    }
  };
  while (true) {
    size_t n = 0;
    for (PollItem& it : items) {
      if (it.skip) {
        it.revents = 0;
        continue;
      }
      if (it.file == nullptr) {
        it.revents = POLLNVAL;
      } else {
        const uint64_t filter = it.events | EPOLLERR | EPOLLHUP;
        it.revents = it.file->Readiness(filter) & filter;
      }
      if (it.revents != 0) ++n;
    }
    if (n > 0) return n;
    if (deadline.has_value() && absl::Now() >= *deadline) return 0;
    if (!w.has_value()) {
      // Register on every file, then check again before the first sleep.
      w.emplace(t);
      for (PollItem& it : items) {
        if (it.file != nullptr && !it.skip) it.file->EventRegister(&*w);
      }
      continue;
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok()) {
      if (b.error() == Errno::kETIMEDOUT) continue;  // one last check, then 0
      return b.error();
    }
  }
}

}  // namespace fs
