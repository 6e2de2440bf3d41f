// tmpfs: a filesystem whose files live in sentry memory (after Linux's
// mm/shmem.c). Regular files are sparse (4 KiB pages allocated on write, so
// holes, SEEK_DATA/SEEK_HOLE and FALLOC_FL_PUNCH_HOLE behave as on Linux),
// directories, symlinks, special files (whiteouts for the overlay), hard
// links, timestamps, modes and owners, and extended attributes of any
// namespace (the syscall layer decides which an app may touch).
//
// File data lives in memory-file pages (sentry/mm/file_pages.h): MAP_SHARED
// maps the same pages read(2) and write(2) use, and tmpfs data counts
// against the sandbox's memory (--total-memory): a full memory file is
// ENOSPC for a write.
//
// Locking: Tmpfs::ns_mu_ (one per instance) guards every directory's
// children, link counts and the dead flag, so rename needs no ordering of
// directory locks; TmpfsInode::mu_ guards an inode's data and attributes.
// Order: TmpfsFile::mu_ (offset) > Tmpfs::ns_mu_ > TmpfsInode::mu_;
// one-copy I/O: TmpfsFile::mu_ > TmpfsInode::write_mu_ > MemoryManager::mu_
// > TmpfsInode::mu_.
#ifndef FS_TMPFS_H_
#define FS_TMPFS_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fs/inode.h"
#include "sentry/mm/file_pages.h"
#include "sentry/mm/memory_manager.h"

namespace fs {

class TmpfsInode;
class Pipe;

// One tmpfs instance (a superblock): device number and inode numbers.
class Tmpfs : public std::enable_shared_from_this<Tmpfs> {
 public:
  // A new instance whose root directory has `mode` (permission bits) and
  // the given owner, keeping file data in `mf` (the kernel's memory file;
  // must outlive the instance). Without one (unit tests) the instance makes
  // its own.
  static std::shared_ptr<TmpfsInode> NewRoot(uint32_t mode = 01777, uint32_t uid = 0, uint32_t gid = 0,
                                             sentry::mm::MemoryFile* mf = nullptr);
  uint64_t dev() const { return dev_; }
  sentry::mm::MemoryFile& memory_file() const { return *mf_; }

 private:
  friend class TmpfsInode;
  explicit Tmpfs(sentry::mm::MemoryFile* mf);
  uint64_t NextIno() { return next_ino_.fetch_add(1, std::memory_order_relaxed); }

  const uint64_t dev_;
  std::unique_ptr<sentry::mm::MemoryFile> own_mf_;  // only without a kernel's
  sentry::mm::MemoryFile* mf_;
  std::atomic<uint64_t> next_ino_{2};
  absl::Mutex ns_mu_;
};

// Not in every libc's headers yet (Linux 6.3).
inline constexpr uint32_t kSealExec = 0x0020;        // F_SEAL_EXEC
inline constexpr unsigned kMfdNoexecSeal = 0x0008;   // MFD_NOEXEC_SEAL
inline constexpr unsigned kMfdExec = 0x0010;         // MFD_EXEC

class TmpfsInode final : public Inode {
 public:
  static constexpr size_t kPageSize = 4096;
  // Largest file: Linux's MAX_LFS_FILESIZE.
  static constexpr uint64_t kMaxFileSize = INT64_MAX;

  TmpfsInode(std::shared_ptr<Tmpfs> fs, uint32_t mode, uint32_t uid, uint32_t gid, dev_t rdev = 0);

  uint32_t mode() const override;
  uint32_t type() const override { return type_; }
  Result<struct stat> Stat(const Caller& c) override;
  std::optional<struct timespec> BirthTime() override { return btime_; }
  Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name) override;
  Result<std::string> Readlink(const Caller& c) override;
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override;
  Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode) override;
  Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode) override;
  Result<std::shared_ptr<Inode>> Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev) override;
  Result<std::shared_ptr<Inode>> Symlink(const Caller& c, std::string_view name, std::string_view target) override;
  Result<void> Link(const Caller& c, std::string_view name, const std::shared_ptr<Inode>& target) override;
  Result<void> Unlink(const Caller& c, std::string_view name) override;
  Result<void> Rmdir(const Caller& c, std::string_view name) override;
  Result<void> Rename(const Caller& c, std::string_view old_name, Inode& new_dir, std::string_view new_name,
                      unsigned flags) override;
  Result<std::shared_ptr<Inode>> TmpFile(const Caller& c, uint32_t mode) override;
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override;
  Result<std::vector<DirEntry>> ReadDir(const Caller& c) override;
  Result<struct statfs> Statfs(const Caller& c) override;
  Result<std::string> GetXattr(const Caller& c, std::string_view name) override;
  Result<std::vector<std::string>> ListXattr(const Caller& c) override;
  Result<void> SetXattr(const Caller& c, std::string_view name, std::string_view value, int flags) override;
  Result<void> RemoveXattr(const Caller& c, std::string_view name) override;

  // Opens this inode with `shown` as the inode fstat and /proc see (the
  // overlay shows its own inode over an upper tmpfs file).
  Result<std::shared_ptr<FileDescription>> OpenAs(const Path& at, int flags, std::shared_ptr<Inode> shown);
  // The tmpfs inode holding the data of an open regular tmpfs file (tmpfs,
  // memfd, or an overlay file copied up into its tmpfs upper layer, whose
  // fstat shows the overlay's inode); nullptr for any other file.
  static TmpfsInode* DataOf(FileDescription& f);

  // File data. ReadAt stops at EOF; WriteAt with append writes at EOF and
  // returns the offset after the write in *end.
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off);
  Result<size_t> WriteAt(std::span<const uint8_t> buf, uint64_t off, bool append, uint64_t* end);
  uint64_t size();
  // The same with app memory (one copy, FileDescription::ReadApp): pages
  // are copied run by run under mu_ per piece of app memory; a write holds
  // write_mu_ throughout, so it is atomic (O_APPEND) as WriteAt is.
  Result<size_t> ReadToApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off);
  Result<size_t> WriteFromApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off, bool append,
                              uint64_t* end);
  // fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE.
  Result<void> Allocate(int mode, uint64_t off, uint64_t len);
  // lseek SEEK_DATA / SEEK_HOLE from off (ENXIO at or past EOF).
  Result<uint64_t> SeekDataHole(uint64_t off, int whence);

  uint64_t ino() const { return ino_; }
  const std::shared_ptr<Tmpfs>& fs() const { return fs_; }

  // File seals (F_ADD_SEALS/F_GET_SEALS, mm/memfd.c). Every tmpfs file
  // starts with F_SEAL_SEAL (shmem_get_inode); memfd_create clears it for
  // MFD_ALLOW_SEALING. AddSeals: EPERM once F_SEAL_SEAL is set, EBUSY for
  // F_SEAL_WRITE while a shared mapping may write (mapping_deny_writable).
  uint32_t seals() const;
  Result<void> AddSeals(uint32_t seals);
  void InitSeals(uint32_t seals);
  // mmap of the file (memfd_check_seals_mmap): a write-sealed file refuses a
  // shared writable mapping (EPERM) and clears *maywrite of a shared one.
  // Returns a token the mapping holds while it may write the file (nullptr
  // if it may not): F_SEAL_WRITE is EBUSY while one lives.
  Result<std::shared_ptr<void>> PrepareMap(bool shared, int prot, bool* maywrite);

  // MAP_SHARED (sentry::mm::MappableFile::SharedPages and friends).
  Result<std::vector<sentry::mm::MappableFile::PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate);
  std::unique_ptr<sentry::mm::MapperRegistration> AddMapper(sentry::mm::SharedMapper* m) {
    return mappers_->Add(m);
  }

 private:
  friend class Tmpfs;
  friend Result<std::shared_ptr<FileDescription>> NewMemfd(const Caller& c, std::string_view name, int flags,
                                                           unsigned memfd_flags);

  // Directory helpers; ns_mu_ held.
  Result<void> CheckLiveDirLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fs_->ns_mu_);
  Result<std::shared_ptr<TmpfsInode>> AddLocked(const Caller& c, std::string_view name, uint32_t mode, dev_t rdev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(fs_->ns_mu_);
  void TouchDir();  // mtime = ctime = now
  void TouchCtime();
  void TruncateLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seals on a write of n bytes at off (shmem_write_begin, one page chunk
  // at a time): EPERM, or the bytes that may be written (F_SEAL_GROW stops
  // at the last page boundary within the size).
  Result<size_t> SealedWriteLocked(uint64_t off, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes pages [first, end) out of the file; mappers unmap them before
  // they are reused.
  void DropPagesLocked(uint64_t first, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<Tmpfs> fs_;
  const uint64_t ino_;
  const uint32_t type_;  // S_IFMT bits
  const dev_t rdev_;
  const struct timespec btime_ = Now();  // shmem_get_inode sets i_btime

  // Directory state, guarded by fs_->ns_mu_.
  std::map<std::string, std::shared_ptr<TmpfsInode>, std::less<>> children_;
  uint32_t nlink_ = 1;
  bool dead_ = false;  // a removed directory: nothing may be created in it

  // Serializes WriteFromApp, whose copy runs with mu_ dropped between
  // pieces. Order: write_mu_ > MemoryManager::mu_ > mu_.
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_;
  uint32_t perm_ ABSL_GUARDED_BY(mu_);
  uint32_t uid_ ABSL_GUARDED_BY(mu_);
  uint32_t gid_ ABSL_GUARDED_BY(mu_);
  struct timespec atime_ ABSL_GUARDED_BY(mu_);
  struct timespec mtime_ ABSL_GUARDED_BY(mu_);
  struct timespec ctime_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  sentry::mm::FilePages pages_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<sentry::mm::SharedMappers> mappers_ = std::make_shared<sentry::mm::SharedMappers>();
  std::string target_ ABSL_GUARDED_BY(mu_);                               // symlinks
  const std::shared_ptr<Pipe> fifo_;  // FIFOs: the pipe every open shares
  std::map<std::string, std::string, std::less<>> xattrs_ ABSL_GUARDED_BY(mu_);
  uint32_t seals_ ABSL_GUARDED_BY(mu_) = 0x0001;  // F_SEAL_SEAL
  // Held by every shared mapping that may write (VM_SHARED|VM_MAYWRITE):
  // use_count() > 1 means one exists (i_mmap_writable).
  const std::shared_ptr<int> writable_maps_ = std::make_shared<int>(0);
};

// The tmpfs inode whose seals fcntl(F_ADD_SEALS/F_GET_SEALS) of `f` reaches
// (a tmpfs file or memfd, not an overlay file over one); nullptr: EINVAL.
TmpfsInode* SealableOf(FileDescription& f);

// A memfd_create(2) file: an unnamed tmpfs regular file ("/memfd:<name>").
// `memfd_flags`: MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC).
Result<std::shared_ptr<FileDescription>> NewMemfd(const Caller& c, std::string_view name, int flags,
                                                  unsigned memfd_flags = 0);
// What opening /proc/<pid>/fd/N of memfd `f` opens: the memfd's own inode
// (same data, seals and st_ino), named like `f`. nullptr if `f` is no memfd.
std::shared_ptr<Inode> MemfdReopenInode(const FileDescription& f);

}  // namespace fs

#endif  // FS_TMPFS_H_
