#include "fs/vfs.h"

#include <fcntl.h>
#include <fmt/format.h>

#include "fs/devpts.h"
#include "fs/filesystems.h"
#include "fs/host_file.h"
#include "fs/inotify.h"
#include "fs/overlay.h"
#include "fs/pipe.h"
#include "fs/synthetic.h"
#include "fs/tmpfs.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

const sentry::kernel::Credentials& KernelCreds() {
  static const sentry::kernel::Credentials root{};
  return root;
}

// An anonymous-inode file or socket reached through a magic link: stat
// sees the file; open is ENXIO (no_open()).
class NoReopen final : public Inode {
 public:
  explicit NoReopen(std::shared_ptr<FileDescription> f) : f_(std::move(f)) {}
  uint32_t mode() const override {
    Result<struct stat> st = f_->Stat();
    return st.ok() ? st.value().st_mode : 0600;
  }
  Result<struct stat> Stat(const Caller&) override { return f_->Stat(); }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path&, int) override { return Errno::kENXIO; }

 private:
  const std::shared_ptr<FileDescription> f_;
};

}  // namespace

Path MagicLinkTarget(const std::shared_ptr<FileDescription>& f, std::string name) {
  if (const Path* at = f->location(); at != nullptr) return *at;
  std::shared_ptr<Inode> inode = PipeReopenInode(*f);
  if (inode == nullptr) inode = MemfdReopenInode(*f);
  if (inode == nullptr) inode = HostReopenInodeOf(f);
  if (inode == nullptr) inode = std::make_shared<NoReopen>(f);
  return Path{nullptr, std::make_shared<Dentry>(nullptr, std::move(name), std::move(inode))};
}

Result<std::shared_ptr<Vfs>> Vfs::Create(std::unique_ptr<gofer::Client> root_client, VfsOptions opts) {
  if (root_client == nullptr) return Errno::kEINVAL;
  std::shared_ptr<gofer::Client> client(std::move(root_client));
  const bool gofer_rw = !opts.overlay_root && opts.root_writable;
  std::shared_ptr<Inode> root_inode = NewGoferRoot(std::move(client), gofer_rw, opts.memory_file);
  if (!root_inode->is_dir()) return Errno::kENOTDIR;
  FilesystemInfo root_info{"gofer", !gofer_rw};
  if (opts.overlay_root) {
    root_inode = TRY(NewOverlayRoot(std::move(root_inode), Tmpfs::NewRoot(01777, 0, 0, opts.memory_file)));
    root_info = FilesystemInfo{"overlay", false};
  }
  std::shared_ptr<Vfs> vfs(new Vfs());  // private constructor; owned at once
  vfs->memory_file_ = opts.memory_file;
  auto root_dentry = std::make_shared<Dentry>(nullptr, "/", std::move(root_inode));
  vfs->root_mount_ = std::make_shared<Mount>(std::move(root_info), root_dentry, nullptr, nullptr);
  const Path root = vfs->root();
  vfs->AddMount(root, "proc", FilesystemInfo{"proc", false}, NewProcfs());
  vfs->AddMount(root, "sys", FilesystemInfo{"sysfs", true}, NewSysfs());
  vfs->devpts_ = Devpts::Create(opts.devpts.value_or(DevptsOptions::ContainerDefault()));
  const Path dev = vfs->AddMount(root, "dev", FilesystemInfo{"devtmpfs", false}, NewDevfs(vfs->devpts_));
  vfs->AddMount(dev, "pts", FilesystemInfo{"devpts", false}, vfs->devpts_->root());
  if (opts.tmpfs_tmp || !opts.overlay_root) {
    vfs->AddMount(root, "tmp", FilesystemInfo{"tmpfs", false}, Tmpfs::NewRoot(01777, 0, 0, opts.memory_file));
  }
  vfs->AddMount(dev, "shm", FilesystemInfo{"tmpfs", false}, Tmpfs::NewRoot(01777, 0, 0, opts.memory_file));
  for (const auto& m : opts.mounts) TRY(vfs->MountExtra(m));
  return vfs;
}

Result<void> Vfs::SyncAll() {
  std::vector<std::shared_ptr<Mount>> all = Mounts();
  all.push_back(root_mount_);
  Result<void> r = base::Ok();
  for (const auto& m : all) {
    Result<void> one = m->root()->inode()->SyncFs();
    if (r.ok() && !one.ok()) r = one;
  }
  return r;
}

Vfs::~Vfs() {
  // Dentries hold their parents and cache their children: break the cycles.
  absl::flat_hash_map<const Dentry*, std::shared_ptr<Mount>> mounts;
  {
    absl::MutexLock l(&mu_);
    mounts.swap(mounts_);
  }
  for (auto& [d, m] : mounts) m->root()->ClearCache();
  if (root_mount_) root_mount_->root()->ClearCache();
}

Path Vfs::AddMount(const Path& at, std::string_view name, FilesystemInfo info, std::shared_ptr<Inode> root_inode) {
  const Caller kc{&KernelCreds()};
  Result<std::shared_ptr<Dentry>> existing = at.dentry->LookupChild(kc, name);
  std::shared_ptr<Dentry> mountpoint;
  // A directory on a directory, a file on a file (a bind-mounted file).
  if (existing.ok() && existing.value()->inode()->is_dir() == root_inode->is_dir() &&
      !existing.value()->inode()->is_symlink()) {
    mountpoint = std::move(existing).value();
  } else {
    // The host has no such directory: make one in the sentry's view only.
    mountpoint = at.dentry->AddChild(std::string(name), root_inode);
  }
  return AddMountDentry(Path{at.mount, mountpoint}, "", std::move(info),
                        std::make_shared<Dentry>(nullptr, "/", std::move(root_inode)));
}

Path Vfs::AddMountDentry(const Path& at, std::string_view name, FilesystemInfo info, std::shared_ptr<Dentry> root) {
  std::shared_ptr<Dentry> mountpoint = at.dentry;
  if (!name.empty()) {
    const Caller kc{&KernelCreds()};
    auto existing = at.dentry->LookupChild(kc, name);
    mountpoint = existing.ok() && existing.value()->inode()->is_dir() ? std::move(existing).value()
                                                                        : at.dentry->AddChild(std::string(name), root->inode());
  }
  auto mount = std::make_shared<Mount>(std::move(info), std::move(root), at.mount, mountpoint);
  Path mount_root{mount, mount->root()};
  {
    absl::MutexLock l(&mu_);
    mounts_[mountpoint.get()] = std::move(mount);
  }
  mountpoint->set_mounted();
  return mount_root;
}

std::vector<std::shared_ptr<Mount>> Vfs::Mounts() const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Mount>> out;
  for (const auto& [d, m] : mounts_) out.push_back(m);
  return out;
}

Result<std::shared_ptr<FsContext>> Vfs::NewFsContext(std::string_view cwd) {
  const Caller kc{&KernelCreds()};
  FsContext tmp(root(), root(), 022);
  Path p = TRY(Resolve(kc, tmp, root(), cwd.empty() ? "/" : cwd, ResolveOpts{.require_dir = true}));
  return std::make_shared<FsContext>(root(), std::move(p), 022);
}

Result<struct stat> Vfs::Stat(const Caller& c, const Path& p) { return p.dentry->inode()->Stat(c); }

Result<std::shared_ptr<FileDescription>> Vfs::OpenPath(const Caller& c, const Path& p, int flags) {
  const std::shared_ptr<Inode>& inode = p.dentry->inode();
  if (flags & O_PATH) {
    // Linux keeps only these for O_PATH (fs/open.c O_PATH_FLAGS).
    return std::shared_ptr<FileDescription>(
        std::make_shared<OPathFile>(p, inode, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW)));
  }
  if ((flags & O_CREAT) && inode->is_dir()) return Errno::kEISDIR;
  if ((flags & O_DIRECTORY) && !inode->is_dir()) return Errno::kENOTDIR;
  if (inode->is_symlink()) return Errno::kELOOP;  // O_NOFOLLOW on a final symlink
  int may = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: may = kMayRead; break;
    case O_WRONLY: may = kMayWrite; break;
    default: may = kMayRead | kMayWrite; break;  // O_RDWR and Linux's "3"
  }
  if (flags & O_TRUNC) may |= kMayWrite;
  if (inode->is_dir() && (may & kMayWrite)) return Errno::kEISDIR;
  // sb_permission() before generic_permission(): EROFS wins over EACCES;
  // devices stay writable on a read-only mount.
  if ((may & kMayWrite) && p.mount->read_only() && (inode->is_regular() || inode->is_dir())) return Errno::kEROFS;
  if ((may & kMayWrite) && exec_tracker_->Executing(inode.get())) return Errno::kETXTBSY;
  const struct stat st = TRY(inode->Stat(c));
  TRY(CheckPermission(*c.creds, st, may));
  // Linux clears these after open (fs/open.c do_dentry_open). Character
  // devices still see O_NOCTTY (terminals act on it, then drop it).
  const int noctty = S_ISCHR(inode->mode()) ? 0 : O_NOCTTY;
  std::shared_ptr<FileDescription> f = TRY(
      WithWriteAccess(inode->Open(c, p, flags & ~(O_CREAT | O_EXCL | noctty | O_TRUNC | O_CLOEXEC)), inode, flags));
  // handle_truncate(): after the open, regular files only.
  if ((flags & O_TRUNC) && inode->is_regular()) {
    SetAttrRequest req;
    req.size = 0;
    TRY(inode->SetAttr(c, req));
    inotify::AttrChanged(AttrTarget::Of(p), req);
  }
  return f;
}

Result<std::shared_ptr<FileDescription>> Vfs::OpenTmpFile(const Caller& c, FsContext& fs, const Path& start,
                                                          std::string_view path, int flags, uint32_t mode) {
  Path dir = TRY(Resolve(c, fs, start, path, ResolveOpts{.follow_final = true, .require_dir = true}));
  TRY(CheckWritableMount(dir));
  const struct stat st = TRY(dir.dentry->inode()->Stat(c));
  TRY(CheckPermission(*c.creds, st, kMayWrite | kMayExec));
  std::shared_ptr<Inode> inode = TRY(dir.dentry->inode()->TmpFile(c, mode & 07777 & ~fs.umask()));
  if (!(flags & O_EXCL)) {
    absl::MutexLock l(&linkable_mu_);
    for (auto it = linkable_.begin(); it != linkable_.end();) {
      if (it->second.expired()) {
        linkable_.erase(it++);
      } else {
        ++it;
      }
    }
    linkable_[inode.get()] = inode;
  }
  // The file's location is a dentry no directory lists (d_tmpfile): its
  // path reads "/dir/#<ino> (deleted)" in Linux; ours "/dir/#tmpfile".
  auto d = std::make_shared<Dentry>(dir.dentry, "#tmpfile", inode);
  return WithWriteAccess(
      inode->Open(c, Path{dir.mount, std::move(d)}, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC | O_TMPFILE)),
      inode, flags);
}

Result<std::shared_ptr<FileDescription>> Vfs::Open(const Caller& c, FsContext& fs, const Path& start,
                                                   std::string_view path, int flags, uint32_t mode,
                                                   unsigned resolve, int links) {
  if (path.empty()) return Errno::kENOENT;
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  if (flags & O_CREAT) {
    ParentAndName pn = TRY(ResolveParent(c, fs, start, path, resolve));
    if (pn.name.empty()) return Errno::kEISDIR;  // "/", "dir/.", ".."
    TRY(MaySearchDir(c, pn.parent));
    if (pn.name.size() > kNameMax) return Errno::kENAMETOOLONG;
    Result<std::shared_ptr<Dentry>> child = pn.parent.dentry->LookupChild(c, pn.name);
    if (!child.ok()) {
      if (child.error() != Errno::kENOENT) return child.error();
      if (pn.trailing_slash) return Errno::kEISDIR;  // open("missing/", O_CREAT)
      if (pn.parent.mount->read_only()) return Errno::kEROFS;
      const struct stat dst = TRY(pn.parent.dentry->inode()->Stat(c));
      TRY(CheckPermission(*c.creds, dst, kMayWrite | kMayExec));
      std::shared_ptr<Inode> inode =
          TRY(pn.parent.dentry->inode()->Create(c, pn.name, S_IFREG | (mode & 07777 & ~fs.umask())));
      pn.parent.dentry->Invalidate(pn.name);
      inotify::Created(*pn.parent.dentry, pn.name, false);
      Path created{pn.parent.mount, TRY(pn.parent.dentry->LookupChild(c, pn.name))};
      // A file we just created opens without a permission check (may_open
      // is skipped for FMODE_CREATED).
      return WithWriteAccess(inode->Open(c, created, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)),
                             inode, flags);
    }
    if (flags & O_EXCL) return Errno::kEEXIST;
    // Exists: open it like a plain open (symlinks followed), except that a
    // dangling symlink's target is created (open_last_lookups() follows the
    // link and retries the create there).
    const std::shared_ptr<Inode>& existing = child.value()->inode();
    if (existing->is_symlink() && !(flags & O_NOFOLLOW) && !existing->IsMagicLink()) {
      Result<Path> r = Resolve(c, fs, start, path,
                               ResolveOpts{.follow_final = true, .require_dir = (flags & O_DIRECTORY) != 0, .resolve = resolve});
      if (r.ok()) return OpenPath(c, r.value(), flags);
      if (r.error() != Errno::kENOENT) return r.error();
      if (++links > kMaxSymlinks) return Errno::kELOOP;
      const std::string target = TRY(existing->Readlink(c));
      if (target.empty()) return Errno::kENOENT;
      const Path next = target[0] == '/' ? ((resolve & kResolveInRoot) ? start : fs.root()) : pn.parent;
      return Open(c, fs, next, target, flags, mode, resolve, links);
    }
  }
  const bool follow = !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL));
  Path p = TRY(Resolve(c, fs, start, path, ResolveOpts{.follow_final = follow, .require_dir = (flags & O_DIRECTORY) != 0, .resolve = resolve}));
  return OpenPath(c, p, flags);
}

Result<void> Vfs::MaySearchDir(const Caller& c, const Path& dir) {
  if (!dir.dentry->inode()->is_dir()) return Errno::kENOTDIR;
  const struct stat st = TRY(dir.dentry->inode()->Stat(c));
  return CheckPermission(*c.creds, st, kMayExec);
}

namespace {

// A running program's mapping: the file counts as executing while any
// mapping made from it lives (the loader's VMAs hold it). It knows the file
// it came from (ExecTarget: /proc/<pid>/exe).
class ExecMappable final : public sentry::mm::MappableFile {
 public:
  // The tracker's Add for `inode` already succeeded; this gives it back. No
  // tracker: a file outside the tree (a memfd), which nothing tracks.
  ExecMappable(std::shared_ptr<sentry::mm::MappableFile> inner, std::shared_ptr<Inode> inode,
               std::shared_ptr<Vfs::ExecTracker> tracker, Path target)
      : inner_(std::move(inner)), inode_(std::move(inode)), tracker_(std::move(tracker)), target_(std::move(target)) {}
  ~ExecMappable() override {
    if (tracker_ != nullptr) tracker_->Remove(inode_.get());
  }
  const Path& target() const { return target_; }
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override { return inner_->ReadAt(buf, off); }
  std::string MapsName() const override { return inner_->MapsName(); }
  uint32_t MapsDevMajor() const override { return inner_->MapsDevMajor(); }
  uint32_t MapsDevMinor() const override { return inner_->MapsDevMinor(); }
  uint64_t MapsInode() const override { return inner_->MapsInode(); }
  std::optional<ContentKey> CacheKey() override { return inner_->CacheKey(); }

 private:
  std::shared_ptr<sentry::mm::MappableFile> inner_;
  std::shared_ptr<Inode> inode_;
  std::shared_ptr<Vfs::ExecTracker> tracker_;
  const Path target_;
};

}  // namespace

std::optional<Path> ExecTarget(const sentry::mm::MappableFile& m) {
  const auto* e = dynamic_cast<const ExecMappable*>(&m);
  if (e == nullptr) return std::nullopt;
  return e->target();
}

Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> Vfs::OpenForExec(
    FsContext& fs, std::string_view path, const sentry::kernel::Credentials& creds) {
  const Caller c{&creds, nullptr, nullptr, &fs};
  const Path start = (!path.empty() && path[0] == '/') ? fs.root() : fs.cwd();
  Path p = TRY(Resolve(c, fs, start, path));
  return OpenForExecAt(fs, p, creds);
}

Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> Vfs::OpenForExecAt(
    FsContext& fs, const Path& p, const sentry::kernel::Credentials& creds) {
  const Caller c{&creds, nullptr, nullptr, &fs};
  const std::shared_ptr<Inode>& inode = p.dentry->inode();
  if (inode->is_symlink()) return Errno::kELOOP;  // not followed: AT_SYMLINK_NOFOLLOW
  if (!inode->is_regular()) return Errno::kEACCES;
  if (p.mount->info().noexec) return Errno::kEACCES;  // do_open_execat: path_noexec()
  const struct stat st = TRY(inode->Stat(c));
  TRY(CheckPermission(creds, st, kMayExec));
  std::shared_ptr<FileDescription> f = TRY(inode->Open(c, p, O_RDONLY));
  std::shared_ptr<sentry::mm::MappableFile> m = TRY(f->Mappable());
  // deny_write_access(): ETXTBSY while the file is open for writing.
  if (!exec_tracker_->Add(inode.get())) return Errno::kETXTBSY;
  return std::make_pair(std::shared_ptr<sentry::mm::MappableFile>(
                            std::make_shared<ExecMappable>(std::move(m), inode, exec_tracker_, p)),
                        PathString(fs.root(), p));
}

Result<std::pair<std::shared_ptr<sentry::mm::MappableFile>, std::string>> Vfs::OpenFileForExec(
    FsContext& fs, const std::shared_ptr<FileDescription>& f, const sentry::kernel::Credentials& creds) {
  // do_open_execat(fd, "", AT_EMPTY_PATH) opens the fd's file anew, so an
  // O_PATH fd works and the fd's own access mode does not matter.
  if (const Path* p = f->location(); p != nullptr) return OpenForExecAt(fs, *p, creds);
  // A file outside the tree (a memfd: no name to open it by again, and no
  // write access held, as alloc_file_pseudo's files): its own pages.
  const struct stat st = TRY(f->Stat());
  if (!S_ISREG(st.st_mode)) return Errno::kEACCES;
  TRY(CheckPermission(creds, st, kMayExec));
  std::shared_ptr<sentry::mm::MappableFile> m = TRY(f->Mappable());
  std::string path = f->Path();
  Path target = MagicLinkTarget(f, path);
  return std::make_pair(std::shared_ptr<sentry::mm::MappableFile>(std::make_shared<ExecMappable>(
                            std::move(m), target.dentry->inode(), nullptr, std::move(target))),
                        std::move(path));
}

Result<std::shared_ptr<FileDescription>> Vfs::WithWriteAccess(Result<std::shared_ptr<FileDescription>> f,
                                                               const std::shared_ptr<Inode>& inode, int flags) {
  if (!f.ok() || !inode->is_regular() || (flags & O_PATH) || (flags & O_ACCMODE) == O_RDONLY) return f;
  if (!exec_tracker_->AddWriter(inode.get())) return Errno::kETXTBSY;
  std::shared_ptr<ExecTracker> tracker = exec_tracker_;
  f.value()->write_access = std::shared_ptr<void>(nullptr, [tracker, inode](void*) { tracker->RemoveWriter(inode.get()); });
  return f;
}

bool Vfs::ExecTracker::Add(const Inode* i) {
  absl::MutexLock l(&mu_);
  if (writers_.contains(i)) return false;
  ++count_[i];
  return true;
}

bool Vfs::ExecTracker::AddWriter(const Inode* i) {
  absl::MutexLock l(&mu_);
  if (count_.contains(i)) return false;
  ++writers_[i];
  return true;
}

void Vfs::ExecTracker::RemoveWriter(const Inode* i) {
  absl::MutexLock l(&mu_);
  auto it = writers_.find(i);
  if (it != writers_.end() && --it->second == 0) writers_.erase(it);
}

void Vfs::ExecTracker::Remove(const Inode* i) {
  absl::MutexLock l(&mu_);
  auto it = count_.find(i);
  if (it != count_.end() && --it->second == 0) count_.erase(it);
}

bool Vfs::ExecTracker::Executing(const Inode* i) {
  absl::MutexLock l(&mu_);
  return count_.contains(i);
}

Result<std::string> Vfs::LookPath(FsContext& fs, std::string_view name, std::string_view path_env) {
  return LookPath(fs, name, path_env, KernelCreds());
}

Result<std::string> Vfs::LookPath(FsContext& fs, std::string_view name, std::string_view path_env,
                                  const sentry::kernel::Credentials& creds) {
  if (name.empty()) return Errno::kENOENT;
  if (name.find('/') != std::string_view::npos) return std::string(name);
  if (name.size() > kNameMax) return Errno::kENAMETOOLONG;
  const Caller c{&creds, nullptr, nullptr, &fs};
  bool saw_eacces = false;
  size_t i = 0;
  while (true) {
    const size_t colon = path_env.find(':', i);
    std::string_view dir = path_env.substr(i, colon == std::string_view::npos ? std::string_view::npos : colon - i);
    std::string candidate = dir.empty() ? std::string(name) : fmt::format("{}/{}", dir, name);
    const Path start = candidate[0] == '/' ? fs.root() : fs.cwd();
    Result<Path> p = Resolve(c, fs, start, candidate);
    if (p.ok()) {
      const std::shared_ptr<Inode>& inode = p.value().dentry->inode();
      Result<struct stat> st = inode->Stat(c);
      if (st.ok() && inode->is_regular() && CheckPermission(creds, st.value(), kMayExec).ok()) {
        return dir.empty() ? "./" + std::string(name) : candidate;
      }
      saw_eacces = true;
    } else if (p.error() == Errno::kEACCES) {
      saw_eacces = true;
    }
    if (colon == std::string_view::npos) break;
    i = colon + 1;
  }
  return saw_eacces ? Errno::kEACCES : Errno::kENOENT;
}

}  // namespace fs
