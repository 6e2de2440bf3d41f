// Vfs: the sandbox's file tree. The rootfs is the host's root served
// read-only by the gofer; /proc and /dev are synthetic filesystems inside the
// sentry (never the host's). Path resolution follows Linux's fs/namei.c.
//
// Thread-safe: any task thread may call any method. Lock order in README.md.
#ifndef FS_VFS_H_
#define FS_VFS_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "fs/devpts.h"
#include "fs/locks.h"
#include "fs/file_description.h"
#include "fs/fs_context.h"
#include "fs/inode.h"
#include "gofer/client.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::kernel {
struct Credentials;
}

namespace fs {

class Devpts;
class UnixNames;
std::shared_ptr<UnixNames> NewUnixNames();

struct ResolveOpts {
  bool follow_final = true;     // follow a symlink in the last component
  bool require_dir = false;     // O_DIRECTORY: last component must be a dir
  unsigned resolve = 0;         // openat2 RESOLVE_* flags (kResolve*)
};

// openat2(2) RESOLVE_* flags (include/uapi/linux/openat2.h).
constexpr unsigned kResolveNoXdev = 0x01;        // EXDEV on crossing a mount
constexpr unsigned kResolveNoMagiclinks = 0x02;  // ELOOP on /proc/<pid>/fd/N-like links
constexpr unsigned kResolveNoSymlinks = 0x04;    // ELOOP on any symlink followed
constexpr unsigned kResolveBeneath = 0x08;       // EXDEV on leaving the start dir
constexpr unsigned kResolveInRoot = 0x10;        // the start dir acts as "/"
constexpr unsigned kResolveCached = 0x20;        // (our lookups never block on I/O)

// The parent directory of a path and its last component ("" when the path
// names a root or ends in "." / "..").
struct ParentAndName {
  Path parent;
  std::string name;
  bool trailing_slash = false;
};

struct VfsOptions {
  // true: "/" is an overlay of the gofer's read-only view under a tmpfs
  // upper layer, so the app can write anywhere and nothing reaches the
  // host. false: the plain read-only gofer root (writes give EROFS).
  bool overlay_root = true;
  // With overlay_root false: the gofer root is mounted read-write and
  // writes reach the host rootfs (`runsc --overlay2=none`, opt-in).
  bool root_writable = false;
  // A fresh tmpfs over /tmp (what an OCI container gets). Off for `runsc do`:
  // its app runs programs from the host's /tmp too, and the overlay already
  // keeps its /tmp writes inside the sandbox. Always on for a read-only root.
  bool tmpfs_tmp = false;
  // Where tmpfs file data lives (the kernel's memory file, so it counts
  // against the sandbox's memory); null: each tmpfs makes its own (tests).
  sentry::mm::MemoryFile* memory_file = nullptr;
  // Further mounts from an OCI config.json, in order, after the defaults
  // (fs/vfs_mount.cc). Missing parent directories are made up in the
  // sentry's view only.
  struct ExtraMount {
    std::string destination;  // absolute
    std::string type;         // "bind", "tmpfs", "proc", "sysfs"
    bool read_only = false;
    uint32_t mode = 01777;    // tmpfs
    std::shared_ptr<gofer::Client> client;  // bind: the gofer serving the source
    bool file = false;        // bind of a file: the gofer root's "file" entry
    bool noexec = false;      // the "noexec" option
  };
  std::vector<ExtraMount> mounts;
  // /dev/pts's mount options (config.json's devpts mount); unset: what
  // container runtimes mount (DevptsOptions::ContainerDefault).
  std::optional<DevptsOptions> devpts;
};

// What an attribute change applies to: a resolved path, or an open file
// (memfds and O_TMPFILE files have no place in the tree).
struct AttrTarget {
  std::shared_ptr<Inode> inode;
  bool read_only_mount = false;
  // Where it was found, for the parent's inotify events; null for files
  // outside the tree.
  std::shared_ptr<Dentry> dentry;
  static AttrTarget Of(const Path& p) { return AttrTarget{p.dentry->inode(), p.mount->read_only(), p.dentry}; }
  // EBADF for O_PATH files; EPERM for files without an inode (host stdio).
  static Result<AttrTarget> Of(const FileDescription& f);
};

// What a magic link to the open file `f` reaches (proc_fd_link; also
// /proc/<pid>/exe of a program run from a memfd): the file's place in the
// tree, or, for a file outside it, a dentry named `name` on no mount (Resolve
// gives it a private one) whose inode opens the object itself: a new end of
// an anonymous pipe, the same memfd, the donated host file. Any other file
// (eventfd, epoll, timerfd, signalfd, pidfd, sockets) stats as itself and
// opens with ENXIO, as Linux's anon inodes and sockets do (no_open).
Path MagicLinkTarget(const std::shared_ptr<FileDescription>& f, std::string name);
// The file a program image returned by Vfs::OpenForExec* was opened from
// (mm->exe_file: /proc/<pid>/exe reopens it even after a rename or unlink);
// nullopt for any other mappable.
std::optional<Path> ExecTarget(const sentry::mm::MappableFile& m);

class Vfs {
 public:
  // Mounts the root (see VfsOptions) at "/", procfs at /proc, devfs at
  // /dev, and fresh tmpfs instances at /tmp and /dev/shm (mode 1777), as a
  // container runtime would. The mount points need not exist on the host.
  static Result<std::shared_ptr<Vfs>> Create(std::unique_ptr<gofer::Client> root_client, VfsOptions opts = {});
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // A context rooted at "/" with cwd `cwd` (absolute; must be a searchable
  // directory) and umask 022.
  Result<std::shared_ptr<FsContext>> NewFsContext(std::string_view cwd);

  Path root() const { return {root_mount_, root_mount_->root()}; }
  // Every mount but the root one, in no order (/proc/<pid>/mounts).
  std::vector<std::shared_ptr<Mount>> Mounts() const;
  // sync(2) and sandbox exit: every mount's SyncFs (the stores made
  // through shared mappings of writable gofer files reach the host).
  Result<void> SyncAll();

  // Mounts `m` at m.destination (fs/vfs_mount.cc). Start-up only, before
  // any task runs. EINVAL for a bad destination or type.
  Result<void> MountExtra(const VfsOptions::ExtraMount& m) { return MountExtraAt(root(), m); }
  // The same under another root (a pod container's, NewContainerRoot).
  Result<void> MountExtraAt(const Path& root, const VfsOptions::ExtraMount& m);

  // A pod's further container (fs/vfs_mount.cc): a root of its own (an
  // overlay over `client`'s tree, or the plain read-only tree), detached
  // from "/", with its own /proc and /dev and the sandbox's /dev/shm (the
  // same directory: the pod's containers share it, as Kubernetes expects).
  Result<Path> NewContainerRoot(std::shared_ptr<gofer::Client> client, bool overlay);
  // A context rooted at `root` with cwd `cwd` (resolved from root).
  Result<std::shared_ptr<FsContext>> NewFsContextAt(const Path& root, std::string_view cwd);

  // Resolves `path` relative to `start` (used when the path is relative) and
  // c.fs's root (used for "/" and as the ".." barrier). ENOENT for "".
  Result<Path> Resolve(const Caller& c, const FsContext& fs, const Path& start, std::string_view path,
                       ResolveOpts opts = {});
  // The parent of the last component, resolved; the last is not looked up.
  Result<ParentAndName> ResolveParent(const Caller& c, const FsContext& fs, const Path& start,
                                      std::string_view path, unsigned resolve = 0);
  // Where a *at() syscall starts: cwd for AT_FDCWD, else the fd's directory
  // (EBADF for a bad fd, ENOTDIR when the path is relative and the fd is not
  // a directory). `path` decides whether dirfd matters at all.
  Result<Path> StartFor(const Caller& c, const FsContext& fs, int dirfd, std::string_view path);

  // StartFor + Resolve with c.fs (must be set): what *at() syscalls do for a
  // non-empty path.
  Result<Path> ResolveAt(const Caller& c, int dirfd, std::string_view path, ResolveOpts opts = {});

  // open(2)/openat(2) after flag validation. `mode` is already masked by
  // umask by the caller or not (we apply fs.umask()).
  // `resolve`: openat2's RESOLVE_* flags.
  // `links`: symlinks already followed to a dangling target being created.
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, FsContext& fs, const Path& start,
                                                std::string_view path, int flags, uint32_t mode,
                                                unsigned resolve = 0, int links = 0);

  // For execve and the loader: resolves following symlinks, checks it is a
  // regular file executable by `creds`, opens it. Returns the file's
  // contents and its absolute path in the sandbox.
  Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> OpenForExec(
      FsContext& fs, std::string_view path, const sentry::kernel::Credentials& creds);
  // The same for a file already found (execveat relative to a dirfd, with
  // AT_SYMLINK_NOFOLLOW: ELOOP for a symlink) or already open
  // (execveat(fd, "", AT_EMPTY_PATH), fexecve: O_PATH fds and memfds
  // included): that very file runs, whatever its name is now.
  Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> OpenForExecAt(
      FsContext& fs, const Path& p, const sentry::kernel::Credentials& creds);
  Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> OpenFileForExec(
      FsContext& fs, const std::shared_ptr<FileDescription>& f, const sentry::kernel::Credentials& creds);
  // execvp's $PATH search (posix/execvpe.c): names with '/' are returned as
  // they are; otherwise the first "dir/name" in path_env (':'-separated,
  // empty entries mean ".") that is an executable regular file. EACCES if
  // only non-executable candidates were found, else ENOENT.
  Result<std::string> LookPath(FsContext& fs, std::string_view name, std::string_view path_env);
  Result<std::string> LookPath(FsContext& fs, std::string_view name, std::string_view path_env,
                               const sentry::kernel::Credentials& creds);

  // The absolute path of `p` as seen from `root` (d_path): "/" for the root;
  // ENOENT-like "(unreachable)" prefix when p is not under root.
  static std::string PathString(const Path& root, const Path& p);
  // Whether `p` was removed from its directory (d_unlinked: a directory
  // after rmdir, a file with no names left): getcwd's ENOENT, d_path's
  // " (deleted)".
  static bool IsUnlinked(const Caller& c, const Path& p);
  // stat(2) of a resolved location.
  Result<struct stat> Stat(const Caller& c, const Path& p);
  // Opens a resolved location (no permission checks beyond O_PATH rules):
  // the building block for Open and fd-relative lookups.
  Result<std::shared_ptr<FileDescription>> OpenPath(const Caller& c, const Path& p, int flags);
  // open(O_TMPFILE): an unnamed file in the directory `path`.
  Result<std::shared_ptr<FileDescription>> OpenTmpFile(const Caller& c, FsContext& fs, const Path& start,
                                                       std::string_view path, int flags, uint32_t mode);

  // ---- Namespace and attribute changes (fs/vfs_write.cc), with Linux's
  // checks and errno order (fs/namei.c, fs/open.c, fs/attr.c). Paths are
  // resolved from `dirfd` (AT_FDCWD or an fd in c.fds) with c.fs, which
  // must be set. `mode` arguments are applied with c.fs's umask here.
  Result<void> Mkdir(const Caller& c, int dirfd, std::string_view path, uint32_t mode);
  // S_IFREG (or 0), S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK in mode; devices
  // need root (EPERM) and then the filesystem decides.
  Result<void> Mknod(const Caller& c, int dirfd, std::string_view path, uint32_t mode, dev_t dev);
  Result<void> Symlink(const Caller& c, std::string_view target, int dirfd, std::string_view path);
  // A new name `newpath` for the file at `old` (already resolved).
  Result<void> Link(const Caller& c, const Path& old, int newdirfd, std::string_view newpath);
  Result<void> Unlink(const Caller& c, int dirfd, std::string_view path);
  Result<void> Rmdir(const Caller& c, int dirfd, std::string_view path);
  Result<void> Rename(const Caller& c, int olddirfd, std::string_view oldpath, int newdirfd,
                      std::string_view newpath, unsigned flags);
  // chmod: owner or root (EPERM); S_ISGID is dropped for a non-root caller
  // outside the file's group.
  Result<void> Chmod(const Caller& c, const AttrTarget& p, uint32_t mode);
  // chown: uid/gid -1 (as uint32_t) leave that id; non-root may only set
  // the group of their own file to one of their groups. Clears setuid and
  // setgid on non-directories.
  Result<void> Chown(const Caller& c, const AttrTarget& p, uint32_t uid, uint32_t gid);
  // truncate(2) (check_write: the caller needs write permission) or
  // ftruncate(2) (the fd was opened for writing: no permission check).
  Result<void> Truncate(const Caller& c, const AttrTarget& p, uint64_t size, bool check_write);
  // utimensat: nullopt leaves a time (UTIME_OMIT); UTIME_NOW in tv_nsec
  // means now. Explicit times need ownership (EPERM); "now" needs
  // ownership or write permission (EACCES).
  Result<void> Utimes(const Caller& c, const AttrTarget& p, std::optional<struct timespec> atime,
                      std::optional<struct timespec> mtime);
  Result<struct statfs> Statfs(const Caller& c, const AttrTarget& p);
  // EROFS if the mount of `p` is read-only (for xattr changes, fallocate).
  static Result<void> CheckWritableMount(const Path& p);
  static Result<void> CheckWritableMount(const AttrTarget& p) {
    if (p.read_only_mount) return Errno::kEROFS;
    return {};
  }

  // The sandbox's pseudo-terminals, mounted at /dev/pts (fs/devpts.h).
  Devpts& devpts() { return *devpts_; }

  // Advisory locks (fcntl record locks, OFD locks, flock).
  LockTable& locks() { return *locks_; }
  // The names AF_UNIX sockets are bound to (fs/unix_socket.h): the sandbox's
  // abstract namespace and its pathname sockets.
  const std::shared_ptr<UnixNames>& unix_names() const { return unix_names_; }
  // Shared with fd tables and locking descriptions, which may outlive the Vfs.
  const std::shared_ptr<LockTable>& locks_ptr() const { return locks_; }

  // Files being executed (fs/exec.c deny_write_access): while a process runs
  // a file, opening it for writing fails with ETXTBSY, and while a file is
  // open for writing (i_writecount > 0: a description from OpenPath holds
  // its write access), exec of it fails with ETXTBSY. OpenForExec hands out
  // mappables that count as "executing" until the last mapping is gone.
  class ExecTracker {
   public:
    // False (ETXTBSY) while the file is open for writing.
    bool Add(const Inode* i);
    void Remove(const Inode* i);
    bool Executing(const Inode* i);
    // False (ETXTBSY) while the file is being executed.
    bool AddWriter(const Inode* i);
    void RemoveWriter(const Inode* i);

   private:
    absl::Mutex mu_;
    absl::flat_hash_map<const Inode*, int> count_ ABSL_GUARDED_BY(mu_);
    absl::flat_hash_map<const Inode*, int> writers_ ABSL_GUARDED_BY(mu_);
  };

 private:
  Vfs() = default;
  std::shared_ptr<ExecTracker> exec_tracker_ = std::make_shared<ExecTracker>();
  // A regular file opened for writing takes write access (get_write_access)
  // for the description's lifetime: ETXTBSY if it is being executed.
  Result<std::shared_ptr<FileDescription>> WithWriteAccess(Result<std::shared_ptr<FileDescription>> f,
                                                           const std::shared_ptr<Inode>& inode, int flags);
  std::shared_ptr<LockTable> locks_ = std::make_shared<LockTable>();
  std::shared_ptr<UnixNames> unix_names_ = NewUnixNames();
  // Where tmpfs file data lives (VfsOptions::memory_file); null in tests.
  sentry::mm::MemoryFile* memory_file_ = nullptr;
  // Steps into whatever is mounted on p.dentry (repeatedly).
  Path FollowMounts(Path p) const;
  // ".." of p, not above `root`.
  Path Parent(const Path& root, const Path& p) const;
  // Mounts a filesystem on the directory `name` of `at` (made up in the
  // sentry's view if the host has none).
  // Returns the new mount's root.
  Path AddMount(const Path& at, std::string_view name, FilesystemInfo info, std::shared_ptr<Inode> root_inode);
  // The same with an existing mount's root dentry (a bind of a whole mount).
  Path AddMountDentry(const Path& at, std::string_view name, FilesystemInfo info, std::shared_ptr<Dentry> root);
  // EACCES unless c may search the directory dir (ENOTDIR if not one).
  static Result<void> MaySearchDir(const Caller& c, const Path& dir);
  // The parent and the new name for a creation (mkdir, mknod, symlink,
  // link): EEXIST if it exists (or is "." / ".."), EROFS, EACCES.
  Result<ParentAndName> PrepareCreate(const Caller& c, int dirfd, std::string_view path, bool want_dir);
  // The parent and the existing victim of unlink/rmdir/rename.
  struct Victim {
    Path parent;
    std::string name;
    std::shared_ptr<Dentry> dentry;
  };
  Result<Victim> PrepareDelete(const Caller& c, int dirfd, std::string_view path, bool want_dir);
  // may_delete() (fs/namei.c): write+search on the directory, sticky bit.
  static Result<void> MayDelete(const Caller& c, const Path& dir, Inode& victim);
  // Whether `d` is a mount point or a mount root (EBUSY for removal).
  bool Busy(const Path& dir, const std::shared_ptr<Dentry>& d) const;

  std::shared_ptr<Mount> root_mount_;
  std::shared_ptr<Devpts> devpts_;
  // Unnamed O_TMPFILE files (without O_EXCL) that linkat may still give a
  // name (Linux's I_LINKABLE); any other file without links is ENOENT.
  absl::Mutex linkable_mu_;
  absl::flat_hash_map<const Inode*, std::weak_ptr<Inode>> linkable_ ABSL_GUARDED_BY(linkable_mu_);
  mutable absl::Mutex mu_;
  // Mount stacking: mountpoint dentry -> the mount on it.
  absl::flat_hash_map<const Dentry*, std::shared_ptr<Mount>> mounts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fs

#endif  // FS_VFS_H_
