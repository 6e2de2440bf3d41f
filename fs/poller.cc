#include "fs/poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/logging.h"

namespace fs {

namespace {
constexpr uint64_t kStopKey = 0;
}  // namespace

base::Result<std::shared_ptr<HostPoller>> HostPoller::Create() {
  base::UniqueFd epfd(epoll_create1(EPOLL_CLOEXEC));
  if (!epfd.valid()) return base::FromHost(errno);
  base::UniqueFd stopfd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stopfd.valid()) return base::FromHost(errno);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopKey;
  if (epoll_ctl(epfd.get(), EPOLL_CTL_ADD, stopfd.get(), &ev) != 0) return base::FromHost(errno);
  return std::shared_ptr<HostPoller>(new HostPoller(std::move(epfd), std::move(stopfd)));
}

HostPoller::HostPoller(base::UniqueFd epfd, base::UniqueFd stopfd)
    : epfd_(std::move(epfd)), stopfd_(std::move(stopfd)), thread_([this] { Loop(); }) {}

HostPoller::~HostPoller() {
  const uint64_t one = 1;
  if (write(stopfd_.get(), &one, sizeof(one)) != sizeof(one)) logging::Warn("host poller: stop write: {}", errno);
  thread_.join();
}

base::Result<uint64_t> HostPoller::Add(int fd, std::function<void(uint64_t)> notify) {
  absl::MutexLock l(&mu_);
  const uint64_t key = next_key_++;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = key;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return base::FromHost(errno);
  entries_[key] = Entry{fd, std::move(notify)};
  return key;
}

void HostPoller::Remove(uint64_t key) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr) != 0) {
    logging::Warn("host poller: epoll_ctl(DEL, {}): errno {}", it->second.fd, errno);
  }
  entries_.erase(it);
}

void HostPoller::Loop() {
  struct epoll_event evs[16];
  while (true) {
    const int n = epoll_wait(epfd_.get(), evs, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      logging::Warn("host poller: epoll_wait: errno {}; stopping", errno);
      return;
    }
    absl::MutexLock l(&mu_);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kStopKey) return;
      // A key removed since epoll_wait returned is simply gone.
      auto it = entries_.find(evs[i].data.u64);
      if (it != entries_.end()) it->second.notify(evs[i].events);
    }
  }
}

}  // namespace fs
