// Namespace and attribute changes: the checks of Linux's fs/namei.c
// (filename_create, may_create, may_delete, do_renameat2, do_linkat) and
// fs/open.c / fs/attr.c (chmod_common, chown_common, do_truncate,
// utimes_common), in Linux's order, before the filesystem does the work.
// After a change the dentry cache forgets the names involved.
#include <fcntl.h>

#include "fs/inotify.h"
#include "fs/synthetic.h"
#include "fs/vfs.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

// The last component of `path` as written ("" for "/"), trailing slashes
// dropped: "." and ".." are special for every mutation.
std::string_view LastComponent(std::string_view path) {
  size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') --end;
  const size_t slash = path.rfind('/', end == 0 ? 0 : end - 1);
  if (end == 0) return "";
  return slash == std::string_view::npos ? path.substr(0, end) : path.substr(slash + 1, end - slash - 1);
}

bool IsDots(std::string_view n) { return n == "." || n == ".."; }

bool InGroup(const sentry::kernel::Credentials& cr, uint32_t gid) { return cr.InGroup(gid); }

// inode_owner_or_capable(): the owner, or CAP_FOWNER.
bool OwnerOrCapable(const sentry::kernel::Credentials& cr, const struct stat& st) {
  return cr.fsuid == st.st_uid || cr.HasCap(CAP_FOWNER);
}

}  // namespace

Result<void> Vfs::CheckWritableMount(const Path& p) {
  if (p.mount->read_only()) return Errno::kEROFS;
  return {};
}

Result<AttrTarget> AttrTarget::Of(const FileDescription& f) {
  if (f.flags() & O_PATH) return Errno::kEBADF;
  if (const Path* loc = f.location()) return Of(*loc);
  if (const auto* vf = dynamic_cast<const VfsFile*>(&f)) return AttrTarget{vf->inode(), false, nullptr};
  return Errno::kEPERM;
}

bool Vfs::Busy(const Path& dir, const std::shared_ptr<Dentry>& d) const {
  return d->mounted() || d == dir.mount->root();
}

Result<void> Vfs::MayDelete(const Caller& c, const Path& dir, Inode& victim) {
  const struct stat dst = TRY(dir.dentry->inode()->Stat(c));
  TRY(CheckPermission(*c.creds, dst, kMayWrite | kMayExec));
  if ((dst.st_mode & S_ISVTX) && !c.creds->HasCap(CAP_FOWNER)) {
    // check_sticky().
    const struct stat vst = TRY(victim.Stat(c));
    if (vst.st_uid != c.creds->fsuid && dst.st_uid != c.creds->fsuid) return Errno::kEPERM;
  }
  return {};
}

Result<ParentAndName> Vfs::PrepareCreate(const Caller& c, int dirfd, std::string_view path, bool want_dir) {
  if (path.empty()) return Errno::kENOENT;
  const Path start = TRY(StartFor(c, *c.fs, dirfd, path));
  ParentAndName pn = TRY(ResolveParent(c, *c.fs, start, path));
  if (IsDots(LastComponent(path)) || pn.name.empty()) return Errno::kEEXIST;
  TRY(MaySearchDir(c, pn.parent));
  if (pn.name.size() > kNameMax) return Errno::kENAMETOOLONG;
  Result<std::shared_ptr<Dentry>> existing = pn.parent.dentry->LookupChild(c, pn.name);
  if (existing.ok()) return Errno::kEEXIST;
  if (existing.error() != Errno::kENOENT) return existing.error();
  // "newname/" names a directory: only mkdir may create it.
  if (pn.trailing_slash && !want_dir) return Errno::kENOENT;
  TRY(CheckWritableMount(pn.parent));
  const struct stat dst = TRY(pn.parent.dentry->inode()->Stat(c));
  TRY(CheckPermission(*c.creds, dst, kMayWrite | kMayExec));
  return pn;
}

Result<Vfs::Victim> Vfs::PrepareDelete(const Caller& c, int dirfd, std::string_view path, bool want_dir) {
  if (path.empty()) return Errno::kENOENT;
  const Path start = TRY(StartFor(c, *c.fs, dirfd, path));
  ParentAndName pn = TRY(ResolveParent(c, *c.fs, start, path));
  const std::string_view last = LastComponent(path);
  if (want_dir) {
    // do_rmdir: "." is EINVAL, ".." ENOTEMPTY, "/" EBUSY.
    if (last == ".") return Errno::kEINVAL;
    if (last == "..") return Errno::kENOTEMPTY;
    if (pn.name.empty()) return Errno::kEBUSY;
  } else if (IsDots(last) || pn.name.empty()) {
    return Errno::kEISDIR;
  }
  TRY(MaySearchDir(c, pn.parent));
  if (pn.name.size() > kNameMax) return Errno::kENAMETOOLONG;
  TRY(CheckWritableMount(pn.parent));
  std::shared_ptr<Dentry> d = TRY(pn.parent.dentry->LookupChild(c, pn.name));
  Inode& victim = *d->inode();
  if (want_dir) {
    if (!victim.is_dir()) return Errno::kENOTDIR;
  } else {
    if (pn.trailing_slash) return victim.is_dir() ? Errno::kEISDIR : Errno::kENOTDIR;
  }
  TRY(MayDelete(c, pn.parent, victim));
  if (!want_dir && victim.is_dir()) return Errno::kEISDIR;
  if (Busy(pn.parent, d)) return Errno::kEBUSY;
  return Victim{pn.parent, pn.name, std::move(d)};
}

Result<void> Vfs::Mkdir(const Caller& c, int dirfd, std::string_view path, uint32_t mode) {
  ParentAndName pn = TRY(PrepareCreate(c, dirfd, path, true));
  TRY(pn.parent.dentry->inode()->Mkdir(c, pn.name, mode & 07777 & ~c.fs->umask()));
  pn.parent.dentry->Invalidate(pn.name);
  inotify::Created(*pn.parent.dentry, pn.name, true);
  return {};
}

Result<void> Vfs::Mknod(const Caller& c, int dirfd, std::string_view path, uint32_t mode, dev_t /*dev*/) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  switch (type) {
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK: break;
    case S_IFCHR:
    case S_IFBLK:
      if (!c.creds->HasCap(CAP_MKNOD)) return Errno::kEPERM;
      break;
    case S_IFDIR: return Errno::kEPERM;  // may_mknod() (fs/namei.c)
    default: return Errno::kEINVAL;
  }
  ParentAndName pn = TRY(PrepareCreate(c, dirfd, path, false));
  // Devices would reach host hardware semantics we do not emulate. FIFOs
  // are pipes (fs/pipe.h); a socket node is a name that opens with ENXIO
  // (what bind(2) would leave).
  if (type == S_IFIFO || type == S_IFSOCK) {
    TRY(pn.parent.dentry->inode()->Mknod(c, pn.name, type | (mode & 07777 & ~c.fs->umask()), 0));
  } else if (type != S_IFREG) {
    return Errno::kEPERM;
  } else {
    TRY(pn.parent.dentry->inode()->Create(c, pn.name, mode & 07777 & ~c.fs->umask()));
  }
  pn.parent.dentry->Invalidate(pn.name);
  inotify::Created(*pn.parent.dentry, pn.name, false);
  return {};
}

Result<void> Vfs::Symlink(const Caller& c, std::string_view target, int dirfd, std::string_view path) {
  if (target.empty()) return Errno::kENOENT;
  ParentAndName pn = TRY(PrepareCreate(c, dirfd, path, false));
  TRY(pn.parent.dentry->inode()->Symlink(c, pn.name, target));
  pn.parent.dentry->Invalidate(pn.name);
  inotify::Created(*pn.parent.dentry, pn.name, false);
  return {};
}

Result<void> Vfs::Link(const Caller& c, const Path& old, int newdirfd, std::string_view newpath) {
  ParentAndName pn = TRY(PrepareCreate(c, newdirfd, newpath, false));
  if (old.mount != pn.parent.mount) return Errno::kEXDEV;
  const std::shared_ptr<Inode>& target = old.dentry->inode();
  if (target->is_dir()) return Errno::kEPERM;
  // vfs_link(): a file without names (reached through /proc/<pid>/fd) gets
  // one only if it is an O_TMPFILE file opened without O_EXCL, and once.
  const struct stat st = TRY(target->Stat(c));
  bool was_linkable = false;
  if (st.st_nlink == 0) {
    absl::MutexLock l(&linkable_mu_);
    auto it = linkable_.find(target.get());
    if (it == linkable_.end() || it->second.lock() != target) return Errno::kENOENT;
    linkable_.erase(it);
    was_linkable = true;
  }
  Result<void> linked = pn.parent.dentry->inode()->Link(c, pn.name, target);
  if (!linked.ok()) {
    if (was_linkable) {
      absl::MutexLock l(&linkable_mu_);
      linkable_[target.get()] = target;
    }
    return linked.error();
  }
  pn.parent.dentry->Invalidate(pn.name);
  inotify::Linked(*pn.parent.dentry, pn.name, *target);
  return {};
}

Result<void> Vfs::Unlink(const Caller& c, int dirfd, std::string_view path) {
  Victim v = TRY(PrepareDelete(c, dirfd, path, false));
  TRY(v.parent.dentry->inode()->Unlink(c, v.name));
  v.parent.dentry->Invalidate(v.name);
  inotify::Removed(c, *v.parent.dentry, v.name, *v.dentry->inode());
  return {};
}

Result<void> Vfs::Rmdir(const Caller& c, int dirfd, std::string_view path) {
  Victim v = TRY(PrepareDelete(c, dirfd, path, true));
  TRY(v.parent.dentry->inode()->Rmdir(c, v.name));
  v.parent.dentry->Invalidate(v.name);
  v.dentry->ClearCache();
  inotify::Removed(c, *v.parent.dentry, v.name, *v.dentry->inode());
  return {};
}

Result<void> Vfs::Rename(const Caller& c, int olddirfd, std::string_view oldpath, int newdirfd,
                         std::string_view newpath, unsigned flags) {
  if (flags & ~(kRenameNoreplace | kRenameExchange | kRenameWhiteout)) return Errno::kEINVAL;
  if ((flags & kRenameExchange) && (flags & (kRenameNoreplace | kRenameWhiteout))) return Errno::kEINVAL;
  // RENAME_WHITEOUT needs CAP_MKNOD and is for overlay internals.
  if (flags & kRenameWhiteout) return Errno::kEINVAL;
  if (oldpath.empty() || newpath.empty()) return Errno::kENOENT;
  const Path ostart = TRY(StartFor(c, *c.fs, olddirfd, oldpath));
  ParentAndName op = TRY(ResolveParent(c, *c.fs, ostart, oldpath));
  const Path nstart = TRY(StartFor(c, *c.fs, newdirfd, newpath));
  ParentAndName np = TRY(ResolveParent(c, *c.fs, nstart, newpath));
  if (op.parent.mount != np.parent.mount) return Errno::kEXDEV;
  if (IsDots(LastComponent(oldpath)) || op.name.empty()) return Errno::kEBUSY;
  if (IsDots(LastComponent(newpath)) || np.name.empty()) {
    return (flags & kRenameNoreplace) ? Errno::kEEXIST : Errno::kEBUSY;
  }
  TRY(MaySearchDir(c, op.parent));
  TRY(MaySearchDir(c, np.parent));
  if (op.name.size() > kNameMax || np.name.size() > kNameMax) return Errno::kENAMETOOLONG;
  TRY(CheckWritableMount(op.parent));
  std::shared_ptr<Dentry> src = TRY(op.parent.dentry->LookupChild(c, op.name));
  const bool src_dir = src->inode()->is_dir();
  if (!src_dir && (op.trailing_slash || (np.trailing_slash && !(flags & kRenameExchange)))) return Errno::kENOTDIR;
  Result<std::shared_ptr<Dentry>> dst_r = np.parent.dentry->LookupChild(c, np.name);
  if (!dst_r.ok() && dst_r.error() != Errno::kENOENT) return dst_r.error();
  std::shared_ptr<Dentry> dst = dst_r.ok() ? std::move(dst_r).value() : nullptr;
  if ((flags & kRenameNoreplace) && dst != nullptr) return Errno::kEEXIST;
  if ((flags & kRenameExchange) && dst == nullptr) return Errno::kENOENT;
  if ((flags & kRenameExchange) && dst != nullptr && !dst->inode()->is_dir() && np.trailing_slash) {
    return Errno::kENOTDIR;
  }
  // lock_rename(): the source must not be an ancestor of the new parent
  // (EINVAL), nor the target an ancestor of the old parent (ENOTEMPTY).
  for (std::shared_ptr<Dentry> d = np.parent.dentry; d != nullptr; d = d->parent()) {
    if (d == src) return Errno::kEINVAL;
  }
  if (dst != nullptr) {
    for (std::shared_ptr<Dentry> d = op.parent.dentry; d != nullptr; d = d->parent()) {
      if (d == dst) return (flags & kRenameExchange) ? Errno::kEINVAL : Errno::kENOTEMPTY;
    }
  }
  if (dst != nullptr && dst->inode() == src->inode()) return {};  // same file: nothing to do
  TRY(MayDelete(c, op.parent, *src->inode()));
  if (dst != nullptr) {
    TRY(MayDelete(c, np.parent, *dst->inode()));
    if (!(flags & kRenameExchange)) {
      if (src_dir && !dst->inode()->is_dir()) return Errno::kENOTDIR;
      if (!src_dir && dst->inode()->is_dir()) return Errno::kEISDIR;
    }
  } else {
    const struct stat dst_st = TRY(np.parent.dentry->inode()->Stat(c));
    TRY(CheckPermission(*c.creds, dst_st, kMayWrite | kMayExec));
  }
  // A directory moving to a new parent rewrites its "..": Linux wants write
  // permission on it (vfs_rename).
  if (src_dir && op.parent.dentry != np.parent.dentry) {
    const struct stat sst = TRY(src->inode()->Stat(c));
    TRY(CheckPermission(*c.creds, sst, kMayWrite));
  }
  if (Busy(op.parent, src) || (dst != nullptr && Busy(np.parent, dst))) return Errno::kEBUSY;
  TRY(op.parent.dentry->inode()->Rename(c, op.name, *np.parent.dentry->inode(), np.name, flags));
  // d_move: the dentries take their new places, so a cwd or an open file
  // at or below them shows the new path (getcwd, /proc/<pid>/cwd, fd links).
  std::shared_ptr<Dentry> displaced = src->MoveTo(np.parent.dentry, np.name);
  if (flags & kRenameExchange) {
    dst->MoveTo(op.parent.dentry, op.name);
  } else if (displaced != nullptr) {
    displaced->ClearCache();  // the replaced target (see Dentry::Invalidate)
  }
  inotify::Renamed(c, *op.parent.dentry, op.name, *np.parent.dentry, np.name, *src->inode(),
                   (flags & kRenameExchange) || dst == nullptr ? nullptr : dst->inode().get());
  if (flags & kRenameExchange) {
    inotify::Renamed(c, *np.parent.dentry, np.name, *op.parent.dentry, op.name, *dst->inode(), nullptr);
  }
  return {};
}

Result<void> Vfs::Chmod(const Caller& c, const AttrTarget& p, uint32_t mode) {
  TRY(CheckWritableMount(p));
  const struct stat st = TRY(p.inode->Stat(c));
  const auto& cr = *c.creds;
  if (!OwnerOrCapable(cr, st)) return Errno::kEPERM;
  mode &= 07777;
  // Linux (setattr_copy): outside the group and without CAP_FSETID, S_ISGID goes.
  if (!InGroup(cr, st.st_gid) && !cr.HasCap(CAP_FSETID)) mode &= ~S_ISGID;
  SetAttrRequest req;
  req.mode = mode;
  TRY(p.inode->SetAttr(c, req));
  inotify::AttrChanged(p, req);
  return {};
}

Result<void> Vfs::Chown(const Caller& c, const AttrTarget& p, uint32_t uid, uint32_t gid) {
  TRY(CheckWritableMount(p));
  const struct stat st = TRY(p.inode->Stat(c));
  const auto& cr = *c.creds;
  constexpr uint32_t kKeep = static_cast<uint32_t>(-1);
  if (!cr.HasCap(CAP_CHOWN)) {
    // chown_ok / chgrp_ok (fs/attr.c): owner may "change" uid to itself and
    // gid to one of its groups.
    if (uid != kKeep && !(uid == st.st_uid && cr.fsuid == st.st_uid)) return Errno::kEPERM;
    if (gid != kKeep && !(cr.fsuid == st.st_uid && (gid == st.st_gid || InGroup(cr, gid)))) return Errno::kEPERM;
  }
  SetAttrRequest req;
  if (uid != kKeep) req.uid = uid;
  if (gid != kKeep) req.gid = gid;
  // chown_common (fs/open.c): any chown of a non-directory, even to -1/-1
  // and by root, clears setuid, and setgid as setattr_should_drop_sgid says
  // (group-exec set, or outside the group without CAP_FSETID). The mode
  // change then needs the owner or CAP_FOWNER (setattr_prepare).
  if (!S_ISDIR(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID))) {
    uint32_t m = st.st_mode & 07777;
    m &= ~S_ISUID;
    if ((m & S_ISGID) && ((m & S_IXGRP) || (!InGroup(cr, st.st_gid) && !cr.HasCap(CAP_FSETID)))) m &= ~S_ISGID;
    if (m != (st.st_mode & 07777)) {
      if (!OwnerOrCapable(cr, st)) return Errno::kEPERM;
      req.mode = m;
    }
  }
  TRY(p.inode->SetAttr(c, req));
  inotify::AttrChanged(p, req);
  return {};
}

Result<void> Vfs::Truncate(const Caller& c, const AttrTarget& p, uint64_t size, bool check_write) {
  const auto& inode = p.inode;
  if (inode->is_dir()) return Errno::kEISDIR;
  if (!inode->is_regular()) return Errno::kEINVAL;
  if (check_write) {
    TRY(CheckWritableMount(p));
    const struct stat st = TRY(inode->Stat(c));
    TRY(CheckPermission(*c.creds, st, kMayWrite));
  }
  if (size > static_cast<uint64_t>(INT64_MAX)) return Errno::kEINVAL;
  SetAttrRequest req;
  req.size = size;
  // do_truncate: dentry_needs_remove_privs, as a write (SetidBitsToDrop).
  if (const uint32_t mode = inode->mode(); mode & (S_ISUID | S_ISGID)) [[unlikely]] {
    const struct stat st = TRY(inode->Stat(c));
    const uint32_t st_mode = static_cast<uint32_t>(st.st_mode);
    if (const uint32_t drop = SetidBitsToDrop(*c.creds, st_mode, st.st_gid); drop != 0) req.mode = st_mode & 07777 & ~drop;
  }
  TRY(inode->SetAttr(c, req));
  inotify::AttrChanged(p, req);
  return {};
}

Result<void> Vfs::Utimes(const Caller& c, const AttrTarget& p, std::optional<struct timespec> atime,
                         std::optional<struct timespec> mtime) {
  if (!atime && !mtime) return {};  // both UTIME_OMIT: nothing, not even checks
  TRY(CheckWritableMount(p));
  const struct stat st = TRY(p.inode->Stat(c));
  const auto& cr = *c.creds;
  const bool owner = OwnerOrCapable(cr, st);
  const bool only_now = (!atime || atime->tv_nsec == UTIME_NOW) && (!mtime || mtime->tv_nsec == UTIME_NOW);
  if (!owner) {
    if (!only_now) return Errno::kEPERM;
    TRY(CheckPermission(cr, st, kMayWrite));
  }
  const struct timespec now = Now();
  SetAttrRequest req;
  if (atime) req.atime = atime->tv_nsec == UTIME_NOW ? now : *atime;
  if (mtime) req.mtime = mtime->tv_nsec == UTIME_NOW ? now : *mtime;
  TRY(p.inode->SetAttr(c, req));
  inotify::AttrChanged(p, req);
  return {};
}

Result<struct statfs> Vfs::Statfs(const Caller& c, const AttrTarget& p) {
  struct statfs st = TRY(p.inode->Statfs(c));
  constexpr long kStRdonly = 1, kStValid = 0x20;  // include/linux/statfs.h
  if (p.read_only_mount) st.f_flags |= kStRdonly;
  st.f_flags |= kStValid;
  return st;
}

}  // namespace fs
