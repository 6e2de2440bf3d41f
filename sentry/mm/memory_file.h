// MemoryFile: the one memfd that holds all app memory (invariant 4), mapped
// once into the sentry so the sentry reads and writes app pages directly.
// Ranges are handed out page-aligned; freed ranges are hole-punched so the
// host gives the memory back and the range reads as zeros when reused.
//
// Ownership: each allocated range has exactly one owner (a VMA piece of one
// MemoryManager). TODO(#5): copy-on-write fork will need per-range reference
// counts here (offset -> refs in a second map, split like free_), with
// Free() dropping a reference and punching only at zero; MemoryManager then
// copies a shared private range on the first write fault after fork.
#ifndef SENTRY_MM_MEMORY_FILE_H_
#define SENTRY_MM_MEMORY_FILE_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace sentry::mm {

class MemoryFile {
 public:
  // Creates the memfd (sparse, `capacity` bytes) and the sentry's mapping.
  static base::Result<std::unique_ptr<MemoryFile>> Create(uint64_t capacity);
  ~MemoryFile();

  int fd() const { return fd_.get(); }
  uint64_t capacity() const { return capacity_; }
  // Page-aligned range of `length` bytes, reading as zeros. ENOMEM if full.
  base::Result<uint64_t> Allocate(uint64_t length);
  // Returns the range to the allocator and to the host (punch hole).
  void Free(uint64_t offset, uint64_t length);
  // Punches a hole without freeing: the range stays owned and reads as
  // zeros (MADV_DONTNEED of private anonymous memory).
  void Decommit(uint64_t offset, uint64_t length);
  // Bytes currently handed out (for tests and accounting).
  uint64_t allocated() const;
  // Sentry-side address of file offset `offset`; valid for the life of this.
  uint8_t* Data(uint64_t offset) const { return base_ + offset; }

 private:
  MemoryFile(base::UniqueFd fd, uint8_t* base, uint64_t capacity);
  base::UniqueFd fd_;
  uint8_t* base_;
  uint64_t capacity_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, uint64_t> free_ ABSL_GUARDED_BY(mu_);  // offset -> length
  uint64_t allocated_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_MEMORY_FILE_H_
