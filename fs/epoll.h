// epoll instances, after Linux fs/eventpoll.c. An interest item watches its
// file through a FileWatch (so it never holds the file open, and the file's
// last close removes it); the item's waiter puts it on the instance's ready
// list, and epoll_wait re-checks readiness there: level-triggered items stay
// listed while ready, EPOLLET items until the next wakeup, EPOLLONESHOT
// items are disabled after one report. An epoll file is pollable itself
// (readable when an item is ready), so instances nest; ELOOP for cycles.
//
// Lock order: the nesting mutex (epoll-in-epoll ADD only) > EpollFile::mu_
// (interest set; held across the watched files' Readiness and AddWatch) >
// a watched file's locks > its waiter queue > Item::mu_ > ready_mu_ >
// the instance's own waiter queue.
#ifndef FS_EPOLL_H_
#define FS_EPOLL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "fs/file_description.h"
#include "sentry/kernel/task.h"

namespace fs {

// struct epoll_event: packed on x86-64 (12 bytes).
struct __attribute__((packed)) EpollEvent {
  uint32_t events;
  uint64_t data;
};
static_assert(sizeof(EpollEvent) == 12);

std::shared_ptr<FileDescription> NewEpoll();
bool IsEpoll(const FileDescription& f);

// epoll_ctl(2) after the syscall's own checks (fds valid, `ep` an epoll
// other than `target`, `target` pollable, EPOLLEXCLUSIVE rules): EEXIST,
// ENOENT, EINVAL (MOD of an exclusive item, unknown op), ELOOP.
Result<void> EpollCtl(FileDescription& ep, int op, int fd, const std::shared_ptr<FileDescription>& target,
                      EpollEvent ev);

// epoll_wait(2): up to `max` events, waiting through Task::Block until one
// is ready, the deadline passes (empty; nullopt waits forever) or a signal
// arrives (EINTR: epoll_wait is never restarted).
Result<std::vector<EpollEvent>> EpollWait(sentry::kernel::Task& t, FileDescription& ep, size_t max,
                                          std::optional<absl::Time> deadline);

}  // namespace fs

#endif  // FS_EPOLL_H_
