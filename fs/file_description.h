// FileDescription: an open file, shared by every fd that dup(2) or fork(2)
// made from one open(2) (the offset and status flags live here; CLOEXEC lives
// in the fd table). Every filesystem implements this interface.
#ifndef FS_FILE_DESCRIPTION_H_
#define FS_FILE_DESCRIPTION_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/kernel/waiter.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {
class Task;
}

namespace fs {

struct Path;

// The kernel's O_LARGEFILE: glibc's x86-64 O_LARGEFILE is 0, but open(2)
// sets 0100000 in f_flags (F_GETFL, fdinfo) on 64-bit.
inline constexpr int kOLargefile = 0100000;

class Dentry;
class FileDescription;
class LockTable;

using base::Errno;
using base::Result;

// A long-lived waiter registration on a file by another object (an epoll
// interest item). The file keeps the watch alive while its waiter is
// registered; when the file is released (last close) it unregisters the
// waiter and calls Released(), as Linux's eventpoll_release() does, so
// watchers never hold the file open.
class FileWatch {
 public:
  virtual ~FileWatch() = default;
  virtual sentry::kernel::Waiter* waiter() = 0;
  // The file is being destroyed; it must not be touched any more. Called
  // with no lock of the file held.
  virtual void Released() = 0;
};

class FileDescription {
 public:
  virtual ~FileDescription();

  // Read/Write use and advance the file offset; P* variants do not. Default
  // implementations give the errno Linux gives for files without the
  // operation (EINVAL for read on a directory is EISDIR, see implementations).
  virtual Result<size_t> Read(std::span<uint8_t> buf);
  virtual Result<size_t> Write(std::span<const uint8_t> buf);
  virtual Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off);
  virtual Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off);
  virtual Result<uint64_t> Seek(int64_t off, int whence);
  virtual Result<struct stat> Stat() = 0;
  // Fills buf with linux_dirent64 records; 0 at end of directory. ENOTDIR
  // for non-directories. EINVAL if buf cannot hold the next record.
  virtual Result<size_t> Getdents64(std::span<uint8_t> buf);
  // ioctl(2); `mm` is the caller's memory for arguments. ENOTTY by default.
  virtual Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg);
  // ---- Calls that need the calling task (terminals: the controlling
  // terminal, job control, VMIN/VTIME; fs/tty_file.cc). The ioctl syscall
  // calls TaskIoctl, which defaults to Ioctl(t.mm(), ...). A file with
  // OwnBlocking() does its own waiting through Task::Block in TaskRead and
  // TaskWrite, which fs::ReadBlocking/WriteBlocking then call instead.
  virtual Result<uint64_t> TaskIoctl(sentry::kernel::Task& t, uint64_t cmd, uint64_t arg);
  virtual bool OwnBlocking() const { return false; }
  virtual Result<size_t> TaskRead(sentry::kernel::Task& t, std::span<uint8_t> buf);
  virtual Result<size_t> TaskWrite(sentry::kernel::Task& t, std::span<const uint8_t> buf);
  // ---- One-copy I/O for files whose data lives in memory-file pages
  // (tmpfs, memfd, the overlay's upper files): when DirectIo(), ReadApp and
  // WriteApp copy straight between app memory [addr, addr+len) and the
  // file's pages through the sentry's mapping (MemoryManager::AccessPartial),
  // with no bounce buffer. `off` null: at the file offset (advanced), else
  // positional (as PRead/PWrite). `append` (O_APPEND, or RWF_APPEND without
  // RWF_NOAPPEND: the caller decides) writes at EOF and, without `off`,
  // leaves the file offset after the write. They never block. A fault after
  // some bytes moved ends the call short; EFAULT if none did. EINVAL by
  // default.
  virtual bool DirectIo() const { return false; }
  // Only ReadApp is direct (WriteApp is not): files whose data the host
  // holds (gofer files) pread straight into app memory.
  virtual bool DirectRead() const { return DirectIo(); }
  virtual Result<size_t> ReadApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, const uint64_t* off);
  virtual Result<size_t> WriteApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, const uint64_t* off,
                                  bool append);
  // For mmap(2) of this file; ENODEV if it cannot be mapped.
  virtual Result<std::shared_ptr<sentry::mm::MappableFile>> Mappable();
  // The absolute path inside the sandbox, for /proc/self/fd and getcwd.
  virtual std::string Path() const = 0;
  // Where the file is in the VFS tree, for *at() dirfds and fchdir; null for
  // files outside the tree (host stdio, pipes, sockets).
  virtual const fs::Path* location() const { return nullptr; }

  // open(2) status flags (O_ACCMODE, O_APPEND, O_NONBLOCK, ...), as F_GETFL
  // (with kOLargefile for files opened by path, as Linux's force_o_largefile()).
  int flags() const {
    absl::MutexLock l(&flags_mu_);
    return flags_;
  }
  void set_flags(int f) {
    absl::MutexLock l(&flags_mu_);
    flags_ = f;
  }
  // By access mode; an O_PATH file is neither.
  bool readable() const;
  bool writable() const;

  // ---- Readiness (poll, select, epoll, blocking I/O; fs/poll.h).
  // The events of `mask` (EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, with
  // their *NORM/*BAND twins) that hold now, plus EPOLLERR and EPOLLHUP when
  // they hold (always reported). Default: readable and writable, as Linux's
  // DEFAULT_POLLMASK for files without a poll operation.
  virtual uint64_t Readiness(uint64_t mask);
  // Adds/removes a waiter notified (with the events that happened) when the
  // readiness may have changed. Register first, then check Readiness: no
  // wakeup is lost. The queue is the file's own (one per description), so
  // it lives exactly as long as the file. Overrides must call these.
  virtual void EventRegister(sentry::kernel::Waiter* w);
  virtual void EventUnregister(sentry::kernel::Waiter* w);
  // Whether epoll may watch the file: Linux refuses files without a poll
  // operation (regular files, directories, /dev/null) with EPERM.
  virtual bool Pollable() const { return false; }
  // Whether a blocking write(2) waits until every byte is taken (pipes,
  // stream sockets), rather than returning the first partial count (eventfd
  // takes 8 bytes of any longer buffer).
  virtual bool WritesWholeBuffer() const { return false; }
  // A watch (epoll item): registers its waiter and keeps it until
  // RemoveWatch or the file's release.
  void AddWatch(std::shared_ptr<FileWatch> w);
  void RemoveWatch(FileWatch* w);
  // The lock syscalls call this before locking through the description:
  // its last reference then drops its OFD and flock locks (and, for a file
  // outside the tree, every lock kept under it), as Linux's
  // locks_remove_file. `key` is fs::LockKey(*this).
  void NoteLocks(std::shared_ptr<LockTable> table, const void* key);
  // A regular file opened for writing holds its write access while the
  // description lives (Vfs::ExecTracker: exec of it is ETXTBSY meanwhile);
  // released with the description. Set once by the VFS when opening.
  std::shared_ptr<void> write_access;
  // Where an open(2) found the file, for its inotify events (read, write,
  // last close; fs/inotify.h). Set once by inotify::Opened.
  std::shared_ptr<Dentry> inotify_dentry;
  // Lines /proc/<pid>/fdinfo/<fd> shows after the common ones (Linux's
  // show_fdinfo: inotify's "inotify wd:" lines). None by default.
  virtual std::string FdInfo() { return {}; }

 protected:
  explicit FileDescription(int flags) : flags_(flags) {}
  // Wakes waiters whose mask intersects `events`. Never from a destructor
  // of the derived class (watchers may be letting go concurrently).
  void NotifyEvents(uint64_t events) { queue_.Notify(events); }

 private:
  mutable absl::Mutex flags_mu_;
  int flags_ ABSL_GUARDED_BY(flags_mu_);
  sentry::kernel::WaiterQueue queue_;
  absl::Mutex watch_mu_;
  std::vector<std::shared_ptr<FileWatch>> watches_ ABSL_GUARDED_BY(watch_mu_);
  absl::Mutex locks_mu_;
  std::shared_ptr<LockTable> lock_table_ ABSL_GUARDED_BY(locks_mu_);
  const void* lock_key_ ABSL_GUARDED_BY(locks_mu_) = nullptr;
};

// stat(2) of an anonymous-inode file (eventfd, epoll, signalfd, timerfd,
// inotify), as anon_inode_getfile() gives: mode 0600, one link.
struct stat AnonInodeStat();

}  // namespace fs

#endif  // FS_FILE_DESCRIPTION_H_
