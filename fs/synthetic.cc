#include "fs/synthetic.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "sentry/kernel/task.h"

namespace fs {

uint64_t NextSyntheticIno() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

uint64_t NextSyntheticDev() {
  // Anonymous devices (major 0), as Linux gives proc/tmpfs; minor from 16 on.
  static std::atomic<uint64_t> next{16};
  return makedev(0, next.fetch_add(1, std::memory_order_relaxed));
}

uint8_t DirentType(uint32_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }

size_t PutDirent64(std::span<uint8_t> buf, size_t pos, uint64_t ino, int64_t off, uint8_t type,
                   std::string_view name) {
  // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
  constexpr size_t kHeader = 8 + 8 + 2 + 1;
  const size_t reclen = (kHeader + name.size() + 1 + 7) & ~size_t{7};
  if (pos + reclen > buf.size()) return 0;
  uint8_t* p = buf.data() + pos;
  std::memset(p, 0, reclen);
  const uint16_t rl = static_cast<uint16_t>(reclen);
  std::memcpy(p, &ino, 8);
  std::memcpy(p + 8, &off, 8);
  std::memcpy(p + 16, &rl, 2);
  p[18] = type;
  std::memcpy(p + kHeader, name.data(), name.size());
  return reclen;
}

Result<struct stat> VfsFile::Stat() {
  sentry::kernel::Credentials root;
  return inode_->Stat(Caller{&root});
}

std::string VfsFile::Path() const { return AbsolutePath(at_); }

std::function<std::string()> MapsNameOf(const FileDescription& f) {
  const fs::Path* at = f.location();
  if (at != nullptr && at->valid()) return [p = *at] { return AbsolutePath(p); };
  return [n = f.Path()] { return n; };
}

Result<size_t> SeekableFile::AtOffset(absl::FunctionRef<Result<size_t>(uint64_t* pos)> op) {
  absl::MutexLock l(&offset_mu_);
  return op(&offset_);
}

Result<size_t> SeekableFile::Read(std::span<uint8_t> buf) {
  return AtOffset([&](uint64_t* pos) -> Result<size_t> {
    const size_t n = TRY(PRead(buf, *pos));
    *pos += n;
    return n;
  });
}

Result<size_t> SeekableFile::Write(std::span<const uint8_t> buf) {
  return AtOffset([&](uint64_t* pos) { return WriteAtOffset(buf, pos); });
}

Result<size_t> SeekableFile::WriteAtOffset(std::span<const uint8_t> buf, uint64_t* pos) {
  const size_t n = TRY(PWrite(buf, *pos));
  *pos += n;
  return n;
}

Result<uint64_t> SeekableFile::Seek(int64_t off, int whence) {
  absl::MutexLock l(&offset_mu_);
  offset_ = TRY(NewOffset(offset_, off, whence));
  return offset_;
}

Result<uint64_t> SeekableFile::NewOffset(uint64_t cur, int64_t off, int whence) {
  int64_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<int64_t>(cur); break;
    case SEEK_END: base = static_cast<int64_t>(TRY(EndOffset())); break;
    default: return Errno::kEINVAL;
  }
  if (__builtin_add_overflow(base, off, &base) || base < 0) return Errno::kEINVAL;
  return static_cast<uint64_t>(base);
}

size_t ReadText(std::string_view text, std::span<uint8_t> buf, uint64_t off) {
  if (off >= text.size()) return 0;
  const size_t n = std::min<size_t>(buf.size(), text.size() - off);
  std::memcpy(buf.data(), text.data() + off, n);
  return n;
}

Result<size_t> DirListFile::Getdents64(std::span<uint8_t> buf) {
  absl::MutexLock l(&mu_);
  if (!entries_.has_value()) entries_ = generate_();
  size_t pos = 0;
  while (next_ < entries_->size()) {
    const DirEntry& e = (*entries_)[next_];
    const size_t n = PutDirent64(buf, pos, e.ino, static_cast<int64_t>(next_ + 1), e.type, e.name);
    if (n == 0) {
      if (pos == 0) return Errno::kEINVAL;  // Linux: buffer too small for one record
      break;
    }
    pos += n;
    ++next_;
  }
  return pos;
}

Result<uint64_t> DirListFile::Seek(int64_t off, int whence) {
  absl::MutexLock l(&mu_);
  int64_t pos;
  switch (whence) {
    case SEEK_SET: pos = off; break;
    case SEEK_CUR:
      if (__builtin_add_overflow(static_cast<int64_t>(next_), off, &pos)) return Errno::kEINVAL;
      break;
    default: return Errno::kEINVAL;
  }
  if (pos < 0) return Errno::kEINVAL;
  next_ = static_cast<size_t>(pos);
  if (pos == 0) entries_.reset();  // rewinddir sees the directory as it is now
  return static_cast<uint64_t>(pos);
}

Result<struct stat> SyntheticInode::Stat(const Caller&) {
  struct stat st {};
  st.st_dev = dev_;
  st.st_ino = ino_;
  st.st_mode = mode_;
  st.st_nlink = S_ISDIR(mode_) ? 2 : 1;
  st.st_blksize = 4096;
  st.st_size = static_cast<off_t>(size());
  return st;
}

Result<std::shared_ptr<Inode>> SyntheticDir::Lookup(const Caller& c, std::string_view name) {
  auto it = children_.find(name);
  if (it != children_.end()) return it->second;
  if (lookup_) return lookup_(c, name);
  return Errno::kENOENT;
}

Result<std::shared_ptr<Inode>> SyntheticDir::Create(const Caller& c, std::string_view name, uint32_t mode) {
  if (proc_style_) return Errno::kENOENT;
  return Inode::Create(c, name, mode);
}
Result<std::shared_ptr<Inode>> SyntheticDir::Mkdir(const Caller& c, std::string_view name, uint32_t mode) {
  if (proc_style_) return Errno::kENOENT;
  return Inode::Mkdir(c, name, mode);
}
Result<std::shared_ptr<Inode>> SyntheticDir::Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev) {
  if (proc_style_) return Errno::kENOENT;
  return Inode::Mknod(c, name, mode, rdev);
}
Result<std::shared_ptr<Inode>> SyntheticDir::Symlink(const Caller& c, std::string_view name, std::string_view target) {
  if (proc_style_) return Errno::kENOENT;
  return Inode::Symlink(c, name, target);
}
Result<void> SyntheticDir::Link(const Caller& c, std::string_view name, const std::shared_ptr<Inode>& target) {
  if (proc_style_) return Errno::kENOENT;
  return Inode::Link(c, name, target);
}

Result<std::shared_ptr<FileDescription>> SyntheticDir::Open(const Caller& c, const Path& at, int flags) {
  auto self = std::static_pointer_cast<SyntheticDir>(shared_from_this());
  return std::shared_ptr<FileDescription>(
      std::make_shared<DirListFile>(at, shared_from_this(), flags, [self, c, at] { return self->List(c, at); }));
}

std::vector<DirEntry> SyntheticDir::List(const Caller& c, const Path& at) {
  std::vector<DirEntry> entries;
  entries.push_back({".", ino(), DT_DIR});
  // ".." reports this directory's inode when the parent is not synthetic;
  // good enough for readdir users (Linux itself reports the real parent).
  uint64_t parent_ino = ino();
  if (at.dentry && at.dentry->parent()) {
    if (auto* p = dynamic_cast<SyntheticInode*>(at.dentry->parent()->inode().get())) parent_ino = p->ino();
  }
  entries.push_back({"..", parent_ino, DT_DIR});
  for (const auto& [name, child] : children_) {
    uint64_t child_ino = 0;
    if (auto* s = dynamic_cast<SyntheticInode*>(child.get())) child_ino = s->ino();
    entries.push_back({name, child_ino, DirentType(child->mode())});
  }
  if (list_) {
    for (DirEntry& e : list_(c)) entries.push_back(std::move(e));
  }
  return entries;
}

Result<std::shared_ptr<FileDescription>> SyntheticFile::Open(const Caller& c, const Path& at, int flags) {
  std::string data = TRY(fn_(c));
  return std::shared_ptr<FileDescription>(std::make_shared<StringFile>(at, shared_from_this(), flags, std::move(data)));
}

}  // namespace fs
