#include "fs/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>

#include <atomic>

#include <fmt/format.h>

#include "absl/container/flat_hash_set.h"
#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

constexpr std::string_view kOpaqueXattr = "trusted.overlay.opaque";
constexpr std::string_view kOriginXattr = "trusted.overlay.origin";
constexpr std::string_view kPrivatePrefix = "trusted.overlay.";

const sentry::kernel::Credentials& KernelCreds() {
  static const sentry::kernel::Credentials root{};
  return root;
}
Caller KernelCaller() { return Caller{&KernelCreds()}; }

bool IsWhiteout(Inode& i) {
  if (!S_ISCHR(i.mode())) return false;
  Result<struct stat> st = i.Stat(KernelCaller());
  return st.ok() && st.value().st_rdev == 0;
}

bool IsOpaque(Inode& dir) {
  Result<std::string> v = dir.GetXattr(KernelCaller(), kOpaqueXattr);
  return v.ok() && v.value() == "y";
}

class OverlayFs {
 public:
  explicit OverlayFs(std::shared_ptr<Inode> lower_root) : lower_root_(std::move(lower_root)) {}
  absl::Mutex mu_;
  const std::shared_ptr<Inode> lower_root_;  // for statfs
};

class OverlayInode final : public Inode {
 public:
  OverlayInode(std::shared_ptr<OverlayFs> fs, std::shared_ptr<OverlayInode> parent, std::string name,
               std::shared_ptr<Inode> lower, std::shared_ptr<Inode> upper)
      : fs_(std::move(fs)), type_((upper ? upper : lower)->mode() & S_IFMT), lower_(std::move(lower)),
        parent_(std::move(parent)), name_(std::move(name)), upper_raw_(upper.get()), upper_(std::move(upper)) {}

  // Lock-free: the upper is set once (copy-up) and kept for the inode's
  // life, so its raw pointer stays valid (path walks ask every component).
  uint32_t mode() const override {
    const Inode* u = upper_raw_.load(std::memory_order_acquire);
    return (u != nullptr ? u : lower_.get())->mode();
  }
  uint32_t type() const override { return type_; }

  Result<struct stat> Stat(const Caller& c) override {
    std::shared_ptr<Inode> upper = upper_snapshot();
    if (upper == nullptr) return lower_->Stat(c);
    struct stat st = TRY(upper->Stat(c));
    Result<std::string> origin = upper->GetXattr(KernelCaller(), kOriginXattr);
    if (origin.ok()) {
      unsigned long long dev = 0, ino = 0;
      if (sscanf(origin.value().c_str(), "%llu:%llu", &dev, &ino) == 2) {
        st.st_dev = dev;
        st.st_ino = ino;
      }
    }
    return st;
  }

  // ovl_getattr asks the real inode: the upper one once copied up.
  std::optional<struct timespec> BirthTime() override { return Top()->BirthTime(); }

  Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name) override {
    absl::MutexLock l(&fs_->mu_);
    std::shared_ptr<OverlayInode> child = TRY(LookupLocked(c, name));
    return std::shared_ptr<Inode>(std::move(child));
  }

  Result<std::string> Readlink(const Caller& c) override { return Top()->Readlink(c); }

  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    if (type_ == S_IFDIR) {
      std::vector<DirEntry> entries;
      {
        absl::MutexLock l(&fs_->mu_);
        entries = TRY(ReadDirLocked(c));
      }
      const struct stat st = TRY(Stat(c));
      entries.insert(entries.begin(), {DirEntry{".", st.st_ino, DT_DIR}, DirEntry{"..", st.st_ino, DT_DIR}});
      return std::shared_ptr<FileDescription>(
          std::make_shared<DirListFile>(at, shared_from_this(), flags, std::move(entries)));
    }
    if (type_ == S_IFREG && (flags & O_ACCMODE) != O_RDONLY) {
      absl::MutexLock l(&fs_->mu_);
      TRY(CopyUpLocked());
    }
    std::shared_ptr<Inode> upper = upper_snapshot();
    if (upper != nullptr) {
      if (auto t = std::dynamic_pointer_cast<TmpfsInode>(upper)) return t->OpenAs(at, flags, shared_from_this());
      return upper->Open(c, at, flags);
    }
    return lower_->Open(c, at, flags);
  }

  Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode) override {
    return MakeChild(c, name, [&](Inode& up) { return up.Create(c, name, mode); });
  }
  Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode) override {
    return MakeChild(c, name, [&](Inode& up) { return up.Mkdir(c, name, mode); });
  }
  Result<std::shared_ptr<Inode>> Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev) override {
    return MakeChild(c, name, [&](Inode& up) { return up.Mknod(c, name, mode, rdev); });
  }
  Result<std::shared_ptr<Inode>> Symlink(const Caller& c, std::string_view name, std::string_view target) override {
    return MakeChild(c, name, [&](Inode& up) { return up.Symlink(c, name, target); });
  }

  Result<std::shared_ptr<Inode>> TmpFile(const Caller& c, uint32_t mode) override {
    absl::MutexLock l(&fs_->mu_);
    TRY(CopyUpLocked());
    std::shared_ptr<Inode> up = TRY(upper_snapshot()->TmpFile(c, mode));
    auto self = std::static_pointer_cast<OverlayInode>(shared_from_this());
    return std::shared_ptr<Inode>(std::make_shared<OverlayInode>(fs_, self, "", nullptr, std::move(up)));
  }

  Result<void> Link(const Caller& c, std::string_view name, const std::shared_ptr<Inode>& target) override {
    auto t = std::dynamic_pointer_cast<OverlayInode>(target);
    if (t == nullptr || t->fs_ != fs_) return Errno::kEXDEV;
    absl::MutexLock l(&fs_->mu_);
    TRY(CheckFreeLocked(c, name));
    TRY(t->CopyUpLocked());
    TRY(CopyUpLocked());
    const bool whiteout = TRY(RemoveWhiteoutLocked(name));
    (void)whiteout;
    TRY(upper_snapshot()->Link(c, name, t->upper_snapshot()));
    children_.erase(std::string(name));
    return {};
  }

  Result<void> Unlink(const Caller& c, std::string_view name) override {
    absl::MutexLock l(&fs_->mu_);
    std::shared_ptr<OverlayInode> child = TRY(LookupLocked(c, name));
    if (child->type_ == S_IFDIR) return Errno::kEISDIR;
    return RemoveLocked(c, name, *child);
  }

  Result<void> Rmdir(const Caller& c, std::string_view name) override {
    absl::MutexLock l(&fs_->mu_);
    std::shared_ptr<OverlayInode> child = TRY(LookupLocked(c, name));
    if (child->type_ != S_IFDIR) return Errno::kENOTDIR;
    TRY(child->CheckEmptyAndClearLocked(c));
    return RemoveLocked(c, name, *child);
  }

  Result<void> Rename(const Caller& c, std::string_view old_name, Inode& new_dir_inode, std::string_view new_name,
                      unsigned flags) override;

  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override {
    absl::MutexLock l(&fs_->mu_);
    TRY(CopyUpLocked());
    return upper_snapshot()->SetAttr(c, req);
  }

  Result<std::vector<DirEntry>> ReadDir(const Caller& c) override {
    absl::MutexLock l(&fs_->mu_);
    return ReadDirLocked(c);
  }

  Result<struct statfs> Statfs(const Caller& c) override {
    Result<struct statfs> r = fs_->lower_root_->Statfs(c);
    struct statfs st = r.ok() ? r.value() : TRY(Top()->Statfs(c));
    st.f_type = OVERLAYFS_SUPER_MAGIC;
    return st;
  }

  Result<std::string> GetXattr(const Caller& c, std::string_view name) override {
    if (name.starts_with(kPrivatePrefix)) return Errno::kENODATA;
    return Top()->GetXattr(c, name);
  }
  Result<std::vector<std::string>> ListXattr(const Caller& c) override {
    std::vector<std::string> all = TRY(Top()->ListXattr(c));
    std::erase_if(all, [](const std::string& n) { return n.starts_with(kPrivatePrefix); });
    return all;
  }
  Result<void> SetXattr(const Caller& c, std::string_view name, std::string_view value, int flags) override {
    if (name.starts_with(kPrivatePrefix)) return Errno::kEPERM;
    absl::MutexLock l(&fs_->mu_);
    TRY(CopyUpLocked());
    return upper_snapshot()->SetXattr(c, name, value, flags);
  }
  Result<void> RemoveXattr(const Caller& c, std::string_view name) override {
    if (name.starts_with(kPrivatePrefix)) return Errno::kEPERM;
    absl::MutexLock l(&fs_->mu_);
    if (upper_snapshot() == nullptr) {
      // Nothing to remove on the lower file: report it like Linux would
      // (ENODATA) without copying up.
      TRY(lower_->GetXattr(c, name));
    }
    TRY(CopyUpLocked());
    return upper_snapshot()->RemoveXattr(c, name);
  }

  // Copies this file (and its ancestors) to the upper layer. fs_->mu_ held.
  Result<void> CopyUpLocked();

  std::shared_ptr<Inode> upper_snapshot() const {
    absl::MutexLock l(&upper_mu_);
    return upper_;
  }

 private:
  std::shared_ptr<Inode> Top() const {
    std::shared_ptr<Inode> u = upper_snapshot();
    return u != nullptr ? u : lower_;
  }

  // The merged child `name`; fs_->mu_ held.
  Result<std::shared_ptr<OverlayInode>> LookupLocked(const Caller& c, std::string_view name);
  // EEXIST if `name` exists in the merged view. fs_->mu_ held.
  Result<void> CheckFreeLocked(const Caller& c, std::string_view name) {
    if (removed_) return Errno::kENOENT;
    Result<std::shared_ptr<OverlayInode>> r = LookupLocked(c, name);
    if (r.ok()) return Errno::kEEXIST;
    if (r.error() != Errno::kENOENT) return r.error();
    return {};
  }
  // Whether the lower directory (if merged) has `name`. fs_->mu_ held.
  Result<bool> LowerHasLocked(const Caller& c, std::string_view name) {
    if (lower_ == nullptr || type_ != S_IFDIR) return false;
    std::shared_ptr<Inode> upper = upper_snapshot();
    if (upper != nullptr && IsOpaque(*upper)) return false;
    Result<std::shared_ptr<Inode>> r = lower_->Lookup(c, name);
    if (r.ok()) return true;
    if (r.error() == Errno::kENOENT) return false;
    return r.error();
  }
  // Removes a whiteout at `name` in the upper directory; true if one was
  // there. fs_->mu_ held, upper exists.
  Result<bool> RemoveWhiteoutLocked(std::string_view name) {
    Result<std::shared_ptr<Inode>> r = upper_snapshot()->Lookup(KernelCaller(), name);
    if (!r.ok() || !IsWhiteout(*r.value())) return false;
    TRY(upper_snapshot()->Unlink(KernelCaller(), name));
    return true;
  }
  Result<void> MakeWhiteoutLocked(std::string_view name) {
    TRY(upper_snapshot()->Mknod(KernelCaller(), name, S_IFCHR | 0, 0));
    return {};
  }
  template <typename F>
  Result<std::shared_ptr<Inode>> MakeChild(const Caller& c, std::string_view name, F make);
  Result<void> RemoveLocked(const Caller& c, std::string_view name, OverlayInode& child);
  // ENOTEMPTY unless the merged directory is empty; then removes the
  // whiteouts left in its upper copy so the upper rmdir can succeed.
  Result<void> CheckEmptyAndClearLocked(const Caller& c);
  Result<std::vector<DirEntry>> ReadDirLocked(const Caller& c);

  const std::shared_ptr<OverlayFs> fs_;
  const uint32_t type_;
  const std::shared_ptr<Inode> lower_;  // null for files made in the overlay
  // Guarded by fs_->mu_:
  std::shared_ptr<OverlayInode> parent_;  // null for the root
  std::string name_;
  bool removed_ = false;
  // Live children by name (identity: one OverlayInode per name at a time).
  absl::flat_hash_map<std::string, std::weak_ptr<OverlayInode>> children_;

  mutable absl::Mutex upper_mu_;
  // upper_.get(), published after upper_ is set; never changes again.
  std::atomic<const Inode*> upper_raw_;
  std::shared_ptr<Inode> upper_ ABSL_GUARDED_BY(upper_mu_);
};

Result<std::shared_ptr<OverlayInode>> OverlayInode::LookupLocked(const Caller& c, std::string_view name) {
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  if (removed_) return Errno::kENOENT;
  auto it = children_.find(std::string(name));
  if (it != children_.end()) {
    if (std::shared_ptr<OverlayInode> live = it->second.lock()) return live;
    children_.erase(it);
  }
  std::shared_ptr<Inode> upper_dir = upper_snapshot();
  std::shared_ptr<Inode> up;
  if (upper_dir != nullptr) {
    Result<std::shared_ptr<Inode>> r = upper_dir->Lookup(c, name);
    if (r.ok()) {
      if (IsWhiteout(*r.value())) return Errno::kENOENT;
      up = std::move(r).value();
    } else if (r.error() != Errno::kENOENT) {
      return r.error();
    }
  }
  std::shared_ptr<Inode> low;
  const bool want_lower = up == nullptr || (up->is_dir() && !IsOpaque(*up));
  if (want_lower && lower_ != nullptr && !(upper_dir != nullptr && IsOpaque(*upper_dir))) {
    Result<std::shared_ptr<Inode>> r = lower_->Lookup(c, name);
    if (r.ok()) {
      low = std::move(r).value();
      // An upper directory merges only with a lower directory.
      if (up != nullptr && !low->is_dir()) low = nullptr;
    } else if (r.error() != Errno::kENOENT) {
      return r.error();
    }
  }
  if (up == nullptr && low == nullptr) return Errno::kENOENT;
  auto child = std::make_shared<OverlayInode>(fs_, std::static_pointer_cast<OverlayInode>(shared_from_this()),
                                              std::string(name), std::move(low), std::move(up));
  children_[std::string(name)] = child;
  return child;
}

Result<void> OverlayInode::CopyUpLocked() {
  if (upper_snapshot() != nullptr) return {};
  if (removed_ || parent_ == nullptr) return Errno::kENOENT;
  TRY(parent_->CopyUpLocked());
  const Caller kc = KernelCaller();
  const struct stat st = TRY(lower_->Stat(kc));
  Inode& pdir = *parent_->upper_snapshot();
  std::shared_ptr<Inode> up;
  switch (type_) {
    case S_IFDIR: up = TRY(pdir.Mkdir(kc, name_, st.st_mode & 07777)); break;
    case S_IFLNK: {
      const std::string target = TRY(lower_->Readlink(kc));
      up = TRY(pdir.Symlink(kc, name_, target));
      break;
    }
    case S_IFREG: {
      up = TRY(pdir.Create(kc, name_, st.st_mode & 07777));
      auto t = std::dynamic_pointer_cast<TmpfsInode>(up);
      if (t == nullptr) return Errno::kEIO;
      std::shared_ptr<FileDescription> src = TRY(lower_->Open(kc, Path{}, O_RDONLY));
      std::vector<uint8_t> buf(1 << 16);
      uint64_t off = 0;
      while (true) {
        const size_t n = TRY(src->PRead(buf, off));
        if (n == 0) break;
        uint64_t end;
        TRY(t->WriteAt(std::span<const uint8_t>(buf.data(), n), off, false, &end));
        off += n;
      }
      break;
    }
    default: up = TRY(pdir.Mknod(kc, name_, st.st_mode, st.st_rdev)); break;
  }
  // Metadata: owner, mode (Create applied none of the umask: mode is exact),
  // times; then the lower xattrs and the origin for a stable st_ino.
  SetAttrRequest req;
  req.uid = st.st_uid;
  req.gid = st.st_gid;
  if (type_ != S_IFLNK) req.mode = st.st_mode & 07777;
  req.atime = st.st_atim;
  req.mtime = st.st_mtim;
  TRY(up->SetAttr(kc, req));
  Result<std::vector<std::string>> names = lower_->ListXattr(kc);
  if (names.ok()) {
    for (const std::string& n : names.value()) {
      Result<std::string> v = lower_->GetXattr(kc, n);
      if (v.ok()) TRY(up->SetXattr(kc, n, v.value(), 0));
    }
  }
  TRY(up->SetXattr(kc, kOriginXattr, fmt::format("{}:{}", st.st_dev, st.st_ino), 0));
  absl::MutexLock l(&upper_mu_);
  upper_ = std::move(up);
  upper_raw_.store(upper_.get(), std::memory_order_release);
  return {};
}

template <typename F>
Result<std::shared_ptr<Inode>> OverlayInode::MakeChild(const Caller& c, std::string_view name, F make) {
  absl::MutexLock l(&fs_->mu_);
  TRY(CheckFreeLocked(c, name));
  TRY(CopyUpLocked());
  const bool had_whiteout = TRY(RemoveWhiteoutLocked(name));
  Result<std::shared_ptr<Inode>> made = make(*upper_snapshot());
  if (!made.ok()) {
    if (had_whiteout) (void)MakeWhiteoutLocked(name);
    return made.error();
  }
  std::shared_ptr<Inode> up = std::move(made).value();
  // A directory replacing a deleted name must not show the lower one's
  // entries (Linux marks it opaque the same way).
  if (had_whiteout && up->is_dir()) TRY(up->SetXattr(KernelCaller(), kOpaqueXattr, "y", 0));
  auto child = std::make_shared<OverlayInode>(fs_, std::static_pointer_cast<OverlayInode>(shared_from_this()),
                                              std::string(name), nullptr, std::move(up));
  children_[std::string(name)] = child;
  return std::shared_ptr<Inode>(std::move(child));
}

Result<void> OverlayInode::RemoveLocked(const Caller& c, std::string_view name, OverlayInode& child) {
  const bool lower_has = TRY(LowerHasLocked(c, name));
  if (child.upper_snapshot() != nullptr) {
    if (child.type_ == S_IFDIR) {
      TRY(upper_snapshot()->Rmdir(c, name));
    } else {
      TRY(upper_snapshot()->Unlink(c, name));
    }
  }
  if (lower_has) {
    TRY(CopyUpLocked());
    TRY(MakeWhiteoutLocked(name));
  }
  child.removed_ = true;
  children_.erase(std::string(name));
  return {};
}

Result<void> OverlayInode::CheckEmptyAndClearLocked(const Caller& c) {
  std::vector<DirEntry> entries = TRY(ReadDirLocked(c));
  if (!entries.empty()) return Errno::kENOTEMPTY;
  std::shared_ptr<Inode> upper = upper_snapshot();
  if (upper == nullptr) return {};
  // Only whiteouts are left in the upper copy.
  std::vector<DirEntry> raw = TRY(upper->ReadDir(KernelCaller()));
  for (const DirEntry& e : raw) TRY(upper->Unlink(KernelCaller(), e.name));
  return {};
}

Result<std::vector<DirEntry>> OverlayInode::ReadDirLocked(const Caller& c) {
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  std::vector<DirEntry> out;
  absl::flat_hash_set<std::string> seen;  // upper names, whiteouts included
  std::shared_ptr<Inode> upper = upper_snapshot();
  bool opaque = false;
  if (upper != nullptr) {
    opaque = IsOpaque(*upper);
    std::vector<DirEntry> up = TRY(upper->ReadDir(c));
    for (DirEntry& e : up) {
      seen.insert(e.name);
      Result<std::shared_ptr<Inode>> child = upper->Lookup(KernelCaller(), e.name);
      if (!child.ok()) continue;
      if (e.type == DT_CHR && IsWhiteout(*child.value())) continue;
      Result<std::string> origin = child.value()->GetXattr(KernelCaller(), kOriginXattr);
      if (origin.ok()) {
        unsigned long long dev = 0, ino = 0;
        if (sscanf(origin.value().c_str(), "%llu:%llu", &dev, &ino) == 2) e.ino = ino;
      }
      out.push_back(std::move(e));
    }
  }
  if (lower_ != nullptr && !opaque) {
    std::vector<DirEntry> low = TRY(lower_->ReadDir(c));
    for (DirEntry& e : low) {
      if (!seen.contains(e.name)) out.push_back(std::move(e));
    }
  }
  return out;
}

Result<void> OverlayInode::Rename(const Caller& c, std::string_view old_name, Inode& new_dir_inode,
                                  std::string_view new_name, unsigned flags) {
  auto* nd = dynamic_cast<OverlayInode*>(&new_dir_inode);
  if (nd == nullptr || nd->fs_ != fs_) return Errno::kEXDEV;
  if (flags & ~(kRenameNoreplace | kRenameExchange)) return Errno::kEINVAL;
  absl::MutexLock l(&fs_->mu_);
  std::shared_ptr<OverlayInode> src = TRY(LookupLocked(c, old_name));
  Result<std::shared_ptr<OverlayInode>> dst_r = nd->LookupLocked(c, new_name);
  if (!dst_r.ok() && dst_r.error() != Errno::kENOENT) return dst_r.error();
  std::shared_ptr<OverlayInode> dst = dst_r.ok() ? std::move(dst_r).value() : nullptr;
  if (nd->removed_) return Errno::kENOENT;
  if (src == dst) return {};
  // Directories with lower content cannot move (no redirect_dir).
  if (src->type_ == S_IFDIR && src->lower_ != nullptr) return Errno::kEXDEV;
  if (flags & kRenameExchange) {
    if (dst == nullptr) return Errno::kENOENT;
    if (dst->type_ == S_IFDIR && dst->lower_ != nullptr) return Errno::kEXDEV;
    TRY(src->CopyUpLocked());
    TRY(dst->CopyUpLocked());
    TRY(upper_snapshot()->Rename(c, old_name, *nd->upper_snapshot(), new_name, kRenameExchange));
    std::swap(src->parent_, dst->parent_);
    std::swap(src->name_, dst->name_);
    children_[std::string(old_name)] = dst;
    nd->children_[std::string(new_name)] = src;
    return {};
  }
  if (dst != nullptr) {
    if (flags & kRenameNoreplace) return Errno::kEEXIST;
    if (src->type_ == S_IFDIR && dst->type_ != S_IFDIR) return Errno::kENOTDIR;
    if (src->type_ != S_IFDIR && dst->type_ == S_IFDIR) return Errno::kEISDIR;
    if (dst->type_ == S_IFDIR) TRY(dst->CheckEmptyAndClearLocked(c));
  }
  const bool src_lower_has = TRY(LowerHasLocked(c, old_name));
  const bool dst_lower_has = TRY(nd->LowerHasLocked(c, new_name));
  TRY(src->CopyUpLocked());
  TRY(nd->CopyUpLocked());
  TRY(CopyUpLocked());
  TRY(nd->RemoveWhiteoutLocked(new_name));
  TRY(upper_snapshot()->Rename(c, old_name, *nd->upper_snapshot(), new_name, 0));
  if (src->type_ == S_IFDIR && dst_lower_has) {
    TRY(src->upper_snapshot()->SetXattr(KernelCaller(), kOpaqueXattr, "y", 0));
  }
  if (src_lower_has) TRY(MakeWhiteoutLocked(old_name));
  if (dst != nullptr) dst->removed_ = true;
  children_.erase(std::string(old_name));
  src->parent_ = std::static_pointer_cast<OverlayInode>(nd->shared_from_this());
  src->name_ = std::string(new_name);
  nd->children_[std::string(new_name)] = src;
  return {};
}

}  // namespace

Result<std::shared_ptr<Inode>> NewOverlayRoot(std::shared_ptr<Inode> lower_root, std::shared_ptr<TmpfsInode> upper_root) {
  if (!lower_root->is_dir() || !upper_root->is_dir()) return Errno::kENOTDIR;
  const Caller kc = KernelCaller();
  const struct stat st = TRY(lower_root->Stat(kc));
  SetAttrRequest req;
  req.mode = st.st_mode & 07777;
  req.uid = st.st_uid;
  req.gid = st.st_gid;
  req.atime = st.st_atim;
  req.mtime = st.st_mtim;
  TRY(upper_root->SetAttr(kc, req));
  TRY(upper_root->SetXattr(kc, kOriginXattr, fmt::format("{}:{}", st.st_dev, st.st_ino), 0));
  auto fs = std::make_shared<OverlayFs>(lower_root);
  return std::shared_ptr<Inode>(
      std::make_shared<OverlayInode>(std::move(fs), nullptr, "", std::move(lower_root), std::move(upper_root)));
}

}  // namespace fs
