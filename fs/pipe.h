// Pipes (pipe(2), pipe2(2); FIFOs later): a buffer of page-sized slots
// shared by a read end and a write end, after Linux fs/pipe.c. Capacity is
// counted in slots as Linux does (64 KiB = 16 slots by default): writes
// merge into the last slot when they fit, O_DIRECT ("packet mode") gives
// each write of up to PIPE_BUF bytes a slot of its own and a read returns
// at most one packet. Reads and writes never block here; fs/poll.h waits.
#ifndef FS_PIPE_H_
#define FS_PIPE_H_

#include <cstdint>
#include <memory>

#include "fs/file_description.h"

namespace fs {

class Pipe;

constexpr uint64_t kPipeDefaultSize = 65536;
// /proc/sys/fs/pipe-max-size: the most an unprivileged F_SETPIPE_SZ may ask.
constexpr uint64_t kPipeMaxSize = 1 << 20;

struct PipeEnds {
  std::shared_ptr<FileDescription> read;
  std::shared_ptr<FileDescription> write;
};

// A new pipe. `flags` may hold O_NONBLOCK and O_DIRECT (callers reject
// others); `uid`/`gid` own the pipe inode (fstat).
PipeEnds NewPipe(int flags, uint32_t uid, uint32_t gid);

// For FIFOs (mknod S_IFIFO): one pipe object per FIFO inode, and an open
// end on it with open(2) flags (O_RDONLY, O_WRONLY or O_RDWR, O_NONBLOCK).
// TODO(#4): the blocking open rules (a reader waits for a writer) belong to
// the FIFO inode's Open, which needs the Task.
std::shared_ptr<Pipe> NewPipeObject(uint32_t uid, uint32_t gid);
std::shared_ptr<FileDescription> OpenPipeEnd(std::shared_ptr<Pipe> pipe, int flags);

// Whether `f` is an end of a pipe or FIFO (get_pipe_info() in Linux).
bool IsPipe(const FileDescription& f);
// splice(2) and tee(2) between two pipes (fs/splice.c): moves (consume) or
// copies up to `len` bytes from in's pipe into out's, buffer by buffer.
// Never waits: EAGAIN when `in` is empty but has writers or `out` is full,
// 0 when `in` is empty without writers, EPIPE when `out` has no readers.
// EINVAL when both are the same pipe. Callers check that in/out are pipes.
Result<size_t> PipeToPipe(FileDescription& in, FileDescription& out, size_t len, bool consume);

// fcntl F_GETPIPE_SZ / F_SETPIPE_SZ (`arg` as Linux's unsigned int).
// EBADF for a file that is not a pipe; `privileged` is CAP_SYS_RESOURCE,
// which may exceed kPipeMaxSize.
Result<uint64_t> PipeFcntl(FileDescription& f, int cmd, uint64_t arg, bool privileged);

}  // namespace fs

#endif  // FS_PIPE_H_
