// Pipes (pipe(2), pipe2(2)) and FIFOs (mknod S_IFIFO on tmpfs and the overlay): a buffer of page-sized slots
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
class Inode;
struct Path;

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
std::shared_ptr<Pipe> NewPipeObject(uint32_t uid, uint32_t gid);
std::shared_ptr<FileDescription> OpenPipeEnd(std::shared_ptr<Pipe> pipe, int flags);
// open(2) of a FIFO inode (fs/pipe.c fifo_open): an end whose fstat shows
// `shown` and whose path is `at`. ENXIO for O_WRONLY|O_NONBLOCK while no
// reader has it open. The wait for the other side is WaitFifoPartner's.
Result<std::shared_ptr<FileDescription>> OpenFifoEnd(std::shared_ptr<Pipe> pipe, int flags, const Path& at,
                                                     std::shared_ptr<Inode> shown);
// fifo_open()'s wait, made by open(2) once the end exists: a blocking
// O_RDONLY open waits until a writer has opened the FIFO (since this open),
// a blocking O_WRONLY open until a reader has; O_RDWR, O_NONBLOCK and
// non-FIFO files return at once. ERESTARTSYS when a signal ends the wait.
Result<void> WaitFifoPartner(sentry::kernel::Task& t, FileDescription& f);

// Whether `f` is an end of a pipe or FIFO (get_pipe_info() in Linux).
bool IsPipe(const FileDescription& f);
// For /proc/<pid>/fd/N of an anonymous pipe end: an inode whose open gives
// a new end of the same pipe (fifo_open on the pipe's inode); null when `f`
// is not a pipe end.
std::shared_ptr<Inode> PipeReopenInode(const FileDescription& f);
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
