// Host-fd files: the stdio fds the CLI donates to the sandbox (a tty, a
// pipe, a file). The sentry does the I/O on the fd itself; terminal ioctls
// are forwarded to the host tty with arguments copied through the app's
// MemoryManager. Nothing else about the host is reachable through them.
#ifndef FS_HOST_FILE_H_
#define FS_HOST_FILE_H_

#include <memory>

#include "base/unique_fd.h"
#include "fs/file_description.h"
#include "fs/poller.h"

namespace fs {

// `flags` are the open(2) status flags the app sees (F_GETFL), normally the
// host fd's own (O_RDONLY for stdin, O_WRONLY for stdout/stderr, O_RDWR for
// a tty). `poller` (one per kernel) wakes tasks waiting on the fd; without
// one the file is treated as always ready.
std::shared_ptr<FileDescription> NewHostFile(base::UniqueFd fd, int flags, std::shared_ptr<HostPoller> poller);

class Inode;
// For /proc/<pid>/fd/N of a donated host file: an inode whose open makes a
// new description on the same host fd (access modes it allows only, else
// EACCES); null when `f` is not a host file.
std::shared_ptr<Inode> HostReopenInodeOf(const std::shared_ptr<FileDescription>& f);

}  // namespace fs

#endif  // FS_HOST_FILE_H_
