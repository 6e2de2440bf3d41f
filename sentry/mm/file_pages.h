// FilePages: a file's data held in memory-file pages (tmpfs, memfd, the
// overlay's upper layer, after Linux's mm/shmem.c), so that read(2),
// write(2) and every MAP_SHARED mapping of the file use the very same pages,
// and file data counts against the memory file's capacity (--total-memory).
//
// SharedMappers: the address spaces that map such a file MAP_SHARED. Pages
// the file gives up (truncate, hole punch) may still be mapped in those
// address spaces, whose platform mappings only their own task threads may
// change (platform.h): the pages are handed to every mapper as one batch and
// return to the memory file only once each mapper has unmapped them
// (MemoryManager::ProcessInvalidations), so a freed page is never reachable
// by an app once it is reused.
#ifndef SENTRY_MM_FILE_PAGES_H_
#define SENTRY_MM_FILE_PAGES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/mm/memory_file.h"

namespace sentry::mm {

// Memory-file ranges that return to the memory file when the last holder
// of the batch lets go.
class FreedPages {
 public:
  FreedPages(MemoryFile& mf, std::vector<std::pair<uint64_t, uint64_t>> ranges)
      : mf_(mf), ranges_(std::move(ranges)) {}
  ~FreedPages() {
    for (auto [off, len] : ranges_) {
      mf_.Free(off, len);
      mf_.AddFileData(-static_cast<int64_t>(len));
    }
  }
  FreedPages(const FreedPages&) = delete;
  FreedPages& operator=(const FreedPages&) = delete;

 private:
  MemoryFile& mf_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // offset, length
};

// An address space mapping files MAP_SHARED (MemoryManager).
class SharedMapper {
 public:
  virtual ~SharedMapper() = default;
  // The file `id` no longer has pages for file bytes [start, end): the
  // mapper must unmap them from its app before dropping `pages`. Called
  // with the file's lock held: must only queue.
  virtual void QueueInvalidation(const void* id, uint64_t start, uint64_t end,
                                 std::shared_ptr<FreedPages> pages) = 0;
};

// Keeps a SharedMapper registered with a file while it lives.
class MapperRegistration {
 public:
  virtual ~MapperRegistration() = default;
  // False once the file is gone (its address may then name another file).
  virtual bool alive() const = 0;
};

class SharedMappers : public std::enable_shared_from_this<SharedMappers> {
 public:
  std::unique_ptr<MapperRegistration> Add(SharedMapper* m);
  // The file gave up pages that held file bytes [start, end): queue them
  // to every mapper, or free them now if there is none.
  void Release(MemoryFile& mf, const void* id, uint64_t start, uint64_t end,
               std::vector<std::pair<uint64_t, uint64_t>> ranges);
  // The file changed how its pages for file bytes [start, end) may be
  // mapped (write-protected after a write-back): every mapper maps them
  // again as SharedPages now says, then drops its reference to `done`,
  // whose destructor so tells the file that every mapper did.
  void Resync(const void* id, uint64_t start, uint64_t end, std::shared_ptr<FreedPages> done);

 private:
  friend class Registration;
  void Remove(SharedMapper* m);
  absl::Mutex mu_;
  // A mapper may register once per MappableFile object of the same file.
  std::map<SharedMapper*, int> mappers_ ABSL_GUARDED_BY(mu_);
};

// Not thread-safe: the owner (TmpfsInode) locks.
class FilePages {
 public:
  static constexpr uint64_t kPage = 4096;
  explicit FilePages(MemoryFile& mf) : mf_(mf) {}
  ~FilePages();  // Frees every page.
  FilePages(const FilePages&) = delete;
  FilePages& operator=(const FilePages&) = delete;

  MemoryFile& memory_file() const { return mf_; }
  // Pages present.
  uint64_t npages() const { return npages_; }

  // fn(offset_in_request, sentry pointer or nullptr for a hole, n) over the
  // bytes [off, off+len), in order.
  void ForEach(uint64_t off, uint64_t len, absl::FunctionRef<void(uint64_t, uint8_t*, size_t)> fn) const;
  // Gives the holes among pages [first, end) zeroed pages. Returns the
  // first page index that has no page after the call: `end` on success,
  // less when the memory file is full.
  uint64_t Fill(uint64_t first, uint64_t end);
  // Takes pages [first, end) out of the file; returns their memory-file
  // ranges (offset, length), which the caller frees.
  std::vector<std::pair<uint64_t, uint64_t>> Remove(uint64_t first, uint64_t end);

  struct Run {
    uint64_t page;    // first page index
    uint64_t npages;
    uint64_t mf_off;  // memory-file offset of `page`
  };
  // The present pages among [first, end), as runs contiguous in both.
  std::vector<Run> Runs(uint64_t first, uint64_t end) const;
  // First present page index >= idx (UINT64_MAX if none) / first absent one.
  uint64_t NextData(uint64_t idx) const;
  uint64_t NextHole(uint64_t idx) const;

 private:
  struct Extent {
    uint64_t npages;
    uint64_t mf_off;
  };
  // Splits the extent straddling page idx so that idx starts one.
  void SplitAt(uint64_t idx);
  MemoryFile& mf_;
  std::map<uint64_t, Extent> ext_;  // first page index -> extent
  uint64_t npages_ = 0;
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_FILE_PAGES_H_
