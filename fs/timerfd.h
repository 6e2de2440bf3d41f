// timerfd(2) files (fs/timerfd.c): a Timer (sentry/kernel/timer.h) on one
// clock whose expirations a read(2) takes as a u64 count. Reads never block
// here (EAGAIN); fs/poll.h waits for EPOLLIN.
#ifndef FS_TIMERFD_H_
#define FS_TIMERFD_H_

#include <memory>

#include "fs/file_description.h"
#include "sentry/kernel/timer.h"
#include "sentry/kernel/timer_clock.h"

namespace fs {

class TimerFd final : public FileDescription {
 public:
  // `flags`: O_NONBLOCK (TFD_NONBLOCK) in the status flags.
  TimerFd(const sentry::kernel::Clock& clock, int flags);
  ~TimerFd() override;

  Result<size_t> Read(std::span<uint8_t> buf) override;
  Result<struct stat> Stat() override;
  std::string Path() const override { return "anon_inode:[timerfd]"; }
  uint64_t Readiness(uint64_t mask) override;
  bool Pollable() const override { return true; }

  const sentry::kernel::Clock& clock() const { return clock_; }
  sentry::kernel::Timer& timer() { return timer_; }

 private:
  const sentry::kernel::Clock clock_;
  sentry::kernel::Timer timer_;  // last: its thread is joined first
};

// The timerfd behind `f`, or null (timerfd_settime's EINVAL).
TimerFd* AsTimerfd(FileDescription& f);

}  // namespace fs

#endif  // FS_TIMERFD_H_
