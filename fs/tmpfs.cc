#include "fs/tmpfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/logging.h"
#include "fs/pipe.h"
#include "fs/synthetic.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

// Linux's tmpfs link limit is effectively unbounded; ext4's 65000 is a
// friendlier limit for the counters we keep.
constexpr uint32_t kLinkMax = 65000;
constexpr size_t kXattrSizeMax = 65536;
constexpr size_t kXattrListMax = 65536;

uint32_t CreatorGid(const Caller& c, uint32_t dir_mode, uint32_t dir_gid) {
  // Directories with setgid give their group to new entries (inode_init_owner).
  return (dir_mode & S_ISGID) ? dir_gid : c.creds->fsgid;
}

// An open regular tmpfs file: the offset lives here, the data in the inode.
class TmpfsFile final : public SeekableFile {
 public:
  TmpfsFile(fs::Path at, std::shared_ptr<Inode> shown, int flags, std::shared_ptr<TmpfsInode> data)
      : SeekableFile(std::move(at), std::move(shown), flags), data_(std::move(data)) {}

  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override { return data_->ReadAt(buf, off); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override {
    uint64_t end = 0;
    // Linux: pwrite on an O_APPEND file appends (a documented bug).
    return data_->WriteAt(buf, off, (flags() & O_APPEND) != 0, &end);
  }
  bool DirectIo() const override { return true; }
  Result<size_t> ReadApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, const uint64_t* off) override {
    if (off != nullptr) return data_->ReadToApp(mm, addr, len, *off);
    return AtOffset([&](uint64_t* pos) -> Result<size_t> {
      const size_t n = TRY(data_->ReadToApp(mm, addr, len, *pos));
      *pos += n;
      return n;
    });
  }
  Result<size_t> WriteApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, const uint64_t* off,
                          bool append) override {
    uint64_t end = 0;
    if (off != nullptr) return data_->WriteFromApp(mm, addr, len, *off, append, &end);
    return AtOffset([&](uint64_t* pos) -> Result<size_t> {
      const size_t n = TRY(data_->WriteFromApp(mm, addr, len, *pos, append, &end));
      *pos = end;
      return n;
    });
  }
  Result<std::shared_ptr<sentry::mm::MappableFile>> Mappable() override;
  std::string Path() const override {
    if (!memfd_name_.empty()) return memfd_name_;
    return VfsFile::Path();
  }
  const fs::Path* location() const override { return memfd_name_.empty() ? VfsFile::location() : nullptr; }
  const std::shared_ptr<TmpfsInode>& data() const { return data_; }
  void set_memfd_name(std::string n) { memfd_name_ = std::move(n); }

 protected:
  // O_APPEND: the inode picks EOF and writes under one lock (atomic); the
  // offset goes to where the write ended.
  Result<size_t> WriteAtOffset(std::span<const uint8_t> buf, uint64_t* pos) override {
    uint64_t end = 0;
    const size_t n = TRY(data_->WriteAt(buf, *pos, (flags() & O_APPEND) != 0, &end));
    *pos = end;
    return n;
  }
  Result<uint64_t> NewOffset(uint64_t cur, int64_t off, int whence) override {
    if (whence != SEEK_DATA && whence != SEEK_HOLE) return SeekableFile::NewOffset(cur, off, whence);
    if (off < 0) return Errno::kENXIO;
    return data_->SeekDataHole(static_cast<uint64_t>(off), whence);
  }
  Result<uint64_t> EndOffset() override { return data_->size(); }

 private:
  const std::shared_ptr<TmpfsInode> data_;
  std::string memfd_name_;  // set once before the file is shared
};

// mmap of a tmpfs file: MAP_PRIVATE reads pages at fault time; MAP_SHARED
// maps the file's own pages.
class TmpfsMappable final : public sentry::mm::MappableFile {
 public:
  TmpfsMappable(std::shared_ptr<TmpfsInode> inode, std::function<std::string()> name, uint64_t dev)
      : inode_(std::move(inode)), name_(std::move(name)), dev_(dev) {}
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    const size_t n = TRY(inode_->ReadAt(buf, off));
    std::memset(buf.data() + n, 0, buf.size() - n);
    return n;
  }
  std::string MapsName() const override { return name_(); }
  uint32_t MapsDevMajor() const override { return major(dev_); }
  uint32_t MapsDevMinor() const override { return minor(dev_); }
  uint64_t MapsInode() const override { return inode_->ino(); }
  bool HasSharedPages() const override { return true; }
  const void* SharedId() const override { return inode_.get(); }
  Result<std::vector<PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate) override {
    return inode_->SharedPages(off, len, allocate);
  }
  uint64_t SharedSize() override { return inode_->size(); }
  std::unique_ptr<sentry::mm::MapperRegistration> AddMapper(sentry::mm::SharedMapper* m) override {
    return inode_->AddMapper(m);
  }
  Result<void> PrepareMap(bool shared, int prot, bool* maywrite) override {
    writable_token_ = TRY(inode_->PrepareMap(shared, prot, maywrite));
    return {};
  }

 private:
  const std::shared_ptr<TmpfsInode> inode_;
  std::shared_ptr<void> writable_token_;  // set once, before the mapping exists
  const std::function<std::string()> name_;
  const uint64_t dev_;
};

Result<std::shared_ptr<sentry::mm::MappableFile>> TmpfsFile::Mappable() {
  return std::shared_ptr<sentry::mm::MappableFile>(std::make_shared<TmpfsMappable>(data_, MapsNameOf(*this), data_->fs()->dev()));
}

}  // namespace

TmpfsInode* TmpfsInode::DataOf(FileDescription& f) {
  auto* t = dynamic_cast<TmpfsFile*>(&f);
  return t != nullptr ? t->data().get() : nullptr;
}

TmpfsInode* SealableOf(FileDescription& f) {
  auto* t = dynamic_cast<TmpfsFile*>(&f);
  // An overlay file over a tmpfs upper file is not a shmem file to Linux.
  if (t == nullptr || t->inode().get() != t->data().get()) return nullptr;
  return t->data().get();
}

uint32_t TmpfsInode::seals() const {
  absl::MutexLock l(&mu_);
  return seals_;
}

void TmpfsInode::InitSeals(uint32_t seals) {
  absl::MutexLock l(&mu_);
  seals_ = seals;
}

Result<void> TmpfsInode::AddSeals(uint32_t seals) {
  absl::MutexLock l(&mu_);
  if (seals_ & F_SEAL_SEAL) return Errno::kEPERM;
  // mapping_deny_writable(): no shared mapping may write any more.
  if ((seals & F_SEAL_WRITE) && !(seals_ & F_SEAL_WRITE) && writable_maps_.use_count() > 1) return Errno::kEBUSY;
  // F_SEAL_EXEC of an executable file implies the write seals (W^X).
  if ((seals & kSealExec) && (perm_ & 0111)) seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
  seals_ |= seals;
  return {};
}

Result<std::shared_ptr<void>> TmpfsInode::PrepareMap(bool shared, int prot, bool* maywrite) {
  if (!shared) return std::shared_ptr<void>();
  absl::MutexLock l(&mu_);
  if (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
    if (prot & PROT_WRITE) return Errno::kEPERM;
    *maywrite = false;  // mprotect(PROT_WRITE) is EACCES
  }
  if (!*maywrite) return std::shared_ptr<void>();
  return std::shared_ptr<void>(writable_maps_);
}

Tmpfs::Tmpfs(sentry::mm::MemoryFile* mf) : dev_(NextSyntheticDev()), mf_(mf) {
  if (mf_ == nullptr) {
    // Sparse: only written pages cost memory.
    auto own = sentry::mm::MemoryFile::Create(4ull << 30);
    if (!own.ok()) {
      logging::Error("tmpfs: no memory file: {}", base::ErrnoName(own.error()));
      std::abort();
    }
    own_mf_ = std::move(own).value();
    mf_ = own_mf_.get();
  }
}

std::shared_ptr<TmpfsInode> Tmpfs::NewRoot(uint32_t mode, uint32_t uid, uint32_t gid, sentry::mm::MemoryFile* mf) {
  std::shared_ptr<Tmpfs> fs(new Tmpfs(mf));  // private constructor; owned at once
  auto root = std::make_shared<TmpfsInode>(fs, S_IFDIR | (mode & 07777), uid, gid);
  absl::MutexLock l(&fs->ns_mu_);
  root->nlink_ = 2;
  return root;
}

TmpfsInode::TmpfsInode(std::shared_ptr<Tmpfs> fs, uint32_t mode, uint32_t uid, uint32_t gid, dev_t rdev)
    : fs_(std::move(fs)), ino_(fs_->NextIno()), type_(mode & S_IFMT), rdev_(rdev), perm_(mode & 07777),
      uid_(uid), gid_(gid), pages_(fs_->memory_file()),
      fifo_(type_ == S_IFIFO ? NewPipeObject(uid, gid) : nullptr) {
  atime_ = mtime_ = ctime_ = Now();
}

uint32_t TmpfsInode::mode() const {
  absl::MutexLock l(&mu_);
  return type_ | perm_;
}

Result<struct stat> TmpfsInode::Stat(const Caller&) {
  struct stat st {};
  size_t entries;
  {
    absl::ReaderMutexLock ns(&fs_->ns_mu_);
    st.st_nlink = nlink_;
    entries = children_.size();
  }
  absl::MutexLock l(&mu_);
  st.st_dev = fs_->dev();
  st.st_ino = ino_;
  st.st_mode = type_ | perm_;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_rdev = rdev_;
  st.st_blksize = kPageSize;
  if (type_ == S_IFREG) {
    st.st_size = static_cast<off_t>(size_);
    st.st_blocks = static_cast<blkcnt_t>(pages_.npages() * (kPageSize / 512));
  } else if (type_ == S_IFLNK) {
    st.st_size = static_cast<off_t>(target_.size());
  } else if (type_ == S_IFDIR) {
    // Linux's tmpfs: BOGO_DIRENT_SIZE (20) per entry, plus 2 for . and ..
    st.st_size = static_cast<off_t>((entries + 2) * 20);
  }
  st.st_atim = atime_;
  st.st_mtim = mtime_;
  st.st_ctim = ctime_;
  return st;
}

Result<std::shared_ptr<Inode>> TmpfsInode::Lookup(const Caller&, std::string_view name) {
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  absl::ReaderMutexLock l(&fs_->ns_mu_);
  auto it = children_.find(name);
  if (it == children_.end()) return Errno::kENOENT;
  return std::shared_ptr<Inode>(it->second);
}

Result<std::string> TmpfsInode::Readlink(const Caller&) {
  if (type_ != S_IFLNK) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  return target_;
}

Result<std::shared_ptr<FileDescription>> TmpfsInode::OpenAs(const Path& at, int flags, std::shared_ptr<Inode> shown) {
  auto self = std::static_pointer_cast<TmpfsInode>(shared_from_this());
  switch (type_) {
    case S_IFREG:
      return std::shared_ptr<FileDescription>(std::make_shared<TmpfsFile>(at, std::move(shown), flags, self));
    case S_IFDIR: {
      std::vector<DirEntry> entries = TRY(ReadDir(Caller{}));
      entries.insert(entries.begin(), {DirEntry{".", ino_, DT_DIR}, DirEntry{"..", ino_, DT_DIR}});
      return std::shared_ptr<FileDescription>(std::make_shared<DirListFile>(at, std::move(shown), flags, std::move(entries)));
    }
    case S_IFLNK: return Errno::kELOOP;
    case S_IFIFO: return OpenFifoEnd(fifo_, flags, at, std::move(shown));
    // Devices are not reachable (nodev); sockets are ENXIO as on Linux.
    case S_IFCHR:
    case S_IFBLK: return Errno::kEACCES;
    default: return Errno::kENXIO;
  }
}

Result<std::shared_ptr<FileDescription>> TmpfsInode::Open(const Caller&, const Path& at, int flags) {
  return OpenAs(at, flags, shared_from_this());
}

Result<void> TmpfsInode::CheckLiveDirLocked() {
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  if (dead_) return Errno::kENOENT;
  return {};
}

Result<std::shared_ptr<TmpfsInode>> TmpfsInode::AddLocked(const Caller& c, std::string_view name, uint32_t mode,
                                                          dev_t rdev) {
  TRY(CheckLiveDirLocked());
  if (children_.contains(name)) return Errno::kEEXIST;
  uint32_t dir_perm, dir_gid;
  {
    absl::MutexLock l(&mu_);
    dir_perm = perm_;
    dir_gid = gid_;
  }
  const uint32_t type = mode & S_IFMT;
  if (type == S_IFDIR && nlink_ >= kLinkMax) return Errno::kEMLINK;
  uint32_t perm = mode & 07777;
  // A directory inherits setgid from a setgid parent.
  if (type == S_IFDIR && (dir_perm & S_ISGID)) perm |= S_ISGID;
  auto child = std::make_shared<TmpfsInode>(fs_, type | perm, c.creds->fsuid, CreatorGid(c, dir_perm, dir_gid), rdev);
  if (type == S_IFDIR) {
    child->nlink_ = 2;
    ++nlink_;
  }
  children_.emplace(std::string(name), child);
  TouchDir();
  return child;
}

Result<std::shared_ptr<Inode>> TmpfsInode::Create(const Caller& c, std::string_view name, uint32_t mode) {
  absl::MutexLock l(&fs_->ns_mu_);
  std::shared_ptr<TmpfsInode> child = TRY(AddLocked(c, name, S_IFREG | (mode & 07777), 0));
  return std::shared_ptr<Inode>(std::move(child));
}

Result<std::shared_ptr<Inode>> TmpfsInode::Mkdir(const Caller& c, std::string_view name, uint32_t mode) {
  absl::MutexLock l(&fs_->ns_mu_);
  std::shared_ptr<TmpfsInode> child = TRY(AddLocked(c, name, S_IFDIR | (mode & 07777), 0));
  return std::shared_ptr<Inode>(std::move(child));
}

Result<std::shared_ptr<Inode>> TmpfsInode::Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev) {
  const uint32_t type = mode & S_IFMT;
  if (type == S_IFDIR || type == S_IFLNK) return Errno::kEINVAL;
  absl::MutexLock l(&fs_->ns_mu_);
  std::shared_ptr<TmpfsInode> child = TRY(AddLocked(c, name, mode, rdev));
  return std::shared_ptr<Inode>(std::move(child));
}

Result<std::shared_ptr<Inode>> TmpfsInode::Symlink(const Caller& c, std::string_view name, std::string_view target) {
  absl::MutexLock l(&fs_->ns_mu_);
  std::shared_ptr<TmpfsInode> child = TRY(AddLocked(c, name, S_IFLNK | 0777, 0));
  absl::MutexLock cl(&child->mu_);
  child->target_ = std::string(target);
  return std::shared_ptr<Inode>(std::move(child));
}

Result<std::shared_ptr<Inode>> TmpfsInode::TmpFile(const Caller& c, uint32_t mode) {
  uint32_t dir_perm, dir_gid;
  {
    absl::MutexLock l(&mu_);
    dir_perm = perm_;
    dir_gid = gid_;
  }
  absl::MutexLock l(&fs_->ns_mu_);
  TRY(CheckLiveDirLocked());
  auto child = std::make_shared<TmpfsInode>(fs_, S_IFREG | (mode & 07777), c.creds->fsuid,
                                            CreatorGid(c, dir_perm, dir_gid));
  child->nlink_ = 0;  // linkat(AT_EMPTY_PATH) may give it a name later
  return std::shared_ptr<Inode>(std::move(child));
}

Result<void> TmpfsInode::Link(const Caller&, std::string_view name, const std::shared_ptr<Inode>& target) {
  auto t = std::dynamic_pointer_cast<TmpfsInode>(target);
  if (t == nullptr || t->fs_ != fs_) return Errno::kEXDEV;
  if (t->type_ == S_IFDIR) return Errno::kEPERM;
  absl::MutexLock l(&fs_->ns_mu_);
  TRY(CheckLiveDirLocked());
  if (children_.contains(name)) return Errno::kEEXIST;
  if (t->nlink_ >= kLinkMax) return Errno::kEMLINK;
  ++t->nlink_;
  children_.emplace(std::string(name), t);
  TouchDir();
  t->TouchCtime();
  return {};
}

Result<void> TmpfsInode::Unlink(const Caller&, std::string_view name) {
  std::shared_ptr<TmpfsInode> victim;  // released after ns_mu_
  absl::MutexLock l(&fs_->ns_mu_);
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  auto it = children_.find(name);
  if (it == children_.end()) return Errno::kENOENT;
  if (it->second->type_ == S_IFDIR) return Errno::kEISDIR;
  victim = it->second;
  children_.erase(it);
  --victim->nlink_;
  victim->TouchCtime();
  TouchDir();
  return {};
}

Result<void> TmpfsInode::Rmdir(const Caller&, std::string_view name) {
  std::shared_ptr<TmpfsInode> victim;
  absl::MutexLock l(&fs_->ns_mu_);
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  auto it = children_.find(name);
  if (it == children_.end()) return Errno::kENOENT;
  if (it->second->type_ != S_IFDIR) return Errno::kENOTDIR;
  if (!it->second->children_.empty()) return Errno::kENOTEMPTY;
  victim = it->second;
  children_.erase(it);
  victim->nlink_ = 0;
  victim->dead_ = true;
  --nlink_;
  TouchDir();
  return {};
}

Result<void> TmpfsInode::Rename(const Caller&, std::string_view old_name, Inode& new_dir_inode,
                                std::string_view new_name, unsigned flags) {
  auto* new_dir = dynamic_cast<TmpfsInode*>(&new_dir_inode);
  if (new_dir == nullptr || new_dir->fs_ != fs_) return Errno::kEXDEV;
  if (flags & ~(kRenameNoreplace | kRenameExchange)) return Errno::kEINVAL;
  std::shared_ptr<TmpfsInode> replaced;  // released after ns_mu_
  absl::MutexLock l(&fs_->ns_mu_);
  if (type_ != S_IFDIR || new_dir->type_ != S_IFDIR) return Errno::kENOTDIR;
  if (new_dir->dead_) return Errno::kENOENT;
  auto src_it = children_.find(old_name);
  if (src_it == children_.end()) return Errno::kENOENT;
  std::shared_ptr<TmpfsInode> src = src_it->second;
  auto dst_it = new_dir->children_.find(new_name);
  std::shared_ptr<TmpfsInode> dst = dst_it == new_dir->children_.end() ? nullptr : dst_it->second;
  if (flags & kRenameExchange) {
    if (dst == nullptr) return Errno::kENOENT;
    if (src == dst) return {};
    src_it->second = dst;
    dst_it->second = src;
    if (this != new_dir && src->type_ != dst->type_) {
      // A directory changed parents: move its ".." link count.
      const int delta = (src->type_ == S_IFDIR) - (dst->type_ == S_IFDIR);
      nlink_ -= delta;
      new_dir->nlink_ += delta;
    }
    TouchDir();
    if (new_dir != this) new_dir->TouchDir();
    src->TouchCtime();
    dst->TouchCtime();
    return {};
  }
  if (dst != nullptr) {
    if (flags & kRenameNoreplace) return Errno::kEEXIST;
    if (src == dst) return {};  // hard links of one inode: nothing happens
    if (src->type_ == S_IFDIR) {
      if (dst->type_ != S_IFDIR) return Errno::kENOTDIR;
      if (!dst->children_.empty()) return Errno::kENOTEMPTY;
    } else if (dst->type_ == S_IFDIR) {
      return Errno::kEISDIR;
    }
  }
  if (src->type_ == S_IFDIR && dst == nullptr && new_dir != this && new_dir->nlink_ >= kLinkMax) return Errno::kEMLINK;
  children_.erase(src_it);
  if (dst != nullptr) {
    replaced = dst;
    if (dst->type_ == S_IFDIR) {
      dst->nlink_ = 0;
      dst->dead_ = true;
      --new_dir->nlink_;
    } else {
      --dst->nlink_;
    }
    dst->TouchCtime();
    new_dir->children_[std::string(new_name)] = src;
  } else {
    new_dir->children_.emplace(std::string(new_name), src);
  }
  if (src->type_ == S_IFDIR && new_dir != this) {
    --nlink_;
    ++new_dir->nlink_;
  }
  TouchDir();
  if (new_dir != this) new_dir->TouchDir();
  src->TouchCtime();
  return {};
}

Result<void> TmpfsInode::SetAttr(const Caller&, const SetAttrRequest& req) {
  absl::MutexLock l(&mu_);
  if (req.size.has_value()) {
    if (type_ == S_IFDIR) return Errno::kEISDIR;
    if (type_ != S_IFREG) return Errno::kEINVAL;
    if (*req.size > kMaxFileSize) return Errno::kEFBIG;
  }
  const struct timespec now = Now();
  if (req.size && ((*req.size < size_ && (seals_ & F_SEAL_SHRINK)) || (*req.size > size_ && (seals_ & F_SEAL_GROW))))
    return Errno::kEPERM;
  if (req.mode && (seals_ & kSealExec) && ((perm_ ^ *req.mode) & 0111)) return Errno::kEPERM;
  if (req.mode) perm_ = *req.mode & 07777;
  if (req.uid) uid_ = *req.uid;
  if (req.gid) gid_ = *req.gid;
  if (req.size) {
    // Linux changes mtime on truncate even to the same size (do_truncate
    // passes ATTR_MTIME|ATTR_CTIME).
    TruncateLocked(*req.size);
    mtime_ = now;
  }
  if (req.atime) atime_ = *req.atime;
  if (req.mtime) mtime_ = *req.mtime;
  ctime_ = now;
  return {};
}

Result<std::vector<DirEntry>> TmpfsInode::ReadDir(const Caller&) {
  if (type_ != S_IFDIR) return Errno::kENOTDIR;
  absl::ReaderMutexLock l(&fs_->ns_mu_);
  std::vector<DirEntry> out;
  out.reserve(children_.size());
  for (const auto& [name, child] : children_) {
    out.push_back(DirEntry{name, child->ino_, DirentType(child->type_)});
  }
  return out;
}

Result<struct statfs> TmpfsInode::Statfs(const Caller&) {
  struct statfs st {};
  st.f_type = TMPFS_MAGIC;
  st.f_bsize = kPageSize;
  st.f_frsize = kPageSize;
  st.f_namelen = kNameMax;
  // TODO(#4): a size limit (ENOSPC); report a generous fixed capacity.
  st.f_blocks = st.f_bfree = st.f_bavail = (1ULL << 30) / kPageSize * 4;
  st.f_files = st.f_ffree = 1 << 20;
  return st;
}

Result<std::string> TmpfsInode::GetXattr(const Caller&, std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno::kENODATA;
  return it->second;
}

Result<std::vector<std::string>> TmpfsInode::ListXattr(const Caller&) {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, value] : xattrs_) out.push_back(name);
  return out;
}

Result<void> TmpfsInode::SetXattr(const Caller&, std::string_view name, std::string_view value, int flags) {
  if (value.size() > kXattrSizeMax) return Errno::kE2BIG;
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if ((flags & kXattrCreate) && it != xattrs_.end()) return Errno::kEEXIST;
  if ((flags & kXattrReplace) && it == xattrs_.end()) return Errno::kENODATA;
  size_t total = name.size() + 1;
  for (const auto& [n, v] : xattrs_) {
    if (n != name) total += n.size() + 1;
  }
  if (total > kXattrListMax) return Errno::kENOSPC;
  xattrs_[std::string(name)] = std::string(value);
  ctime_ = Now();
  return {};
}

Result<void> TmpfsInode::RemoveXattr(const Caller&, std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno::kENODATA;
  xattrs_.erase(it);
  ctime_ = Now();
  return {};
}

Result<std::shared_ptr<FileDescription>> NewMemfd(const Caller& c, std::string_view name, int flags,
                                                  unsigned memfd_flags) {
  // Each memfd is alone on a private tmpfs instance (Linux's shm_mnt is
  // internal too: no path reaches it).
  std::shared_ptr<TmpfsInode> root =
      Tmpfs::NewRoot(0777, 0, 0, c.kernel != nullptr ? &c.kernel->memory_file() : nullptr);
  std::shared_ptr<Inode> file = TRY(root->TmpFile(c, 0777));
  auto t = std::static_pointer_cast<TmpfsInode>(file);
  if (memfd_flags & kMfdNoexecSeal) {
    {
      absl::MutexLock l(&t->mu_);
      t->perm_ &= ~0111u;
    }
    t->InitSeals(kSealExec);
  } else if (memfd_flags & MFD_ALLOW_SEALING) {
    t->InitSeals(0);
  }
  auto f = std::make_shared<TmpfsFile>(Path{}, t, flags, t);
  f->set_memfd_name(fmt::format("/memfd:{} (deleted)", name));
  return std::shared_ptr<FileDescription>(std::move(f));
}

namespace {

// A memfd as /proc/<pid>/fd/N reaches it (proc_fd_link): the same inode,
// opened anew under the same "/memfd:<name> (deleted)" name.
class MemfdReopen final : public Inode {
 public:
  MemfdReopen(std::shared_ptr<TmpfsInode> data, std::string name) : data_(std::move(data)), name_(std::move(name)) {}
  uint32_t mode() const override { return data_->mode(); }
  Result<struct stat> Stat(const Caller& c) override { return data_->Stat(c); }
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override { return data_->SetAttr(c, req); }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path&, int flags) override {
    auto f = std::make_shared<TmpfsFile>(Path{}, data_, flags, data_);
    f->set_memfd_name(name_);
    return std::shared_ptr<FileDescription>(std::move(f));
  }

 private:
  const std::shared_ptr<TmpfsInode> data_;
  const std::string name_;
};

}  // namespace

std::shared_ptr<Inode> MemfdReopenInode(const FileDescription& f) {
  auto* t = dynamic_cast<const TmpfsFile*>(&f);
  if (t == nullptr || t->location() != nullptr) return nullptr;
  return std::make_shared<MemfdReopen>(t->data(), t->Path());
}

void TmpfsInode::TouchDir() {
  absl::MutexLock l(&mu_);
  mtime_ = ctime_ = Now();
}

void TmpfsInode::TouchCtime() {
  absl::MutexLock l(&mu_);
  ctime_ = Now();
}

}  // namespace fs
