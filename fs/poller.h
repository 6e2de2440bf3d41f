// HostPoller: readiness notifications for host fds (the donated stdio). One
// sentry thread per kernel sleeps in the host's epoll_wait on the host fds
// that sandbox tasks are waiting on, and passes each readiness edge to the
// callback registered for the fd (HostFile wakes its waiter queue). The
// host fds' status flags are never changed: they are shared with the
// user's terminal.
#ifndef FS_POLLER_H_
#define FS_POLLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace fs {

class HostPoller {
 public:
  static base::Result<std::shared_ptr<HostPoller>> Create();
  ~HostPoller();  // stops and joins the thread
  HostPoller(const HostPoller&) = delete;
  HostPoller& operator=(const HostPoller&) = delete;

  // Watches `fd` (edge-triggered, all events) and calls `notify` with the
  // host events on each edge, on the poller thread with the poller's lock
  // held (Remove waits for a running callback). EPERM for fds the host
  // cannot poll (regular files: always ready). Returns a key for Remove.
  base::Result<uint64_t> Add(int fd, std::function<void(uint64_t)> notify);
  void Remove(uint64_t key);

 private:
  HostPoller(base::UniqueFd epfd, base::UniqueFd stopfd);
  void Loop();

  base::UniqueFd epfd_, stopfd_;
  absl::Mutex mu_;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  struct Entry {
    int fd;
    std::function<void(uint64_t)> notify;
  };
  absl::flat_hash_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace fs

#endif  // FS_POLLER_H_
