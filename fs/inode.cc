#include "fs/inode.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>

#include <algorithm>
#include <cstring>

#include "fs/inotify.h"
#include "sentry/kernel/task.h"

namespace fs {

Inode::~Inode() = default;

inotify::InodeWatches& Inode::EnsureInotifyWatches() {
  if (inotify::InodeWatches* w = inotify_.load(std::memory_order_acquire)) return *w;
  auto fresh = std::make_shared<inotify::InodeWatches>();
  inotify::InodeWatches* expected = nullptr;
  if (inotify_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    inotify_owner_ = std::move(fresh);  // only the winner writes it; read only by ~Inode
    return *inotify_owner_;
  }
  return *expected;
}

Caller CallerOf(sentry::kernel::Task& t) {
  return Caller{&t.creds(), &t.thread_group(), &t.fds(), &t.fs(), t.tid(), t.syscall_serial(), &t.kernel()};
}

Result<std::shared_ptr<Inode>> Inode::Lookup(const Caller&, std::string_view) { return Errno::kENOTDIR; }
Result<std::vector<std::shared_ptr<Inode>>> Inode::LookupPath(const Caller& c,
                                                             std::span<const std::string_view> names) {
  if (names.empty()) return Errno::kEINVAL;
  std::vector<std::shared_ptr<Inode>> out;
  out.push_back(TRY(Lookup(c, names[0])));
  return out;
}
Result<std::string> Inode::Readlink(const Caller&) { return Errno::kEINVAL; }
// vfs_create(): a directory without ->create refuses with EACCES (open
// O_CREAT and mknod S_IFREG in sysfs, devpts), unlike mkdir's EPERM.
Result<std::shared_ptr<Inode>> Inode::Create(const Caller&, std::string_view, uint32_t) { return Errno::kEACCES; }
Result<std::shared_ptr<Inode>> Inode::Mkdir(const Caller&, std::string_view, uint32_t) { return Errno::kEPERM; }

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

Result<std::shared_ptr<Inode>> Inode::Mknod(const Caller&, std::string_view, uint32_t, dev_t) { return Errno::kEPERM; }
Result<std::shared_ptr<Inode>> Inode::Symlink(const Caller&, std::string_view, std::string_view) {
  return Errno::kEPERM;
}
Result<void> Inode::Link(const Caller&, std::string_view, const std::shared_ptr<Inode>&) { return Errno::kEPERM; }
Result<void> Inode::Unlink(const Caller&, std::string_view) { return Errno::kEPERM; }
Result<void> Inode::Rmdir(const Caller&, std::string_view) { return Errno::kEPERM; }
Result<void> Inode::Rename(const Caller&, std::string_view, Inode&, std::string_view, unsigned) {
  return Errno::kEPERM;
}
Result<std::shared_ptr<Inode>> Inode::TmpFile(const Caller&, uint32_t) { return Errno::kEOPNOTSUPP; }
Result<void> Inode::SetAttr(const Caller&, const SetAttrRequest&) { return Errno::kEPERM; }

Result<std::vector<DirEntry>> Inode::ReadDir(const Caller& c) {
  if (!is_dir()) return Errno::kENOTDIR;
  std::shared_ptr<FileDescription> f = TRY(Open(c, Path{}, O_RDONLY | O_DIRECTORY));
  std::vector<DirEntry> out;
  std::vector<uint8_t> buf(32768);
  while (true) {
    const size_t n = TRY(f->Getdents64(buf));
    if (n == 0) break;
    size_t pos = 0;
    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    while (pos + 19 <= n) {
      uint64_t ino;
      uint16_t reclen;
      std::memcpy(&ino, &buf[pos], 8);
      std::memcpy(&reclen, &buf[pos + 16], 2);
      if (reclen < 19 || pos + reclen > n) return Errno::kEIO;
      const char* name = reinterpret_cast<const char*>(&buf[pos + 19]);
      const std::string nm(name, strnlen(name, reclen - 19));
      if (nm != "." && nm != "..") out.push_back(DirEntry{nm, ino, buf[pos + 18]});
      pos += reclen;
    }
  }
  return out;
}

Result<struct statfs> Inode::Statfs(const Caller&) {
  // Like a synthetic filesystem (proc, sysfs): no blocks, no limits.
  struct statfs st {};
  st.f_type = PROC_SUPER_MAGIC;
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_namelen = kNameMax;
  return st;
}

Result<std::string> Inode::GetXattr(const Caller&, std::string_view) { return Errno::kENODATA; }
Result<std::vector<std::string>> Inode::ListXattr(const Caller&) { return std::vector<std::string>{}; }
Result<void> Inode::SetXattr(const Caller&, std::string_view, std::string_view, int) { return Errno::kEOPNOTSUPP; }
Result<void> Inode::RemoveXattr(const Caller&, std::string_view) { return Errno::kEOPNOTSUPP; }

bool Dentry::CachesChildren() const { return cache_children_ && inode_->CacheLookups(); }

Result<std::shared_ptr<Dentry>> Dentry::LookupChild(const Caller& c, std::string_view name) {
  const bool cache = CachesChildren();
  if (cache) {
    absl::MutexLock l(&mu_);
    auto it = children_.find(absl::string_view(name.data(), name.size()));
    if (it != children_.end()) {
      // A mount point keeps its dentry (what is mounted there stays).
      if (it->second != nullptr && (!inode_->RevalidateLookups() || it->second->mounted())) return it->second;
      if (it->second == nullptr && inode_->CacheNegativeLookups()) return Errno::kENOENT;
    }
  }
  // The inode lookup runs without mu_ (it may be a gofer round trip); two
  // racing lookups of one name keep the first inserted result.
  return Adopt(name, inode_->Lookup(c, name), cache);
}

Result<std::vector<std::shared_ptr<Dentry>>> Dentry::LookupChildren(const Caller& c,
                                                                    std::span<const std::string_view> names) {
  if (names.empty()) return Errno::kEINVAL;
  auto batched = [](Dentry& d, std::string_view name) {
    if (!d.CachesChildren() || !d.inode_->RevalidateLookups()) return false;
    // A mount point is not asked again (LookupChild keeps it).
    std::shared_ptr<Dentry> cached = d.CachedChild(name);
    return cached == nullptr || !cached->mounted();
  };
  std::vector<std::shared_ptr<Dentry>> out;
  if (names.size() == 1 || !batched(*this, names[0])) {
    out.push_back(TRY(LookupChild(c, names[0])));
    return out;
  }
  Result<std::vector<std::shared_ptr<Inode>>> found = inode_->LookupPath(c, names);
  if (!found.ok()) {
    out.push_back(TRY(Adopt(names[0], found.error(), /*cache=*/true)));
    return out;
  }
  std::shared_ptr<Dentry> dir = shared_from_this();
  for (size_t i = 0; i < found.value().size(); ++i) {
    if (i > 0 && !batched(*dir, names[i])) break;  // the rest is the walk's again
    dir = TRY(dir->Adopt(names[i], std::move(found.value()[i]), /*cache=*/true));
    out.push_back(dir);
  }
  return out;
}

Result<std::shared_ptr<Dentry>> Dentry::Adopt(std::string_view name, Result<std::shared_ptr<Inode>> r,
                                              bool cache) {
  if (!r.ok() && r.error() != Errno::kENOENT) return r.error();
  std::shared_ptr<Dentry> child;
  if (r.ok()) child = std::make_shared<Dentry>(shared_from_this(), std::string(name), std::move(r).value());
  if (!cache) {
    if (child != nullptr) child->cache_children_ = false;
    if (child == nullptr) return Errno::kENOENT;
    return child;
  }
  if (inode_->RevalidateLookups()) {
    // The name now designates `child` (or nothing): a cached entry for
    // another inode, or for a name that went, goes with its subtree.
    std::shared_ptr<Dentry> cached = CachedChild(name);
    if (cached != nullptr && child != nullptr && cached->inode() == child->inode()) return cached;
    if (cached != nullptr) Invalidate(name);
  }
  if (child == nullptr && !inode_->CacheNegativeLookups()) return Errno::kENOENT;
  absl::MutexLock l(&mu_);
  auto [it, inserted] = children_.try_emplace(std::string(name), child);
  if (!inserted && it->second == nullptr) it->second = child;  // a name that appeared
  if (it->second == nullptr) return Errno::kENOENT;
  return it->second;
}

ABSL_CONST_INIT absl::Mutex Dentry::rename_mu_(absl::kConstInit);

std::shared_ptr<Dentry> Dentry::parent() const {
  absl::MutexLock l(&rename_mu_);
  return parent_;
}

std::string Dentry::name() const {
  absl::MutexLock l(&rename_mu_);
  return name_;
}

bool Dentry::IsChildOf(const Dentry* parent, std::string_view name) const {
  absl::MutexLock l(&rename_mu_);
  return parent_.get() == parent && name_ == name;
}

std::shared_ptr<Dentry> Dentry::MoveTo(const std::shared_ptr<Dentry>& new_parent, const std::string& new_name) {
  std::shared_ptr<Dentry> old_parent;
  std::string old_name;
  {
    absl::MutexLock l(&rename_mu_);
    old_parent = std::exchange(parent_, new_parent);
    old_name = std::exchange(name_, new_name);
  }
  std::shared_ptr<Dentry> self = shared_from_this();
  if (old_parent != nullptr) {
    // Only this dentry's own entry goes: under RENAME_EXCHANGE the other
    // dentry may already have taken the name.
    absl::MutexLock l(&old_parent->mu_);
    auto it = old_parent->children_.find(old_name);
    if (it != old_parent->children_.end() && it->second == self) old_parent->children_.erase(it);
  }
  // A directory that caches nothing (/proc) has no entry to replace.
  if (!new_parent->CachesChildren()) return nullptr;
  std::shared_ptr<Dentry> displaced;
  {
    absl::MutexLock l(&new_parent->mu_);
    displaced = std::exchange(new_parent->children_[new_name], self);
  }
  return displaced == self ? nullptr : displaced;
}

std::shared_ptr<Dentry> Dentry::AddChild(std::string name, std::shared_ptr<Inode> inode) {
  auto child = std::make_shared<Dentry>(shared_from_this(), name, std::move(inode));
  absl::MutexLock l(&mu_);
  children_[std::move(name)] = child;
  return child;
}

void Dentry::Invalidate(std::string_view name) {
  std::shared_ptr<Dentry> old;
  {
    absl::MutexLock l(&mu_);
    auto it = children_.find(std::string(name));
    if (it == children_.end()) return;
    old = std::move(it->second);  // released after mu_ (its destructor may cascade)
    children_.erase(it);
  }
  // Its cached children hold it as their parent: drop them too, or the
  // detached subtree (a renamed or removed directory) would keep itself,
  // and its inodes' data, alive forever. Holders of the old dentry (a cwd,
  // an open file) keep working: lookups under it just ask the inode again.
  if (old != nullptr) old->ClearCache();
}

std::shared_ptr<Dentry> Dentry::CachedChild(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = children_.find(std::string(name));
  return it == children_.end() ? nullptr : it->second;
}

void Dentry::ClearCache() {
  absl::flat_hash_map<std::string, std::shared_ptr<Dentry>> children;
  {
    absl::MutexLock l(&mu_);
    children.swap(children_);
  }
  for (auto& [name, d] : children) {
    if (d != nullptr) d->ClearCache();
  }
}

Result<void> CheckPermission(const sentry::kernel::Credentials& creds, const struct stat& st, int may) {
  may &= kMayRead | kMayWrite | kMayExec;
  // acl_permission_check(): the owner's bits for the owner, else the group's
  // for a member, else the others'.
  uint32_t bits;
  if (creds.fsuid == st.st_uid) {
    bits = (st.st_mode >> 6) & 7;
  } else if (creds.InGroup(st.st_gid)) {
    bits = (st.st_mode >> 3) & 7;
  } else {
    bits = st.st_mode & 7;
  }
  if ((static_cast<uint32_t>(may) & ~bits) == 0) return {};
  // generic_permission() (fs/namei.c): capabilities override the mode.
  if (S_ISDIR(st.st_mode)) {
    if (!(may & kMayWrite) && creds.HasCap(CAP_DAC_READ_SEARCH)) return {};
    if (creds.HasCap(CAP_DAC_OVERRIDE)) return {};
    return Errno::kEACCES;
  }
  if (may == kMayRead && creds.HasCap(CAP_DAC_READ_SEARCH)) return {};
  // Executing needs at least one x bit even with CAP_DAC_OVERRIDE.
  if ((!(may & kMayExec) || (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) && creds.HasCap(CAP_DAC_OVERRIDE)) {
    return {};
  }
  return Errno::kEACCES;
}

uint32_t SetidBitsToDrop(const sentry::kernel::Credentials& creds, uint32_t mode, uint32_t gid) {
  if (!S_ISREG(mode) || !(mode & (S_ISUID | S_ISGID)) || creds.HasCap(CAP_FSETID)) return 0;
  uint32_t drop = mode & S_ISUID;
  if ((mode & S_ISGID) && ((mode & S_IXGRP) || !creds.InGroup(gid))) drop |= S_ISGID;
  return drop;
}

uint32_t SetidBitsToDropForCurrentTask(uint32_t mode, uint32_t gid) {
  const sentry::kernel::Task* t = sentry::kernel::Task::Current();
  return t == nullptr ? 0 : SetidBitsToDrop(t->creds(), mode, gid);
}

}  // namespace fs
