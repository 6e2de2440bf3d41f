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

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/mm/memory_manager.h"

namespace fs {

struct Path;

using base::Errno;
using base::Result;

class FileDescription {
 public:
  virtual ~FileDescription() = default;

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
  // For mmap(2) of this file; ENODEV if it cannot be mapped.
  virtual Result<std::shared_ptr<sentry::mm::MappableFile>> Mappable();
  // The absolute path inside the sandbox, for /proc/self/fd and getcwd.
  virtual std::string Path() const = 0;
  // Where the file is in the VFS tree, for *at() dirfds and fchdir; null for
  // files outside the tree (host stdio, pipes, sockets).
  virtual const fs::Path* location() const { return nullptr; }

  // open(2) status flags (O_ACCMODE, O_APPEND, O_NONBLOCK, ...), as F_GETFL.
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

 protected:
  explicit FileDescription(int flags) : flags_(flags) {}

 private:
  mutable absl::Mutex flags_mu_;
  int flags_ ABSL_GUARDED_BY(flags_mu_);
};

}  // namespace fs

#endif  // FS_FILE_DESCRIPTION_H_
