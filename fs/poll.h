// Readiness helpers: blocking I/O on top of the non-blocking FileDescription
// operations, and the waits of poll(2)/select(2). FileDescription::Read and
// Write never wait for readiness: a file with nothing to give (an empty
// pipe, a full eventfd) returns EAGAIN, and these helpers wait through
// Task::Block (invariant 5) unless the file is O_NONBLOCK, as Linux's
// pipe_read()/pipe_write() do internally.
#ifndef FS_POLL_H_
#define FS_POLL_H_

#include <cstdint>
#include <optional>
#include <span>

#include "absl/time/time.h"
#include "base/result.h"
#include "fs/file_description.h"
#include "sentry/kernel/task.h"

namespace fs {

// read(2) on `f`, waiting for data unless O_NONBLOCK. ERESTARTSYS when a
// signal ends the wait.
Result<size_t> ReadBlocking(sentry::kernel::Task& t, FileDescription& f, std::span<uint8_t> buf);
// write(2) on `f`, waiting for room unless O_NONBLOCK; for files that take
// the whole buffer (pipes) it waits until all is written and returns the
// count so far if a signal or error ends the wait after some progress.
// EPIPE also sends SIGPIPE to the task, as Linux's pipe_write() does.
Result<size_t> WriteBlocking(sentry::kernel::Task& t, FileDescription& f, std::span<const uint8_t> buf);

// One entry of a poll(2)-style wait: `events` in, `revents` out. A null
// file is an fd that was not open: POLLNVAL.
struct PollItem {
  std::shared_ptr<FileDescription> file;
  uint64_t events = 0;
  uint64_t revents = 0;
  bool skip = false;  // negative fd: ignored, revents 0
};

// Polls every item until one is ready, the deadline passes (returns 0;
// nullopt waits forever; a past deadline polls once) or a signal arrives
// (EINTR). Returns the number of items with revents != 0. Linux's
// do_poll(): EPOLLERR and EPOLLHUP are always reported.
Result<size_t> PollWait(sentry::kernel::Task& t, std::span<PollItem> items, std::optional<absl::Time> deadline);

// The temporary signal mask of ppoll/pselect6/epoll_pwait: set for the
// call, restored at scope end. TODO(#5): when a handler runs, the old mask
// is restored after it (sigreturn), not before.
class ScopedSignalMask {
 public:
  ScopedSignalMask() = default;
  ScopedSignalMask(const ScopedSignalMask&) = delete;
  ScopedSignalMask& operator=(const ScopedSignalMask&) = delete;
  ~ScopedSignalMask() {
    if (task_ != nullptr) task_->set_signal_mask(old_);
  }
  void Set(sentry::kernel::Task& t, uint64_t mask) {
    if (task_ == nullptr) {
      task_ = &t;
      old_ = t.signal_mask();
    }
    t.set_signal_mask(mask);
  }
  // The call was interrupted by a signal (EINTR/ERESTARTNOHAND): keep the
  // temporary mask for the signal's delivery, which puts the old one back
  // (restore_saved_sigmask_unless in Linux). Without this a signal the old
  // mask blocks would interrupt the restarted call forever.
  void KeepUntilDelivery() {
    if (task_ != nullptr) {
      task_->saved_signal_mask = old_;
      task_ = nullptr;
    }
  }
  // Returns r, keeping the mask as above if r says the call was interrupted.
  template <typename R>
  R Finish(R r) {
    if (!r.ok() && (r.error() == base::Errno::kEINTR || r.error() == base::Errno::kERESTARTNOHAND)) {
      KeepUntilDelivery();
    }
    return r;
  }

 private:
  sentry::kernel::Task* task_ = nullptr;
  uint64_t old_ = 0;
};

}  // namespace fs

#endif  // FS_POLL_H_
