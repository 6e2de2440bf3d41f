// Building blocks for filesystems whose files the sentry makes up (proc,
// dev, later sys): inodes with generated contents, and the generic open-file
// types they and other filesystems share (VfsFile, a string snapshot file, a
// directory listing file). Adding a /proc file is one line:
//   dir->AddChild("version", SyntheticFile::New(dev, 0444, [](const Caller&) -> Result<std::string> {...}));
#ifndef FS_SYNTHETIC_H_
#define FS_SYNTHETIC_H_

#include <functional>
#include <map>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "fs/inode.h"

namespace fs {

// A fresh inode number for synthetic files (process-wide, never reused).
uint64_t NextSyntheticIno();
// A fresh st_dev for a synthetic filesystem instance (anonymous major 0).
uint64_t NextSyntheticDev();

// Appends one linux_dirent64 at buf[pos]; returns the record length, or 0 if
// it does not fit.
size_t PutDirent64(std::span<uint8_t> buf, size_t pos, uint64_t ino, int64_t off, uint8_t type,
                   std::string_view name);
uint8_t DirentType(uint32_t mode);

// An open file that lives in the VFS tree: knows its Path and inode.
class VfsFile : public FileDescription {
 public:
  VfsFile(fs::Path at, std::shared_ptr<Inode> inode, int flags)
      : FileDescription(flags), at_(std::move(at)), inode_(std::move(inode)) {}
  Result<struct stat> Stat() override;
  std::string Path() const override;
  const fs::Path* location() const override { return &at_; }
  const std::shared_ptr<Inode>& inode() const { return inode_; }

 private:
  const fs::Path at_;
  const std::shared_ptr<Inode> inode_;
};

// The name /proc/<pid>/maps shows for a mapping of `f`, worked out when it
// is read: the file's path then (a rename moves it, as the dentry of
// Linux's vm_file), else f.Path() as now (a memfd's name).
std::function<std::string()> MapsNameOf(const FileDescription& f);

// O_PATH: only a location (fstat, dirfd, fchdir).
class OPathFile final : public VfsFile {
 public:
  using VfsFile::VfsFile;
};

// A file with a file offset (Linux's f_pos) that read(2), write(2) and
// lseek(2) share: Read and Write are PRead and PWrite at the offset, which
// then moves past what they moved, all under one lock (f_pos_lock, so
// concurrent reads of one description take distinct bytes); Seek is
// generic_file_llseek's SEEK_SET/CUR/END, from EndOffset(). A subclass
// gives PRead/PWrite and keeps its own rules by overriding the hooks:
// WriteAtOffset (O_APPEND), NewOffset (SEEK_DATA/SEEK_HOLE, proc files'
// own lseek), EndOffset (the size; EINVAL: no SEEK_END).
class SeekableFile : public VfsFile {
 public:
  using VfsFile::VfsFile;
  Result<size_t> Read(std::span<uint8_t> buf) override;
  Result<size_t> Write(std::span<const uint8_t> buf) override;
  Result<uint64_t> Seek(int64_t off, int whence) override;

 protected:
  // Runs `op` with the file offset (`*pos`, which it moves) under the
  // offset lock: one-copy reads and writes at the offset (ReadApp).
  Result<size_t> AtOffset(absl::FunctionRef<Result<size_t>(uint64_t* pos)> op);
  // Write's step: writes at `*pos` and leaves it past the bytes written.
  // Default: PWrite, then `*pos += n`; an appending file moves it to
  // where its write at EOF ended.
  virtual Result<size_t> WriteAtOffset(std::span<const uint8_t> buf, uint64_t* pos);
  // The offset lseek(off, whence) moves to from `cur` (called under the
  // offset lock). Default: SEEK_SET, SEEK_CUR, SEEK_END from EndOffset();
  // EINVAL for a negative or overflowing result and other `whence`.
  virtual Result<uint64_t> NewOffset(uint64_t cur, int64_t off, int whence);
  // Where SEEK_END counts from; EINVAL by default (files whose size is 0,
  // as /proc's, have no SEEK_END).
  virtual Result<uint64_t> EndOffset() { return Errno::kEINVAL; }

 private:
  absl::Mutex offset_mu_;
  uint64_t offset_ ABSL_GUARDED_BY(offset_mu_) = 0;
};

// PRead of `text` at `off`: the bytes of it that fit in `buf`, 0 past its end.
size_t ReadText(std::string_view text, std::span<uint8_t> buf, uint64_t off);

// A seekable snapshot of generated text (like Linux's seq_file files: the
// contents are fixed at open); read-only unless a subclass writes.
class StringFile : public SeekableFile {
 public:
  StringFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::string data)
      : SeekableFile(std::move(at), std::move(inode), flags), data_(std::move(data)) {}
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override { return ReadText(data_, buf, off); }

 protected:
  Result<uint64_t> EndOffset() override { return data_.size(); }

 private:
  const std::string data_;
};

// A directory listing snapshot taken at open, "." and ".." first. The
// offset of entry i is i + 1 (what lseek/telldir see).
class DirListFile final : public VfsFile {
 public:
  // `generate` runs at the first getdents64 (not at open), so a listing such
  // as /proc/self/fd includes the fd of the directory itself, as in Linux.
  // TODO(#5): it captures the opener's Caller; a file that outlives its
  // opener before the first read must not use it.
  DirListFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::function<std::vector<DirEntry>()> generate)
      : VfsFile(std::move(at), std::move(inode), flags), generate_(std::move(generate)) {}
  // A fixed listing.
  DirListFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::vector<DirEntry> entries)
      : DirListFile(std::move(at), std::move(inode), flags,
                    [e = std::move(entries)] { return e; }) {}
  Result<size_t> Read(std::span<uint8_t>) override { return Errno::kEISDIR; }
  Result<size_t> PRead(std::span<uint8_t>, uint64_t) override { return Errno::kEISDIR; }
  Result<size_t> Getdents64(std::span<uint8_t> buf) override;
  Result<uint64_t> Seek(int64_t off, int whence) override;

 private:
  std::function<std::vector<DirEntry>()> generate_;
  absl::Mutex mu_;
  std::optional<std::vector<DirEntry>> entries_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

// Common stat fields for synthetic inodes.
class SyntheticInode : public Inode {
 public:
  SyntheticInode(uint64_t dev, uint32_t mode) : dev_(dev), ino_(NextSyntheticIno()), mode_(mode) {}
  uint32_t mode() const override { return mode_; }
  Result<struct stat> Stat(const Caller& c) override;
  uint64_t ino() const { return ino_; }
  uint64_t dev() const { return dev_; }

 protected:
  // st_size; 0 by default (like most of /proc).
  virtual uint64_t size() const { return 0; }

 private:
  const uint64_t dev_;
  const uint64_t ino_;
  const uint32_t mode_;
};

// A directory with fixed children and, optionally, generated ones (/proc's
// pid directories, /proc/<pid>/fd). Generated children are not cached.
class SyntheticDir final : public SyntheticInode {
 public:
  using LookupFn = std::function<Result<std::shared_ptr<Inode>>(const Caller&, std::string_view)>;
  using ListFn = std::function<std::vector<DirEntry>(const Caller&)>;

  static std::shared_ptr<SyntheticDir> New(uint64_t dev, uint32_t perm = 0555) {
    return std::make_shared<SyntheticDir>(dev, S_IFDIR | perm);
  }
  SyntheticDir(uint64_t dev, uint32_t mode) : SyntheticInode(dev, mode) {}
  // Setup only (before the directory is reachable).
  void AddChild(std::string name, std::shared_ptr<Inode> child) { children_.emplace(std::move(name), std::move(child)); }
  void SetGenerated(LookupFn lookup, ListFn list) {
    lookup_ = std::move(lookup);
    list_ = std::move(list);
  }

  Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name) override;
  bool CacheLookups() const override { return !lookup_; }
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override;
  // Setup only: a /proc directory, whose lookup of a missing name fails
  // (proc_lookup_de returns -ENOENT, not a negative dentry), so creating a
  // name in it (mkdir, open O_CREAT, mknod, symlink, link) is ENOENT before
  // any "no such operation" error.
  void SetProcStyle() { proc_style_ = true; }
  Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode) override;
  Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode) override;
  Result<std::shared_ptr<Inode>> Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev) override;
  Result<std::shared_ptr<Inode>> Symlink(const Caller& c, std::string_view name, std::string_view target) override;
  Result<void> Link(const Caller& c, std::string_view name, const std::shared_ptr<Inode>& target) override;

 private:
  std::vector<DirEntry> List(const Caller& c, const Path& at);
  bool proc_style_ = false;
  std::map<std::string, std::shared_ptr<Inode>, std::less<>> children_;
  LookupFn lookup_;
  ListFn list_;
};

// A symlink whose target is computed per caller (/proc/self, exe, fd/N).
class SyntheticSymlink final : public SyntheticInode {
 public:
  using TargetFn = std::function<Result<std::string>(const Caller&)>;
  using JumpFn = std::function<Result<std::optional<Path>>(const Caller&)>;
  // `magic`: a procfs magic link (fd/N, exe, cwd, root); `jump`, if set,
  // gives the object it stands for (Inode::MagicJump).
  static std::shared_ptr<SyntheticSymlink> New(uint64_t dev, TargetFn fn, bool magic = false, JumpFn jump = nullptr) {
    return std::make_shared<SyntheticSymlink>(dev, std::move(fn), magic, std::move(jump));
  }
  SyntheticSymlink(uint64_t dev, TargetFn fn, bool magic = false, JumpFn jump = nullptr)
      : SyntheticInode(dev, S_IFLNK | 0777), fn_(std::move(fn)), magic_(magic), jump_(std::move(jump)) {}
  Result<std::string> Readlink(const Caller& c) override { return fn_(c); }
  bool IsMagicLink() const override { return magic_; }
  Result<std::optional<Path>> MagicJump(const Caller& c) override {
    if (!jump_) return std::optional<Path>();
    return jump_(c);
  }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path&, int) override { return Errno::kELOOP; }

 private:
  TargetFn fn_;
  const bool magic_;
  const JumpFn jump_;
};

// A read-only regular file whose contents are generated at open.
class SyntheticFile final : public SyntheticInode {
 public:
  using ContentFn = std::function<Result<std::string>(const Caller&)>;
  static std::shared_ptr<SyntheticFile> New(uint64_t dev, uint32_t perm, ContentFn fn) {
    return std::make_shared<SyntheticFile>(dev, S_IFREG | perm, std::move(fn));
  }
  SyntheticFile(uint64_t dev, uint32_t mode, ContentFn fn) : SyntheticInode(dev, mode), fn_(std::move(fn)) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override;

 private:
  ContentFn fn_;
};

}  // namespace fs

#endif  // FS_SYNTHETIC_H_
