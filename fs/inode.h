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
#include <sys/statfs.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <optional>
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
namespace inotify {
class InodeWatches;
}
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
  // The caller's syscall (Task::syscall_serial), 0 if none: a filesystem
  // may reuse what it fetched earlier in the same syscall (a revalidating
  // walk's attributes for the stat that follows).
  uint64_t syscall = 0;
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

// Attribute changes for Inode::SetAttr (struct iattr / notify_change() in
// Linux). Unset fields stay. Permission checks are the VFS's job; the
// filesystem updates ctime for any change and mtime for a size change.
struct SetAttrRequest {
  std::optional<uint32_t> mode;  // permission bits only (07777)
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  std::optional<struct timespec> atime;  // UTIME_NOW already resolved
  std::optional<struct timespec> mtime;
};

// renameat2 flags (include/uapi/linux/fs.h).
constexpr unsigned kRenameNoreplace = 1;
constexpr unsigned kRenameExchange = 2;
constexpr unsigned kRenameWhiteout = 4;

// setxattr flags.
constexpr int kXattrCreate = 1;
constexpr int kXattrReplace = 2;

// The current wall-clock time, for timestamps.
struct timespec Now();

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  virtual ~Inode();

  // File type and permission bits. The type is fixed for the inode's life;
  // writable filesystems change the permission bits (chmod), so permission
  // decisions use Stat().
  virtual uint32_t mode() const = 0;
  // The file type alone (S_IFMT bits): fixed, so filesystems whose mode()
  // takes a lock answer it from a constant.
  virtual uint32_t type() const { return mode() & S_IFMT; }
  virtual Result<struct stat> Stat(const Caller& c) = 0;
  // The birth time for statx's STATX_BTIME, as of the last Stat; nullopt
  // where the filesystem keeps none (statx then leaves STATX_BTIME out of
  // stx_mask, as Linux does).
  virtual std::optional<struct timespec> BirthTime() { return std::nullopt; }
  // A child by name (never "." or "..", at most kNameMax bytes). ENOENT if
  // missing. Only called on directories.
  virtual Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name);
  // Looks `names` up one below the other from this directory, in one step
  // where the filesystem can (a gofer walk is one round trip for them all):
  // the inodes found, in order, stopping early after a missing name, a
  // symlink or a non-directory; the first name's error if it has none. The
  // default is Lookup of names[0] alone.
  virtual Result<std::vector<std::shared_ptr<Inode>>> LookupPath(const Caller& c,
                                                                 std::span<const std::string_view> names);
  // Whether the dentry layer may cache Lookup results (positive and
  // negative) under this directory. False for per-caller directories like
  // /proc and /proc/<pid>/fd.
  virtual bool CacheLookups() const { return true; }
  // Whether a failed lookup (ENOENT) may be cached too. False where other
  // programs create names behind the sandbox's back (writable gofer
  // mounts: a shared volume), so a name made on the host shows up.
  virtual bool CacheNegativeLookups() const { return true; }
  // Whether a cached positive entry must be checked against the inode on
  // every lookup (writable gofer mounts: a name removed or replaced on the
  // host must not stay visible). The check is a fresh Lookup; the entry
  // stays (with its own cached children) while it finds the same inode.
  virtual bool RevalidateLookups() const { return false; }
  virtual Result<std::string> Readlink(const Caller& c);
  // A procfs "magic link" (/proc/<pid>/fd/N, exe, cwd, root): what
  // RESOLVE_NO_MAGICLINKS refuses.
  virtual bool IsMagicLink() const { return false; }
  // For a magic link: the object itself (nd_jump_link), not its readlink
  // text, so /proc/self/fd/N reaches an unlinked file or an anonymous pipe.
  // A null mount asks the resolver for a private one. nullopt: follow the
  // text like a plain symlink.
  virtual Result<std::optional<Path>> MagicJump(const Caller&) { return std::optional<Path>(); }
  // Opens the file. `at` is where it was found (for Path()/fd dirfds).
  // Permission and EROFS checks are done by the VFS before this.
  virtual Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) = 0;
  // Creation in this directory. The VFS checks EROFS (mount) and permission
  // first; filesystems without creation return EROFS or EPERM.
  virtual Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode);
  virtual Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode);

  // ---- Mutations (writable filesystems; the defaults give EPERM). The VFS
  // has checked the mount, permissions, sticky bits, name length and that
  // `this` is a directory; the filesystem re-checks existence and emptiness
  // under its own lock. `name` is never "", "." or "..".
  // A special file (S_IFREG, S_IFCHR, S_IFIFO...) named `name`.
  virtual Result<std::shared_ptr<Inode>> Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev);
  virtual Result<std::shared_ptr<Inode>> Symlink(const Caller& c, std::string_view name, std::string_view target);
  // A new name for `target` (a non-directory). EXDEV if `target` belongs to
  // another filesystem instance; EMLINK at the link limit.
  virtual Result<void> Link(const Caller& c, std::string_view name, const std::shared_ptr<Inode>& target);
  // Removes a non-directory entry (EISDIR for a directory).
  virtual Result<void> Unlink(const Caller& c, std::string_view name);
  // Removes an empty directory (ENOTDIR, ENOTEMPTY).
  virtual Result<void> Rmdir(const Caller& c, std::string_view name);
  // rename(2) of this directory's `old_name` to `new_dir`'s `new_name`
  // (same filesystem instance, else EXDEV). flags: kRenameNoreplace,
  // kRenameExchange. Linux's type rules (EISDIR, ENOTDIR, ENOTEMPTY) apply.
  virtual Result<void> Rename(const Caller& c, std::string_view old_name, Inode& new_dir, std::string_view new_name,
                              unsigned flags);
  // O_TMPFILE: an unnamed regular file in this directory (EOPNOTSUPP).
  virtual Result<std::shared_ptr<Inode>> TmpFile(const Caller& c, uint32_t mode);
  virtual Result<void> SetAttr(const Caller& c, const SetAttrRequest& req);
  // The entries of a directory, "." and ".." excluded (for overlay merges).
  // The default opens the directory and decodes getdents64.
  virtual Result<std::vector<DirEntry>> ReadDir(const Caller& c);
  // statfs(2) of the filesystem this inode is on.
  virtual Result<struct statfs> Statfs(const Caller& c);
  // Extended attributes, full names ("user.x"); namespace policy is the
  // syscall layer's. Defaults: none exist, none can be set (EOPNOTSUPP).
  virtual Result<std::string> GetXattr(const Caller& c, std::string_view name);
  virtual Result<std::vector<std::string>> ListXattr(const Caller& c);
  virtual Result<void> SetXattr(const Caller& c, std::string_view name, std::string_view value, int flags);
  virtual Result<void> RemoveXattr(const Caller& c, std::string_view name);
  // fsync: nothing to flush by default.
  virtual Result<void> Sync() { return {}; }
  // syncfs(2) of the filesystem this inode is on (the page caches of a
  // writable gofer mount); also called for every mount by Vfs::SyncAll.
  virtual Result<void> SyncFs() { return {}; }

  bool is_dir() const { return type() == S_IFDIR; }
  bool is_symlink() const { return type() == S_IFLNK; }
  bool is_regular() const { return type() == S_IFREG; }

  // The inotify watches on this inode (fs/inotify.h): null until the first
  // watch (a lock-free check for the event hooks), then kept for life.
  inotify::InodeWatches* inotify_watches() const { return inotify_.load(std::memory_order_acquire); }
  inotify::InodeWatches& EnsureInotifyWatches();
  // Open file descriptions of this inode (fs/inotify.cc Opened/Closed):
  // the last close of a file with no name left sends IN_DELETE_SELF.
  std::atomic<int32_t>& inotify_opens() { return inotify_opens_; }

 private:
  std::atomic<inotify::InodeWatches*> inotify_{nullptr};
  std::atomic<int32_t> inotify_opens_{0};
  std::shared_ptr<inotify::InodeWatches> inotify_owner_;  // set once, by whoever set inotify_
};

// A filesystem instance, for the mount table and statfs.
struct FilesystemInfo {
  std::string type;  // "9p"-like name shown in /proc/mounts: "gofer", "proc"
  bool read_only = false;
  bool noexec = false;  // MS_NOEXEC: execve of its files is EACCES
};

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  // `parent` is null for a filesystem root.
  Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
      : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)) {}

  // Where the dentry is now: rename(2) moves it (d_move), so these are
  // copies taken under the rename lock.
  std::shared_ptr<Dentry> parent() const ABSL_LOCKS_EXCLUDED(rename_mu_);
  std::string name() const ABSL_LOCKS_EXCLUDED(rename_mu_);
  // Whether this dentry is now `parent`'s child `name` (one lock, no copies).
  bool IsChildOf(const Dentry* parent, std::string_view name) const ABSL_LOCKS_EXCLUDED(rename_mu_);
  const std::shared_ptr<Inode>& inode() const { return inode_; }
  // For one consistent view of several dentries (a whole path, as Linux's
  // rename seqlock gives d_path): hold the rename lock and read these.
  static absl::Mutex& rename_mu() ABSL_LOCK_RETURNED(rename_mu_) { return rename_mu_; }
  const std::shared_ptr<Dentry>& parent_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(rename_mu_) { return parent_; }
  const std::string& name_locked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(rename_mu_) { return name_; }

  // After the filesystem renamed this dentry's file to `new_parent`'s
  // `new_name` (d_move): the dentry takes its new place, so whoever holds
  // it or anything below it (a cwd, an open file) sees the new path. Its
  // old name leaves its old parent's cache. Returns the entry it displaced
  // under the new name (the replaced target), if any, for the caller to
  // drop (ClearCache) unless it moves too (RENAME_EXCHANGE).
  std::shared_ptr<Dentry> MoveTo(const std::shared_ptr<Dentry>& new_parent, const std::string& new_name)
      ABSL_LOCKS_EXCLUDED(rename_mu_);

  // The child named `name`, from the cache or the inode (then cached when the
  // inode allows). ENOENT results are cached too.
  Result<std::shared_ptr<Dentry>> LookupChild(const Caller& c, std::string_view name);
  // LookupChild of names[0], then of names[1] under it, and so on, with the
  // inode lookups of a revalidating filesystem (RevalidateLookups: every
  // cached name is asked again) done in one Inode::LookupPath: a path on a
  // writable gofer mount costs one round trip, not one per component. The
  // dentries found, in order; fewer when the lookup stopped early (a miss
  // after the first name, a symlink, a non-directory, a mount point); the
  // first name's error if it has none. Other filesystems: names[0] only.
  Result<std::vector<std::shared_ptr<Dentry>>> LookupChildren(const Caller& c,
                                                              std::span<const std::string_view> names);
  // Puts `child` in the cache under `name` (synthetic mount points).
  std::shared_ptr<Dentry> AddChild(std::string name, std::shared_ptr<Inode> inode);
  // Drops cached children recursively (breaks the parent<->child cycles).
  void ClearCache();
  // Forgets the cached entry `name` (after a mutation under this directory):
  // the next lookup asks the inode.
  void Invalidate(std::string_view name);
  // The cached child `name`, if any (no inode call): for EBUSY checks on
  // mount points.
  std::shared_ptr<Dentry> CachedChild(std::string_view name);

  // Set when a mount is on this dentry (checked on every step, so atomic).
  bool mounted() const { return mounted_.load(std::memory_order_acquire); }
  void set_mounted() { mounted_.store(true, std::memory_order_release); }

 private:
  // Caches (or not) what the inode's lookup of `name` gave; the dentry for
  // it. Whether this dentry caches its children at all: `cache`.
  Result<std::shared_ptr<Dentry>> Adopt(std::string_view name, Result<std::shared_ptr<Inode>> r, bool cache);
  bool CachesChildren() const;

  // Linux's rename_lock: guards every dentry's parent_ and name_. A leaf.
  ABSL_CONST_INIT static absl::Mutex rename_mu_;
  std::shared_ptr<Dentry> parent_ ABSL_GUARDED_BY(rename_mu_);
  std::string name_ ABSL_GUARDED_BY(rename_mu_);
  const std::shared_ptr<Inode> inode_;
  std::atomic<bool> mounted_{false};
  // False for a dentry its parent did not cache (per-caller dirs such as
  // /proc/<pid>): nothing below it is cached either, or a cached child
  // (holding this dentry as its parent) and this dentry would hold each
  // other forever, a leak on every /proc/<pid>/... lookup.
  bool cache_children_ = true;
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

// Linux's setattr_should_drop_suidgid (fs/attr.c): the set-ID bits that a
// change of a regular file's data (write, truncate, fallocate) by `creds`
// clears from `mode` (the file's type and permission bits; `gid` its
// group). None for a caller with CAP_FSETID or for other file types; else
// S_ISUID, and S_ISGID when group-exec is set or the caller is outside the
// group (without group-exec it is only a locking mark for group members).
// Callers test `mode & (S_ISUID | S_ISGID)` first, so a write to an
// ordinary file never looks at credentials.
uint32_t SetidBitsToDrop(const sentry::kernel::Credentials& creds, uint32_t mode, uint32_t gid);
// The same for the task whose syscall is running on this thread
// (Task::Current()), for the write paths: FileDescription::Write and its
// kin take no Caller, and Linux's file_remove_privs reads current_cred()
// the same way. None without a task (kernel-internal writes).
uint32_t SetidBitsToDropForCurrentTask(uint32_t mode, uint32_t gid);

}  // namespace fs

#endif  // FS_INODE_H_
