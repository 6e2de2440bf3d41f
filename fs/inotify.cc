#include "fs/inotify.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"
#include "fs/inode.h"
#include "fs/vfs.h"

namespace fs::inotify {

class InotifyFile;

// A watch: on its inode's InodeWatches and in its file's wd map.
struct Watch {
  std::weak_ptr<InotifyFile> owner;
  int wd = 0;
  std::shared_ptr<Inode> inode;  // pinned while watched, as a Linux mark pins its inode
  uint64_t ino = 0;
  uint64_t dev = 0;
  // Events plus IN_ONESHOT and IN_EXCL_UNLINK; changed by inotify_add_watch.
  std::atomic<uint32_t> mask{0};
};

namespace {

constexpr uint32_t kAllBits = IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |
                              IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT;
// What a watch keeps of inotify_add_watch's mask (inotify_arg_to_mask).
constexpr uint32_t kKept = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
// Sent whatever the watch's mask (Linux: FS_IN_IGNORED and friends).
constexpr uint32_t kAlways = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW;

// Watches alive in the sandbox: while there are none, every hook returns
// at once (no parent lookup under the rename lock on each read and write).
// The sentry serves one sandbox, so a process-wide count is its count.
std::atomic<int64_t> g_live_watches{0};
// fsnotify_get_cookie(): one counter for IN_MOVED_FROM/IN_MOVED_TO pairs.
std::atomic<uint32_t> g_cookie{0};

bool AnyWatches() { return g_live_watches.load(std::memory_order_relaxed) > 0; }

// Linux's per-user ucounts (UCOUNT_INOTIFY_INSTANCES / _WATCHES), by euid,
// for the one sandbox this sentry serves.
class UserCounts {
 public:
  bool Charge(uint32_t uid, bool watch) {
    absl::MutexLock l(&mu_);
    auto& [instances, watches] = by_uid_[uid];
    int& n = watch ? watches : instances;
    if (n >= (watch ? kMaxUserWatches : kMaxUserInstances)) return false;
    ++n;
    return true;
  }
  void Uncharge(uint32_t uid, bool watch) {
    absl::MutexLock l(&mu_);
    auto& [instances, watches] = by_uid_[uid];
    --(watch ? watches : instances);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, std::pair<int, int>> by_uid_ ABSL_GUARDED_BY(mu_);
};

UserCounts& Counts() {
  static UserCounts counts;
  return counts;
}

// round_event_name_len(): the name with its NUL, padded with NULs to a
// multiple of sizeof(struct inotify_event); nothing for no name.
size_t PaddedNameLen(std::string_view name) {
  constexpr size_t kUnit = sizeof(struct inotify_event);
  return name.empty() ? 0 : (name.size() + 1 + kUnit - 1) / kUnit * kUnit;
}

}  // namespace

// Not in the anonymous namespace: InotifyFile (outside it) holds
// a queue of them, which GCC flags in unity builds (-Wsubobject-linkage).
struct Event {
  int32_t wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
  size_t size() const { return sizeof(struct inotify_event) + PaddedNameLen(name); }
};

class InotifyFile final : public FileDescription {
 public:
  InotifyFile(int flags, uint32_t euid) : FileDescription(O_RDONLY | flags), euid_(euid) {}
  ~InotifyFile() override;
  void set_self(std::weak_ptr<InotifyFile> self) { self_ = std::move(self); }

  // inotify_read(): whole events only; EINVAL when the first one does not
  // fit; EAGAIN when empty (fs::ReadBlocking waits unless O_NONBLOCK).
  Result<size_t> Read(std::span<uint8_t> buf) override {
    size_t done = 0;
    absl::MutexLock l(&mu_);
    if (events_.empty()) return Errno::kEAGAIN;
    while (!events_.empty()) {
      const Event& e = events_.front();
      const size_t size = e.size();
      if (size > buf.size() - done) {
        if (done == 0) return Errno::kEINVAL;
        break;
      }
      struct inotify_event h {};
      h.wd = e.wd;
      h.mask = e.mask;
      h.cookie = e.cookie;
      h.len = static_cast<uint32_t>(PaddedNameLen(e.name));
      std::memcpy(buf.data() + done, &h, sizeof(h));
      std::memset(buf.data() + done + sizeof(h), 0, h.len);
      std::memcpy(buf.data() + done + sizeof(h), e.name.data(), e.name.size());
      done += size;
      bytes_ -= size;
      events_.pop_front();
    }
    return done;
  }

  Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override {
    if (cmd != FIONREAD) return Errno::kENOTTY;
    int32_t n;
    {
      absl::MutexLock l(&mu_);
      n = static_cast<int32_t>(std::min<size_t>(bytes_, INT32_MAX));
    }
    TRY(mm.CopyOut(sentry::mm::UserPtr<int32_t>(arg), n));
    return 0;
  }

  Result<struct stat> Stat() override { return AnonInodeStat(); }  // anon_inode_getfile()
  std::string Path() const override { return "anon_inode:inotify"; }

  uint64_t Readiness(uint64_t mask) override {
    absl::MutexLock l(&mu_);
    return events_.empty() ? 0 : (mask & (EPOLLIN | EPOLLRDNORM));
  }
  bool Pollable() const override { return true; }

  // inotify_fdinfo(): one line per watch, newest first (the group's mark
  // list). Without the file handle fields (Linux shows them only where the
  // filesystem can export handles).
  std::string FdInfo() override {
    std::vector<std::shared_ptr<Watch>> ws;
    {
      absl::MutexLock l(&watches_mu_);
      for (const auto& [wd, w] : by_wd_) ws.push_back(w);
    }
    std::sort(ws.begin(), ws.end(), [](const auto& a, const auto& b) { return a->wd > b->wd; });
    std::string out;
    for (const auto& w : ws) {
      const uint32_t sdev = (major(w->dev) << 20) | minor(w->dev);
      out += fmt::format("inotify wd:{:x} ino:{:x} sdev:{:x} mask:{:x} ignored_mask:0\n", w->wd, w->ino, sdev,
                         w->mask.load(std::memory_order_relaxed));
    }
    return out;
  }

  // Queues an event, merged into an identical last one (inotify_merge); at
  // max_queued_events, one IN_Q_OVERFLOW instead (fsnotify_insert_event).
  void Queue(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
    {
      absl::MutexLock l(&mu_);
      if (events_.size() >= static_cast<size_t>(kMaxQueuedEvents)) {
        if (events_.back().mask == IN_Q_OVERFLOW) return;
        events_.push_back(Event{-1, IN_Q_OVERFLOW, 0, {}});
      } else {
        if (!events_.empty()) {
          const Event& last = events_.back();
          if (last.wd == wd && last.mask == mask && last.cookie == cookie && last.name == name) return;
        }
        events_.push_back(Event{wd, mask, cookie, std::string(name)});
      }
      bytes_ += events_.back().size();
    }
    NotifyEvents(EPOLLIN | EPOLLRDNORM);
  }

  Result<int> Add(const std::shared_ptr<Inode>& inode, const struct stat& st, uint32_t mask) {
    InodeWatches& iw = inode->EnsureInotifyWatches();
    const uint32_t kept = mask & kKept;
    absl::MutexLock l(&watches_mu_);
    if (auto it = by_inode_.find(inode.get()); it != by_inode_.end()) {
      // inotify_update_existing_watch().
      if (mask & IN_MASK_CREATE) return Errno::kEEXIST;
      Watch& w = *by_wd_.at(it->second);
      if (mask & IN_MASK_ADD) {
        w.mask.fetch_or(kept, std::memory_order_relaxed);
      } else {
        w.mask.store(kept, std::memory_order_relaxed);
      }
      return it->second;
    }
    if (!Counts().Charge(euid_, true)) return Errno::kENOSPC;
    auto w = std::make_shared<Watch>();
    w->owner = self_;
    // idr_alloc_cyclic(.., 1, 0): increasing, wrapping past INT_MAX.
    do {
      w->wd = next_wd_;
      next_wd_ = next_wd_ == INT_MAX ? 1 : next_wd_ + 1;
    } while (by_wd_.contains(w->wd));
    w->inode = inode;
    w->ino = st.st_ino;
    w->dev = st.st_dev;
    w->mask.store(kept, std::memory_order_relaxed);
    by_wd_[w->wd] = w;
    by_inode_[inode.get()] = w->wd;
    g_live_watches.fetch_add(1, std::memory_order_relaxed);
    iw.Add(w);
    return w->wd;
  }

  Result<void> Remove(int wd) {
    std::shared_ptr<Watch> w;
    {
      absl::MutexLock l(&watches_mu_);
      auto it = by_wd_.find(wd);
      if (it == by_wd_.end()) return Errno::kEINVAL;
      w = std::move(it->second);
      by_wd_.erase(it);
      by_inode_.erase(w->inode.get());
    }
    w->inode->inotify_watches()->Remove(w.get());
    Dropped(*w);
    return {};
  }

  // A watch that left its inode by itself (IN_ONESHOT fired, the inode
  // died): forgotten, with IN_IGNORED, unless rm_watch got there first.
  void Forget(const Watch* gone) {
    std::shared_ptr<Watch> w;
    {
      absl::MutexLock l(&watches_mu_);
      auto it = by_wd_.find(gone->wd);
      if (it == by_wd_.end() || it->second.get() != gone) return;
      w = std::move(it->second);
      by_wd_.erase(it);
      by_inode_.erase(w->inode.get());
    }
    Dropped(*w);
  }

 private:
  // Whoever took `w` out of the maps: IN_IGNORED and the counts.
  void Dropped(const Watch& w) {
    Queue(w.wd, IN_IGNORED, 0, {});
    Counts().Uncharge(euid_, true);
    g_live_watches.fetch_sub(1, std::memory_order_relaxed);
  }

  const uint32_t euid_;
  std::weak_ptr<InotifyFile> self_;
  absl::Mutex watches_mu_;
  absl::flat_hash_map<int, std::shared_ptr<Watch>> by_wd_ ABSL_GUARDED_BY(watches_mu_);
  absl::flat_hash_map<const Inode*, int> by_inode_ ABSL_GUARDED_BY(watches_mu_);
  int next_wd_ ABSL_GUARDED_BY(watches_mu_) = 1;
  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // FIONREAD
};

InotifyFile::~InotifyFile() {
  absl::flat_hash_map<int, std::shared_ptr<Watch>> ws;
  {
    absl::MutexLock l(&watches_mu_);
    ws.swap(by_wd_);
    by_inode_.clear();
  }
  for (const auto& [wd, w] : ws) {
    w->inode->inotify_watches()->Remove(w.get());
    Counts().Uncharge(euid_, true);
    g_live_watches.fetch_sub(1, std::memory_order_relaxed);
  }
  Counts().Uncharge(euid_, false);
}

// ---- InodeWatches

std::vector<InodeWatches::Hit> InodeWatches::Match(uint32_t mask, bool excl_unlink_skip) {
  std::vector<Hit> hits;
  absl::MutexLock l(&mu_);
  for (auto it = watches_.begin(); it != watches_.end();) {
    const uint32_t wm = (*it)->mask.load(std::memory_order_relaxed);
    const uint32_t got = mask & (wm | kAlways);
    if (got == 0 || (excl_unlink_skip && (wm & IN_EXCL_UNLINK))) {
      ++it;
      continue;
    }
    const bool oneshot = (wm & IN_ONESHOT) != 0;
    hits.push_back(Hit{*it, got | (oneshot ? IN_ONESHOT : 0u)});
    if (oneshot) {
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  return hits;
}

void InodeWatches::Add(std::shared_ptr<Watch> w) {
  absl::MutexLock l(&mu_);
  watches_.push_back(std::move(w));
}

bool InodeWatches::Remove(const Watch* w) {
  absl::MutexLock l(&mu_);
  auto it = std::find_if(watches_.begin(), watches_.end(), [w](const auto& p) { return p.get() == w; });
  if (it == watches_.end()) return false;
  watches_.erase(it);
  return true;
}

std::vector<std::shared_ptr<Watch>> InodeWatches::TakeAll() {
  absl::MutexLock l(&mu_);
  return std::exchange(watches_, {});
}

void InodeWatches::set_delete_self_pending() {
  absl::MutexLock l(&mu_);
  delete_self_pending_ = true;
}

bool InodeWatches::take_delete_self_pending() {
  absl::MutexLock l(&mu_);
  return std::exchange(delete_self_pending_, false);
}

namespace {

// Queues the hits (no inotify lock held); a fired IN_ONESHOT watch goes.
void Deliver(std::vector<InodeWatches::Hit> hits, uint32_t isdir, uint32_t cookie, std::string_view name) {
  for (const auto& h : hits) {
    std::shared_ptr<InotifyFile> owner = h.watch->owner.lock();
    if (owner == nullptr) continue;
    owner->Queue(h.watch->wd, (h.mask & ~IN_ONESHOT) | isdir, cookie, name);
    if (h.mask & IN_ONESHOT) owner->Forget(h.watch.get());
  }
}

uint32_t IsDirBit(const Inode& i) { return i.is_dir() ? IN_ISDIR : 0; }

// An event on the inode itself (no name).
void ToInode(Inode& inode, uint32_t mask) {
  InodeWatches* iw = inode.inotify_watches();
  if (iw == nullptr) return;
  Deliver(iw->Match(mask, false), IsDirBit(inode), 0, {});
}

// An event about the entry `name` of the directory `dir`.
void ToDir(const Dentry& dir, uint32_t mask, std::string_view name, uint32_t cookie, uint32_t isdir) {
  InodeWatches* iw = dir.inode()->inotify_watches();
  if (iw == nullptr) return;
  Deliver(iw->Match(mask, false), isdir, cookie, name);
}

// fsnotify_parent() + fsnotify(): the inode's own watches, then its
// parent's (with the name; IN_EXCL_UNLINK watches skip an unlinked child).
void ToInodeAndParent(const Dentry* d, Inode& inode, uint32_t mask) {
  ToInode(inode, mask);
  if (d == nullptr) return;
  std::shared_ptr<Dentry> parent;
  std::string name;
  {
    absl::MutexLock l(&Dentry::rename_mu());
    parent = d->parent_locked();
    name = d->name_locked();
  }
  if (parent == nullptr) return;
  InodeWatches* pw = parent->inode()->inotify_watches();
  if (pw == nullptr) return;
  const bool unlinked = parent->CachedChild(name).get() != d;
  Deliver(pw->Match(mask, unlinked), IsDirBit(inode), 0, name);
}

// fsnotify_inoderemove(): IN_DELETE_SELF, then every watch goes (IN_IGNORED).
void DeleteSelf(Inode& inode) {
  InodeWatches* iw = inode.inotify_watches();
  if (iw == nullptr) return;
  ToInode(inode, IN_DELETE_SELF);
  for (const auto& w : iw->TakeAll()) {
    if (std::shared_ptr<InotifyFile> owner = w->owner.lock()) owner->Forget(w.get());
  }
}

// The last name of `inode` went: IN_DELETE_SELF now, or at the last close
// of its open file descriptions (Closed).
void NoNameLeft(Inode& inode) {
  InodeWatches* iw = inode.inotify_watches();
  if (iw == nullptr) return;
  if (inode.inotify_opens().load() > 0) {
    iw->set_delete_self_pending();
    // A close that raced past its check above still sends it.
    if (inode.inotify_opens().load() > 0 || !iw->take_delete_self_pending()) return;
  }
  DeleteSelf(inode);
}

// Whether a watched inode has no name left (a removed directory counts).
bool Gone(const Caller& c, Inode& inode) {
  if (inode.inotify_watches() == nullptr) return false;
  if (inode.is_dir()) return true;
  Result<struct stat> st = inode.Stat(c);
  return !st.ok() || st.value().st_nlink == 0;  // a removed overlay file may no longer stat
}

}  // namespace

// ---- Syscall side

Result<std::shared_ptr<FileDescription>> NewInotify(int flags, uint32_t euid) {
  if (!Counts().Charge(euid, false)) return Errno::kEMFILE;
  auto f = std::make_shared<InotifyFile>(flags, euid);
  f->set_self(f);
  return std::shared_ptr<FileDescription>(std::move(f));
}

bool IsInotify(const FileDescription& f) { return dynamic_cast<const InotifyFile*>(&f) != nullptr; }

Result<int> AddWatch(FileDescription& f, const std::shared_ptr<Inode>& inode, const struct stat& st, uint32_t mask) {
  auto* in = dynamic_cast<InotifyFile*>(&f);
  if (in == nullptr) return Errno::kEINVAL;
  if (!(mask & kAllBits)) return Errno::kEINVAL;
  return in->Add(inode, st, mask);
}

Result<void> RemoveWatch(FileDescription& f, int wd) {
  auto* in = dynamic_cast<InotifyFile*>(&f);
  if (in == nullptr) return Errno::kEINVAL;
  return in->Remove(wd);
}

// ---- Hooks

void Opened(FileDescription& f) {
  if (f.flags() & O_PATH) return;
  const Path* at = f.location();
  if (at == nullptr || at->dentry == nullptr) return;
  f.inotify_dentry = at->dentry;
  at->dentry->inode()->inotify_opens().fetch_add(1);
  if (!AnyWatches()) return;
  ToInodeAndParent(at->dentry.get(), *at->dentry->inode(), IN_OPEN);
}

void Accessed(const FileDescription& f) {
  if (!AnyWatches() || f.inotify_dentry == nullptr) return;
  ToInodeAndParent(f.inotify_dentry.get(), *f.inotify_dentry->inode(), IN_ACCESS);
}

void Modified(const FileDescription& f) {
  if (!AnyWatches() || f.inotify_dentry == nullptr) return;
  ToInodeAndParent(f.inotify_dentry.get(), *f.inotify_dentry->inode(), IN_MODIFY);
}

void Closed(const std::shared_ptr<Dentry>& d, bool was_writable) {
  Inode& inode = *d->inode();
  const bool last = inode.inotify_opens().fetch_sub(1) == 1;
  if (!AnyWatches()) return;
  ToInodeAndParent(d.get(), inode, was_writable ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE);
  // __fput(): fsnotify_close(), then dput() of the unlinked dentry.
  if (InodeWatches* iw = inode.inotify_watches(); last && iw != nullptr && iw->take_delete_self_pending()) {
    DeleteSelf(inode);
  }
}

void Created(const Dentry& dir, std::string_view name, bool is_dir) {
  if (!AnyWatches()) return;
  ToDir(dir, IN_CREATE, name, 0, is_dir ? IN_ISDIR : 0);
}

void Linked(const Dentry& dir, std::string_view name, Inode& target) {
  if (!AnyWatches()) return;
  ToInode(target, IN_ATTRIB);  // fsnotify_link_count()
  ToDir(dir, IN_CREATE, name, 0, IsDirBit(target));
}

void Removed(const Caller& c, const Dentry& dir, std::string_view name, Inode& victim) {
  if (!AnyWatches()) return;
  // vfs_unlink: fsnotify_link_count(); d_delete(): IN_DELETE_SELF when no
  // name is left; then fsnotify_delete() in the directory.
  if (!victim.is_dir()) ToInode(victim, IN_ATTRIB);
  if (Gone(c, victim)) NoNameLeft(victim);
  ToDir(dir, IN_DELETE, name, 0, IsDirBit(victim));
}

void Renamed(const Caller& c, const Dentry& old_dir, std::string_view old_name, const Dentry& new_dir,
             std::string_view new_name, Inode& moved, Inode* replaced) {
  if (!AnyWatches()) return;
  // fsnotify_move().
  uint32_t cookie = g_cookie.fetch_add(1, std::memory_order_relaxed) + 1;
  if (cookie == 0) cookie = g_cookie.fetch_add(1, std::memory_order_relaxed) + 1;
  const uint32_t isdir = IsDirBit(moved);
  ToDir(old_dir, IN_MOVED_FROM, old_name, cookie, isdir);
  ToDir(new_dir, IN_MOVED_TO, new_name, cookie, isdir);
  if (replaced != nullptr) ToInode(*replaced, IN_ATTRIB);
  ToInode(moved, IN_MOVE_SELF);
  if (replaced != nullptr && Gone(c, *replaced)) NoNameLeft(*replaced);
}

void AttrChanged(const AttrTarget& p, const SetAttrRequest& req) {
  if (!AnyWatches()) return;
  // fsnotify_change().
  uint32_t mask = 0;
  if (req.uid || req.gid || req.mode) mask |= IN_ATTRIB;
  if (req.size) mask |= IN_MODIFY;
  if (req.atime && req.mtime) {
    mask |= IN_ATTRIB;
  } else if (req.atime) {
    mask |= IN_ACCESS;
  } else if (req.mtime) {
    mask |= IN_MODIFY;
  }
  if (mask != 0) ToInodeAndParent(p.dentry.get(), *p.inode, mask);
}

void XattrChanged(const AttrTarget& p) {
  if (!AnyWatches()) return;
  ToInodeAndParent(p.dentry.get(), *p.inode, IN_ATTRIB);
}

}  // namespace fs::inotify
