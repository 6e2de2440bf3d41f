// signalfd(2) files (fs/signalfd.c): read(2) dequeues pending signals of the
// mask from the *reading* task (its own and its process's pending sets) as
// struct signalfd_siginfo records; poll/epoll see EPOLLIN while one is
// pending. Like Linux, what the file sees depends on who asks
// (Task::Current()).
//
// Wakeups: a signalfd subscribes to ThreadGroup::signalfd_events of the
// process that creates it and of every process whose task reads it; the
// signal senders notify that queue (sentry/kernel/signal_deliver.cc).
// TODO(#5): a forked child that only polls an inherited signalfd (never
// reads it) is woken by its parent's signals, not its own.
#ifndef FS_SIGNALFD_H_
#define FS_SIGNALFD_H_

#include <cstdint>
#include <memory>

#include "fs/file_description.h"
#include "sentry/kernel/task.h"

namespace fs {

class SignalFd;

// `flags`: O_NONBLOCK (SFD_NONBLOCK) in the status flags. `t`: the creator.
std::shared_ptr<FileDescription> NewSignalfd(sentry::kernel::Task& t, uint64_t mask, int flags);
// signalfd(fd, mask) on an existing signalfd: EINVAL if `f` is not one.
Result<void> SetSignalfdMask(sentry::kernel::Task& t, FileDescription& f, uint64_t mask);

}  // namespace fs

#endif  // FS_SIGNALFD_H_
