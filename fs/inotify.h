// inotify(7), after Linux's fs/notify/inotify/ and include/linux/fsnotify.h.
//
// An inotify file (NewInotify) owns its watches by watch descriptor; each
// watch is also listed on the watched inode (InodeWatches, Linux's
// i_fsnotify_marks), where the VFS's event hooks below find it. The hooks
// are one-line calls from the VFS (fs/vfs.cc, fs/vfs_write.cc) and the
// syscall helpers (read/write/open/close, xattrs, fallocate, splice): every
// filesystem gets events for the changes made inside the sandbox, none for
// changes made on the host behind a gofer mount.
//
// Lifetimes: a watch holds its inode (as a Linux mark pins the inode) and a
// weak reference to its inotify file; the file drops its watches from their
// inodes when it is released (last close).
//
// Lock order: InotifyFile::watches_mu_ > InodeWatches::mu_ >
// InotifyFile::mu_ (the event queue) > the inotify file's waiter queue.
// Delivery takes InodeWatches::mu_ only to copy the matching watches out;
// events are queued after it is dropped. No inotify lock is held while
// calling out of this file (so the hooks may run under any VFS lock that is
// not itself taken by delivery: Dentry::rename_mu_ and Dentry::mu_ are
// taken briefly, never around a hook).
#ifndef FS_INOTIFY_H_
#define FS_INOTIFY_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "fs/file_description.h"

namespace fs {

class Dentry;
class Inode;
struct SetAttrRequest;
struct AttrTarget;
struct Caller;

namespace inotify {

// /proc/sys/fs/inotify (Linux's defaults; fixed here): per user, per sandbox.
constexpr int kMaxUserInstances = 128;
constexpr int kMaxUserWatches = 8192;
constexpr int kMaxQueuedEvents = 16384;

struct Watch;

// The watches on one inode. Made at the inode's first watch, kept for its
// life (Inode::inotify_watches).
class InodeWatches {
 public:
  // Matching watches, with the bits of `mask` each wants; IN_ONESHOT
  // watches that match leave the inode here.
  struct Hit {
    std::shared_ptr<Watch> watch;
    uint32_t mask;
  };
  std::vector<Hit> Match(uint32_t mask, bool excl_unlink_skip) ABSL_LOCKS_EXCLUDED(mu_);
  void Add(std::shared_ptr<Watch> w) ABSL_LOCKS_EXCLUDED(mu_);
  // False if `w` was no longer listed (a oneshot fired, the inode died).
  bool Remove(const Watch* w) ABSL_LOCKS_EXCLUDED(mu_);
  // Every watch, removed (the inode is gone).
  std::vector<std::shared_ptr<Watch>> TakeAll() ABSL_LOCKS_EXCLUDED(mu_);
  // IN_DELETE_SELF waits for the last close of a file still open when its
  // last name went (d_delete() only unlinks an unused dentry's inode).
  void set_delete_self_pending() ABSL_LOCKS_EXCLUDED(mu_);
  bool take_delete_self_pending() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  bool delete_self_pending_ ABSL_GUARDED_BY(mu_) = false;
};

// inotify_init1(2): `flags` O_NONBLOCK at most (O_CLOEXEC is the fd
// table's). EMFILE past max_user_instances for `euid`.
Result<std::shared_ptr<FileDescription>> NewInotify(int flags, uint32_t euid);
// inotify_add_watch(2) after the path was resolved and checked: the wd.
// EINVAL if `f` is no inotify file; EEXIST for IN_MASK_CREATE on a watched
// inode; ENOSPC past max_user_watches.
// `st`: the inode's stat (for fdinfo's ino: and sdev:).
Result<int> AddWatch(FileDescription& f, const std::shared_ptr<Inode>& inode, const struct stat& st, uint32_t mask);
// inotify_rm_watch(2): EINVAL for a non-inotify file or an unknown wd.
Result<void> RemoveWatch(FileDescription& f, int wd);
bool IsInotify(const FileDescription& f);

// ---- Event hooks. Each is cheap when no watch exists in the sandbox.
// A successful open(2) of a file in the tree: IN_OPEN; remembers where it
// was opened (FileDescription::inotify_dentry) for the events below.
void Opened(FileDescription& f);
// read(2) and friends moved bytes, getdents64: IN_ACCESS.
void Accessed(const FileDescription& f);
// write(2), fallocate, splice/sendfile/copy_file_range into `f`: IN_MODIFY.
void Modified(const FileDescription& f);
// The last reference to a file opened with Opened() went (from
// ~FileDescription): IN_CLOSE_WRITE or IN_CLOSE_NOWRITE.
void Closed(const std::shared_ptr<Dentry>& d, bool was_writable);
// A name made in `dir` (open O_CREAT, mkdir, mknod, symlink): IN_CREATE.
void Created(const Dentry& dir, std::string_view name, bool is_dir);
// link(2): IN_ATTRIB on the target (its link count), IN_CREATE in `dir`.
void Linked(const Dentry& dir, std::string_view name, Inode& target);
// unlink/rmdir of `victim` from `dir`: IN_ATTRIB (a file's link count),
// IN_DELETE_SELF and IN_IGNORED when no name is left, IN_DELETE in `dir`.
void Removed(const Caller& c, const Dentry& dir, std::string_view name, Inode& victim);
// rename(2) of `moved` from old_dir/old_name to new_dir/new_name:
// IN_MOVED_FROM and IN_MOVED_TO with one cookie, IN_MOVE_SELF; a replaced
// target gets IN_ATTRIB and, without names left, IN_DELETE_SELF.
void Renamed(const Caller& c, const Dentry& old_dir, std::string_view old_name, const Dentry& new_dir,
             std::string_view new_name, Inode& moved, Inode* replaced);
// An attribute change (fsnotify_change): IN_ATTRIB, IN_MODIFY (size,
// mtime alone) or IN_ACCESS (atime alone), to the inode and its parent.
void AttrChanged(const AttrTarget& p, const SetAttrRequest& req);
// setxattr/removexattr: IN_ATTRIB.
void XattrChanged(const AttrTarget& p);

}  // namespace inotify
}  // namespace fs

#endif  // FS_INOTIFY_H_
