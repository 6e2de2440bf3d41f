// Process file descriptors (kernel/pid.c pidfd_create, fs/pidfs.c): an
// anonymous file that names one process. It becomes readable (EPOLLIN)
// when the process exits and hangs up (EPOLLHUP) once it is reaped.
#ifndef SENTRY_KERNEL_PIDFD_H_
#define SENTRY_KERNEL_PIDFD_H_

#include <memory>

#include "fs/file_description.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

class PidFd final : public fs::FileDescription {
 public:
  // `flags`: O_NONBLOCK (PIDFD_NONBLOCK) or 0.
  PidFd(std::shared_ptr<ThreadGroup> tg, int flags);
  ThreadGroup& thread_group() const { return *tg_; }
  std::shared_ptr<ThreadGroup> thread_group_ptr() const { return tg_; }

  base::Result<struct stat> Stat() override;
  std::string Path() const override { return "anon_inode:[pidfd]"; }
  uint64_t Readiness(uint64_t mask) override;
  bool Pollable() const override { return true; }
  // Waiters also go on the process's exit_events queue.
  void EventRegister(Waiter* w) override;
  void EventUnregister(Waiter* w) override;

 private:
  const std::shared_ptr<ThreadGroup> tg_;
};

// The process behind pidfd `fd` of `t`: EBADF if fd is not a pidfd.
base::Result<std::shared_ptr<PidFd>> GetPidFd(Task& t, int fd);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_PIDFD_H_
