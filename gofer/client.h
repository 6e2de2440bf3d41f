// gofer::Client: the sentry's side of the gofer connection. The gofer owns
// host paths; the sentry refers to files only by Handle (a gofer-side node
// id) and receives host fds for file data by SCM_RIGHTS, so file contents
// never round-trip through the gofer.
//
// Thread-safe: requests from many task threads are serialized on one socket
// (or matched by tag; an implementation detail).
#ifndef GOFER_CLIENT_H_
#define GOFER_CLIENT_H_

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace gofer {

using base::Errno;
using base::Result;

using Handle = uint64_t;

// What the sentry needs of a host inode; times in nanoseconds since epoch.
struct Attr {
  uint32_t mode = 0;  // S_IFMT | permission bits
  uint32_t uid = 0, gid = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte blocks
  uint32_t blksize = 4096;
  uint64_t ino = 0;
  uint64_t dev = 0;
  uint64_t rdev = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  // The birth time (statx STATX_BTIME), when the host filesystem has one
  // and the connection carries it (protocol version 3).
  std::optional<int64_t> btime_ns;
};

// The attributes of a host fd (an O_PATH one too; a symlink is not
// followed), by one statx that asks for the birth time as well: the
// server's answers, the sentry's stat of a donated fd.
Result<Attr> HostAttr(int fd);

struct WalkStep {
  Handle handle;
  Attr attr;
};

// Attribute changes for SetAttr; unset fields stay. Times are absolute
// (UTIME_NOW resolved by the caller, UTIME_OMIT is an unset field).
struct SetAttrSpec {
  std::optional<uint32_t> mode;  // permission bits 07777
  std::optional<uint32_t> uid, gid;
  std::optional<uint64_t> size;
  std::optional<struct timespec> atime, mtime;
};

struct StatFs {
  uint64_t type, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize, flags;
};

class Client {
 public:
  virtual ~Client() = default;
  // Handshake (protocol version check) over a connected unix socket.
  static Result<std::unique_ptr<Client>> Connect(base::UniqueFd sock);

  virtual Handle root() const = 0;
  virtual Attr root_attr() const = 0;
  // Walks `names` (single components, no '/', not "." or "..") from `dir`,
  // one component at a time, in one round trip. Stops before a missing name
  // or after a symlink or non-directory; returns the steps taken (possibly
  // fewer than names.size()). ENOENT if the first name is missing, ENOTDIR if
  // dir is not a directory.
  virtual Result<std::vector<WalkStep>> Walk(Handle dir, std::span<const std::string> names) = 0;
  // A host fd for the node's data: O_RDONLY (files, directories for
  // getdents64) or O_RDWR/O_WRONLY where the mount is writable. EROFS/EACCES
  // as the host says.
  virtual Result<base::UniqueFd> Open(Handle h, int flags) = 0;
  virtual Result<std::string> Readlink(Handle h) = 0;
  virtual Result<Attr> Stat(Handle h) = 0;
  virtual Result<StatFs> Statfs(Handle h) = 0;
  // Releases a handle (the sentry's dentry cache dropped it). Never fails.
  virtual void Release(Handle h) = 0;
  // Mutations (writable mounts only; EROFS otherwise).
  virtual Result<WalkStep> Mkdir(Handle dir, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid) = 0;
  virtual Result<std::pair<WalkStep, base::UniqueFd>> Create(Handle dir, const std::string& name, int flags,
                                                             uint32_t mode, uint32_t uid, uint32_t gid) = 0;
  virtual Result<WalkStep> Symlink(Handle dir, const std::string& name, const std::string& target, uint32_t uid,
                                   uint32_t gid) = 0;
  virtual Result<void> Unlink(Handle dir, const std::string& name, int flags) = 0;
  virtual Result<void> Rename(Handle old_dir, const std::string& old_name, Handle new_dir,
                              const std::string& new_name) = 0;
  // A FIFO or socket node (`mode`: S_IFIFO or S_IFSOCK | permission bits);
  // EPERM from a gofer older than protocol version 2 or for other types.
  virtual Result<WalkStep> Mknod(Handle dir, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid) {
    (void)dir, (void)name, (void)mode, (void)uid, (void)gid;
    return Errno::kEPERM;
  }
  // renameat2 with RENAME_NOREPLACE or RENAME_EXCHANGE (version 2; EINVAL
  // from an older gofer, as a filesystem without the flag).
  virtual Result<void> Rename2(Handle old_dir, const std::string& old_name, Handle new_dir,
                               const std::string& new_name, unsigned flags) {
    (void)old_dir, (void)old_name, (void)new_dir, (void)new_name, (void)flags;
    return Errno::kEINVAL;
  }
  // chmod/chown/truncate/utimens of the node; the new attributes. (The
  // defaults, for clients of read-only trees and test fakes: EROFS.)
  virtual Result<Attr> SetAttr(Handle h, const SetAttrSpec& s) {
    (void)h, (void)s;
    return Errno::kEROFS;
  }
  // A new name `name` in `dir` for the inode of `target` (not a
  // directory); the target's new attributes.
  virtual Result<Attr> Link(Handle dir, const std::string& name, Handle target) {
    (void)dir, (void)name, (void)target;
    return Errno::kEROFS;
  }
  // Extended attributes, "user." namespace only (EOPNOTSUPP for others).
  virtual Result<std::string> GetXattr(Handle h, const std::string& name) {
    (void)h, (void)name;
    return Errno::kENODATA;
  }
  virtual Result<std::vector<std::string>> ListXattr(Handle h) {
    (void)h;
    return std::vector<std::string>{};
  }
  virtual Result<void> SetXattr(Handle h, const std::string& name, const std::string& value, int flags) {
    (void)h, (void)name, (void)value, (void)flags;
    return Errno::kEROFS;
  }
  virtual Result<void> RemoveXattr(Handle h, const std::string& name) {
    (void)h, (void)name;
    return Errno::kEROFS;
  }
};

}  // namespace gofer

#endif  // GOFER_CLIENT_H_
