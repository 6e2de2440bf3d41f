#include "fs/timerfd.h"

#include <fcntl.h>
#include <sys/epoll.h>

#include <cstring>

namespace fs {

TimerFd::TimerFd(const sentry::kernel::Clock& clock, int flags)
    : FileDescription(O_RDWR | flags),
      clock_(clock),
      timer_([this](uint64_t) { NotifyEvents(EPOLLIN | EPOLLRDNORM); }) {}

TimerFd::~TimerFd() = default;

Result<size_t> TimerFd::Read(std::span<uint8_t> buf) {
  if (buf.size() < sizeof(uint64_t)) return Errno::kEINVAL;
  const uint64_t ticks = timer_.TakeExpirations();
  if (ticks == 0) return Errno::kEAGAIN;
  std::memcpy(buf.data(), &ticks, sizeof(ticks));
  return sizeof(ticks);
}

Result<struct stat> TimerFd::Stat() {
  return AnonInodeStat();
}

uint64_t TimerFd::Readiness(uint64_t mask) {
  const uint64_t r = timer_.Expirations() > 0 ? (EPOLLIN | EPOLLRDNORM) : 0;
  return r & mask;
}

TimerFd* AsTimerfd(FileDescription& f) { return dynamic_cast<TimerFd*>(&f); }

}  // namespace fs
