// GoferPageCache: the page cache of one file on a writable gofer mount (an
// OCI rw bind, `runsc do -v`, `--overlay2=none`), in memory-file pages, so
// that MAP_SHARED mappings of the file are shared by every process of the
// sandbox and coherent with read(2)/write(2) through any fd, and their stores
// reach the host file.
//
// Design (see fs/README.md, "Shared mappings of gofer files"):
// - The sentry decides what is mapped (invariant 4): a shared mapping maps
//   the cache's memory-file pages (MappableFile::SharedPages), exactly as a
//   tmpfs file's; the host file is never mapped into the app.
// - The cache lives while any mapping of the file lives (Ref/Unref from each
//   GoferMappable). Pages come in on a fault, filled from the host fd.
// - read() takes cached pages from the cache and the rest from the host;
//   write() is write-through: pwrite to the host, then the same bytes into
//   the cached pages it covers. So for every cached page the cache holds the
//   sandbox's latest bytes, and elsewhere the host does.
// - Stores through a mapping reach the host at write-back: msync(MS_SYNC or
//   MS_ASYNC), fsync/fdatasync/syncfs/sync, the last unmap of the file
//   (munmap, exit or exec of the last mapper) and sandbox exit
//   (Vfs::SyncAll). Only unclean pages are written back.
// - Dirty tracking without dirty bits from the platform, as Linux's
//   page_mkwrite/page_mkclean: a clean page is mapped read-only (PageRun::
//   writable false), so its first store faults and MarkDirty makes it dirty
//   and writable. Write-back writes dirty pages and makes them "cleaning":
//   every mapper is asked to map them read-only again (SharedMappers::
//   Resync), which they do when their tasks next enter the sentry; a store
//   made before that is still in the page, so a cleaning page is written
//   again at the next write-back, and becomes clean only when that write
//   starts after every mapper has write-protected it (the Resync's `done`
//   token is gone). write() is write-through and needs no dirty bit.
// - truncate drops the pages past the new EOF through SharedMappers, so
//   every mapper unmaps them first (SIGBUS past EOF, as Linux).
// - Host changes (a volume shared with the host or another container): the
//   cache remembers the host file's (size, mtime) as of its own last
//   access; Revalidate (the inode's open and stat) compares them with the
//   host's and, when another process changed the file, drops the clean
//   pages (mappers unmap them and fault the new contents in) and takes the
//   new size, as gVisor's revalidating mode and Linux's NFS close-to-open.
// - Granularity: write(2)/pwrite(2) reach the host for exactly the bytes
//   written (write-through; a host change since the cache's last look is
//   revalidated first), so a host change to other bytes of the same page
//   survives. Stores through a mapping are page-granular, as Linux's own
//   write-back of a shared mapping: a dirty page keeps the sandbox's view
//   of the whole page and overwrites a host change to other bytes of it at
//   write-back (last writer wins, per page).
#ifndef FS_GOFER_CACHE_H_
#define FS_GOFER_CACHE_H_

#include <atomic>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "sentry/mm/file_pages.h"
#include "sentry/mm/memory_manager.h"

namespace fs {

using base::Errno;
using base::Result;

// A donated host fd shared by open files, mappings and the cache.
using SharedFd = std::shared_ptr<base::UniqueFd>;

class GoferPageCache {
 public:
  explicit GoferPageCache(sentry::mm::MemoryFile& mf) : pages_(mf) {}
  ~GoferPageCache();

  // A mapping of the file starts (`data`: its file's fd; `write`: that fd
  // is writable, so stores may dirty pages) or ends. At the last Unref the
  // cache is written back and its pages dropped.
  void Ref(SharedFd data, bool write);
  void Unref();

  // File I/O while the cache exists (see the top comment). `fd` is the
  // caller's data fd. Read is one pread's worth (short at EOF).
  Result<size_t> Read(int fd, std::span<uint8_t> buf, uint64_t off);
  Result<size_t> Write(int fd, std::span<const uint8_t> buf, uint64_t off);
  // Truncate (or extend) to `size`: `host` changes the host file (a gofer
  // SetAttr); the cache follows when it succeeds. Held under the cache's
  // lock so that no write-back races it and re-extends the file.
  Result<void> Truncate(uint64_t size, absl::FunctionRef<Result<void>()> host);

  // Writes the unclean cached pages of file bytes [off, off+len) back to
  // the host; with `sync`, fdatasync after (msync MS_SYNC, fsync).
  Result<void> WriteBack(uint64_t off, uint64_t len, bool sync);
  // sentry::mm::MappableFile::MarkDirty: stores through a mapping follow.
  void MarkDirty(uint64_t off, uint64_t len);
  // The host file now has `size` and `mtime_ns` (a fresh stat): if it
  // changed behind the cache, clean pages go and the size is taken.
  void Revalidate(uint64_t size, int64_t mtime_ns);

  // sentry::mm::MappableFile's shared-page interface.
  Result<std::vector<sentry::mm::MappableFile::PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate);
  uint64_t SharedSize();
  std::unique_ptr<sentry::mm::MapperRegistration> AddMapper(sentry::mm::SharedMapper* m) {
    return mappers_->Add(m);
  }

 private:
  // The size as the sandbox sees it, read from the host once per
  // activation (writes and truncates through the sandbox keep it).
  Result<uint64_t> SizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the host file's (size, mtime) after the cache's own change.
  void NoteHostLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<void> WriteBackLocked(uint64_t off, uint64_t len, bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RevalidateLocked(uint64_t size, int64_t mtime_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes pages [first, end) out; mappers unmap them before they are reused.
  void DropLocked(uint64_t first, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Zeroes cached bytes [off, end) (a grown EOF must read as zeros).
  void ZeroLocked(uint64_t off, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set once every mapper has write-protected the pages of one write-back.
  using ProtectedFlag = std::shared_ptr<const std::atomic<bool>>;

  absl::Mutex mu_;  // held across host pread/pwrite; order: MemoryManager::mu_ > mu_ > SharedMappers::mu_
  sentry::mm::FilePages pages_ ABSL_GUARDED_BY(mu_);
  // Page index -> nullptr (dirty: may be mapped writable) or the flag of
  // the write-back that made it cleaning. Absent: clean (mapped read-only).
  std::map<uint64_t, ProtectedFlag> unclean_ ABSL_GUARDED_BY(mu_);
  int refs_ ABSL_GUARDED_BY(mu_) = 0;
  bool size_valid_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  // The host file as the cache last saw it (valid with size_valid_).
  uint64_t host_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t host_mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  SharedFd data_fd_ ABSL_GUARDED_BY(mu_);   // fills pages, reads the size
  SharedFd write_fd_ ABSL_GUARDED_BY(mu_);  // write-back; set once a writable mapping exists
  const std::shared_ptr<sentry::mm::SharedMappers> mappers_ = std::make_shared<sentry::mm::SharedMappers>();
};

}  // namespace fs

#endif  // FS_GOFER_CACHE_H_
