// The VFS object model (after Linux's fs/dcache.c and fs/namespace.c):
//   Inode  - a file of some filesystem (abstract: gofer, proc, dev; later
//            tmpfs and overlay implement the same interface).
//   Dentry - a name in the tree: parent link, the inode it names, and a cache
//            of child lookups (positive and negative).
//   Mount  - a filesystem instance grafted onto a dentry of its parent mount.
//   Path   - (mount, dentry): a location; ".." and mount crossing need both.
// Caller is who asks: credentials and, for synthetic files like /proc/self,
// the calling thread group's state. Pointers in Caller are valid only for
// the duration of the call.
#ifndef FS_INODE_H_
#define FS_INODE_H_

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "fs/file_description.h"

namespace sentry::kernel {
struct Credentials;
struct ThreadGroup;
class FdTable;
class Task;
class Kernel;
}  // namespace sentry::kernel

namespace fs {

class Dentry;
class FsContext;
class Mount;
class Vfs;

// Linux limits (include/uapi/linux/limits.h, fs/namei.c).
constexpr size_t kPathMax = 4096;  // including the NUL
constexpr size_t kNameMax = 255;
constexpr int kMaxSymlinks = 40;

// Permission bits for CheckPermission (MAY_* in include/linux/fs.h).
constexpr int kMayExec = 1;
constexpr int kMayWrite = 2;
constexpr int kMayRead = 4;

struct Caller {
  const sentry::kernel::Credentials* creds = nullptr;  // never null
  // Optional: null for kernel-internal lookups (exec of pid 1, $PATH).
  sentry::kernel::ThreadGroup* thread_group = nullptr;
  sentry::kernel::FdTable* fds = nullptr;
  FsContext* fs = nullptr;
  int32_t tid = 0;
  // Optional: the task registry, for /proc/<pid> of other processes.
  sentry::kernel::Kernel* kernel = nullptr;
};
// The caller for a syscall made by `t`.
Caller CallerOf(sentry::kernel::Task& t);

struct Path {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;
  bool valid() const { return mount != nullptr && dentry != nullptr; }
  bool operator==(const Path& o) const { return mount == o.mount && dentry == o.dentry; }
};

// One directory entry, for getdents64 of synthetic directories.
struct DirEntry {
  std::string name;
  uint64_t ino;
  uint8_t type;  // DT_*
};

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  virtual ~Inode() = default;

  // File type and permission bits; stable for the inode's life.
  virtual uint32_t mode() const = 0;
  virtual Result<struct stat> Stat(const Caller& c) = 0;
  // A child by name (never "." or "..", at most kNameMax bytes). ENOENT if
  // missing. Only called on directories.
  virtual Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name);
  // Whether the dentry layer may cache Lookup results (positive and
  // negative) under this directory. False for per-caller directories like
  // /proc and /proc/<pid>/fd.
  virtual bool CacheLookups() const { return true; }
  virtual Result<std::string> Readlink(const Caller& c);
  // Opens the file. `at` is where it was found (for Path()/fd dirfds).
  // Permission and EROFS checks are done by the VFS before this.
  virtual Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) = 0;
  // Creation in this directory. The VFS checks EROFS (mount) and permission
  // first; filesystems without creation return EROFS or EPERM.
  virtual Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode);
  virtual Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode);

  bool is_dir() const { return S_ISDIR(mode()); }
  bool is_symlink() const { return S_ISLNK(mode()); }
  bool is_regular() const { return S_ISREG(mode()); }
};

// A filesystem instance, for the mount table and statfs.
struct FilesystemInfo {
  std::string type;  // "9p"-like name shown in /proc/mounts: "gofer", "proc"
  bool read_only = false;
};

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  // `parent` is null for a filesystem root.
  Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
      : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)) {}

  const std::shared_ptr<Dentry>& parent() const { return parent_; }
  const std::string& name() const { return name_; }
  const std::shared_ptr<Inode>& inode() const { return inode_; }

  // The child named `name`, from the cache or the inode (then cached when the
  // inode allows). ENOENT results are cached too.
  Result<std::shared_ptr<Dentry>> LookupChild(const Caller& c, std::string_view name);
  // Puts `child` in the cache under `name` (synthetic mount points).
  std::shared_ptr<Dentry> AddChild(std::string name, std::shared_ptr<Inode> inode);
  // Drops cached children recursively (breaks the parent<->child cycles).
  void ClearCache();

  // Set when a mount is on this dentry (checked on every step, so atomic).
  bool mounted() const { return mounted_.load(std::memory_order_acquire); }
  void set_mounted() { mounted_.store(true, std::memory_order_release); }

 private:
  const std::shared_ptr<Dentry> parent_;
  const std::string name_;
  const std::shared_ptr<Inode> inode_;
  std::atomic<bool> mounted_{false};
  absl::Mutex mu_;
  // A null value is a negative entry (the name does not exist).
  absl::flat_hash_map<std::string, std::shared_ptr<Dentry>> children_ ABSL_GUARDED_BY(mu_);
};

class Mount {
 public:
  Mount(FilesystemInfo info, std::shared_ptr<Dentry> root, std::shared_ptr<Mount> parent,
        std::shared_ptr<Dentry> mountpoint)
      : info_(std::move(info)), root_(std::move(root)), parent_(std::move(parent)),
        mountpoint_(std::move(mountpoint)) {}
  const FilesystemInfo& info() const { return info_; }
  bool read_only() const { return info_.read_only; }
  const std::shared_ptr<Dentry>& root() const { return root_; }
  // Null for the root mount.
  const std::shared_ptr<Mount>& parent() const { return parent_; }
  const std::shared_ptr<Dentry>& mountpoint() const { return mountpoint_; }

 private:
  const FilesystemInfo info_;
  const std::shared_ptr<Dentry> root_;
  const std::shared_ptr<Mount> parent_;
  const std::shared_ptr<Dentry> mountpoint_;
};

// The absolute path of `p` from the top of the mount tree (d_path against
// the real root), for FileDescription::Path and /proc/<pid>/fd.
std::string AbsolutePath(const Path& p);

// generic_permission() (fs/namei.c) for `may` (kMay* bits) against a file's
// mode/uid/gid, using the fs ids and groups in `creds`. Root (fsuid 0) may
// read and write anything and search directories, but executes a
// non-directory only if some x bit is set.
Result<void> CheckPermission(const sentry::kernel::Credentials& creds, const struct stat& st, int may);

}  // namespace fs

#endif  // FS_INODE_H_
