#include "sentry/kernel/pidfd.h"

#include <fcntl.h>
#include <sys/epoll.h>

namespace sentry::kernel {

PidFd::PidFd(std::shared_ptr<ThreadGroup> tg, int flags) : FileDescription(O_RDWR | flags), tg_(std::move(tg)) {}

base::Result<struct stat> PidFd::Stat() {
  struct stat st {};
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  st.st_ino = static_cast<ino_t>(tg_->pid);
  return st;
}

uint64_t PidFd::Readiness(uint64_t mask) {
  // pidfd_poll(): readable once the whole group has exited; hung up once
  // the process is reaped.
  const int state = tg_->exit_state.load();
  uint64_t r = 0;
  if (state >= 1) r |= EPOLLIN | EPOLLRDNORM;
  if (state >= 2) r |= EPOLLHUP;
  return r & (mask | EPOLLERR | EPOLLHUP);
}

void PidFd::EventRegister(Waiter* w) {
  FileDescription::EventRegister(w);
  tg_->exit_events.Add(w);
}

void PidFd::EventUnregister(Waiter* w) {
  tg_->exit_events.Remove(w);
  FileDescription::EventUnregister(w);
}

base::Result<std::shared_ptr<PidFd>> GetPidFd(Task& t, int fd) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  auto p = std::dynamic_pointer_cast<PidFd>(f);
  if (p == nullptr) return base::Errno::kEBADF;
  return p;
}

}  // namespace sentry::kernel
