// MemoryFile: the one memfd that holds all app memory (invariant 4), mapped
// once into the sentry so the sentry reads and writes app pages directly.
// Ranges are handed out page-aligned; freed ranges are hole-punched so the
// host gives the memory back and the range reads as zeros when reused.
//
// Ownership: an allocated page has one reference when allocated; fork adds
// references (IncRef) for pages that both address spaces now hold (private
// copy-on-write pages and shared anonymous memory). Free() drops one
// reference per page and gives a page back only when its last one goes.
// Pages with one reference have no entry in refs_ (the common case).
//
// Commitment: `capacity` (--total-memory) bounds the memory the app can
// make the host hold, not the offsets handed out. A range allocated with
// Backing::kLazy is charged nothing until its pages are committed (a fault
// or a copy touching them: MemoryManager commits before it maps or
// touches a page); the offset space is larger than the capacity, so an
// address-space reservation (MAP_NORESERVE, a 16 GiB heap arena, thread
// stacks) costs only what is touched. Only committed pages are ever mapped
// into an app or touched by the sentry, so the host holds at most
// `capacity` bytes of app memory.
#ifndef SENTRY_MM_MEMORY_FILE_H_
#define SENTRY_MM_MEMORY_FILE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "sentry/mm/range_set.h"

namespace sentry::mm {

class FileCache;

// The sandbox's memory-file offset space (runsc boot): every lazily
// committed mapping takes offsets for its whole length, so this bounds the
// total size of the app's MAP_NORESERVE and other large anonymous mappings.
// Half of x86-64's 128 TiB user address space, which the sentry must also
// hold (it maps the whole file) besides its own memory.
constexpr uint64_t kMemoryFileOffsetSpace = 64ull << 40;

class MemoryFile {
 public:
  // Creates the memfd (sparse, `offset_space` bytes, at least `capacity`;
  // 0: `capacity`) and the sentry's mapping. At most `capacity` bytes are
  // committed at once. Where the host cannot map all of `offset_space`
  // (the sentry's address space, RLIMIT_AS), the largest half, quarter...
  // of it that maps, but never less than `capacity`.
  static base::Result<std::unique_ptr<MemoryFile>> Create(uint64_t capacity, uint64_t offset_space = 0);
  // The offsets there are: the sum of all allocated ranges, lazy or not.
  uint64_t offset_space() const { return offset_space_; }
  ~MemoryFile();

  int fd() const { return fd_.get(); }
  uint64_t capacity() const { return capacity_; }
  // kEager: committed at once; kLazy: committed page by page by Commit.
  enum class Backing { kEager, kLazy };
  // Page-aligned range of `length` bytes, reading as zeros. ENOMEM if the
  // offset space is full or (kEager) committing it would pass capacity.
  base::Result<uint64_t> Allocate(uint64_t length, Backing backing = Backing::kEager);
  // Charges the uncommitted pages of [offset, offset + length) (allocated
  // ranges): ENOMEM, committing nothing, if that would pass capacity.
  base::Result<void> Commit(uint64_t offset, uint64_t length);
  // Whether every page of the range is committed.
  bool IsCommitted(uint64_t offset, uint64_t length) const;
  // The committed sub-ranges of [offset, offset + length), ascending.
  std::vector<std::pair<uint64_t, uint64_t>> CommittedRuns(uint64_t offset, uint64_t length) const;
  // Punches the range and makes it uncommitted again (MADV_DONTNEED of
  // memory only we hold): the caller unmaps it from the app first or
  // right after, under its lock, so nothing touches it uncharged.
  void Uncommit(uint64_t offset, uint64_t length);
  // Bytes committed (at most capacity): what /proc/meminfo calls used.
  uint64_t committed() const;
  // Drops one reference to each page of the range; pages whose last
  // reference goes return to the allocator and to the host (punch hole).
  void Free(uint64_t offset, uint64_t length);
  // Adds one reference to each page of an allocated range (fork).
  void IncRef(uint64_t offset, uint64_t length);
  // Copies `length` bytes from offset `src` to `dst` (a fresh range, which
  // reads as zeros), skipping the source's holes so copying untouched
  // memory costs nothing.
  void CopyPages(uint64_t dst, uint64_t src, uint64_t length);
  // Whether any page of the range has more than one reference.
  bool IsShared(uint64_t offset, uint64_t length) const;
  // Extends the allocated range ending at `end` by `length` bytes if the
  // range right after it is free (keeps a growing heap one VMA).
  bool TryExtend(uint64_t end, uint64_t length, Backing backing = Backing::kEager);
  // Punches a hole without freeing: the range stays owned and reads as
  // zeros (MADV_DONTNEED of private anonymous memory).
  void Decommit(uint64_t offset, uint64_t length);
  // Whether the page at `offset` has memory (is not a hole): mincore(2).
  bool HasData(uint64_t offset) const;
  // Bytes of [offset, offset + length) that hold memory (not holes), by
  // SEEK_DATA/SEEK_HOLE: a VMA's resident set for /proc.
  uint64_t DataBytes(uint64_t offset, uint64_t length) const;
  // Bytes currently handed out (for tests and accounting).
  uint64_t allocated() const;
  // Of those, bytes holding file data (tmpfs, memfd): FilePages keeps it.
  void AddFileData(int64_t delta) { file_data_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed); }
  uint64_t file_data() const { return file_data_.load(std::memory_order_relaxed); }
  // Sentry-side address of file offset `offset`; valid for the life of this.
  uint8_t* Data(uint64_t offset) const { return base_ + offset; }
  // The page cache of private file mappings (file_cache.h).
  FileCache& file_cache() { return *file_cache_; }

 private:
  MemoryFile(base::UniqueFd fd, uint8_t* base, uint64_t capacity, uint64_t offset_space);
  base::UniqueFd fd_;
  uint8_t* base_;
  uint64_t capacity_;
  uint64_t offset_space_;
  std::atomic<uint64_t> file_data_{0};
  mutable absl::Mutex mu_;
  std::map<uint64_t, uint64_t> free_ ABSL_GUARDED_BY(mu_);  // offset -> length
  uint64_t allocated_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  RangeSet uncommitted_ ABSL_GUARDED_BY(mu_);  // allocated, not committed
  // offset -> {end, references beyond the first}; disjoint, split on demand.
  struct Refs {
    uint64_t end;
    uint32_t extra;
  };
  std::map<uint64_t, Refs> refs_ ABSL_GUARDED_BY(mu_);
  void SplitRefsAt(uint64_t at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeLocked(uint64_t offset, uint64_t length) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::unique_ptr<FileCache> file_cache_;  // holds references: destroyed first
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_MEMORY_FILE_H_
