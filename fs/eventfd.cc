#include "fs/eventfd.h"

#include <fcntl.h>
#include <sys/epoll.h>

#include <cstring>
#include <limits>

namespace fs {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();  // ULLONG_MAX

class EventFd final : public FileDescription {
 public:
  EventFd(uint64_t initval, bool semaphore, int flags)
      : FileDescription(O_RDWR | flags), count_(initval), semaphore_(semaphore) {}

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (buf.size() < sizeof(uint64_t)) return Errno::kEINVAL;
    uint64_t v;
    {
      absl::MutexLock l(&mu_);
      if (count_ == 0) return Errno::kEAGAIN;
      v = semaphore_ ? 1 : count_;
      count_ -= v;
    }
    std::memcpy(buf.data(), &v, sizeof(v));
    NotifyEvents(EPOLLOUT | EPOLLWRNORM);
    return sizeof(v);
  }

  // Unlike reads, a write must be exactly 8 bytes (what Linux 6.x checks).
  Result<size_t> Write(std::span<const uint8_t> buf) override {
    if (buf.size() != sizeof(uint64_t)) return Errno::kEINVAL;
    uint64_t v;
    std::memcpy(&v, buf.data(), sizeof(v));
    if (v == kMax) return Errno::kEINVAL;
    {
      absl::MutexLock l(&mu_);
      // The counter never reaches ULLONG_MAX: a write that would take it
      // past ULLONG_MAX - 1 waits for a read.
      if (kMax - count_ <= v) return Errno::kEAGAIN;
      count_ += v;
    }
    if (v != 0) NotifyEvents(EPOLLIN | EPOLLRDNORM);
    return sizeof(v);
  }

  Result<struct stat> Stat() override { return AnonInodeStat(); }  // anon_inode_getfile()
  std::string Path() const override { return "anon_inode:[eventfd]"; }

  uint64_t Readiness(uint64_t mask) override {
    absl::MutexLock l(&mu_);
    uint64_t r = 0;
    if (count_ > 0) r |= EPOLLIN | EPOLLRDNORM;
    if (count_ == kMax) r |= EPOLLERR;
    if (kMax - 1 > count_) r |= EPOLLOUT | EPOLLWRNORM;
    return r & (mask | EPOLLERR | EPOLLHUP);
  }
  bool Pollable() const override { return true; }

 private:
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_);
  const bool semaphore_;
};

}  // namespace

std::shared_ptr<FileDescription> NewEventfd(uint64_t initval, bool semaphore, int flags) {
  return std::make_shared<EventFd>(initval, semaphore, flags);
}

}  // namespace fs
