// eventfd(2) files: a 64-bit counter, after Linux fs/eventfd.c. Reads and
// writes never block here (EAGAIN); fs/poll.h waits.
#ifndef FS_EVENTFD_H_
#define FS_EVENTFD_H_

#include <cstdint>
#include <memory>

#include "fs/file_description.h"

namespace fs {

// `flags`: O_NONBLOCK (EFD_NONBLOCK) in the status flags; `semaphore` is
// EFD_SEMAPHORE (each read takes 1).
std::shared_ptr<FileDescription> NewEventfd(uint64_t initval, bool semaphore, int flags);

}  // namespace fs

#endif  // FS_EVENTFD_H_
