// FileCache: a page cache for private file mappings of cacheable files (the
// rootfs's binaries and libraries). A cached file's contents live once in a
// contiguous memory-file range; a MAP_PRIVATE mapping of it references those
// pages copy-on-write (like a forked mapping), so exec and ld.so map whole
// segments without reading the file or faulting page by page, and a write
// copies only the written chunk (BreakCow). Linux's page cache, minus
// writeback: only files whose MappableFile gives a ContentKey are cached,
// and a changed key (size, mtime or ctime) drops the old copy.
//
// Bounded: files up to kMaxCachedFile, kBudget bytes in all (less for small
// memory files), least recently used first out. An evicted file's pages stay
// while mappings still reference them (MemoryFile reference counts).
#ifndef SENTRY_MM_FILE_CACHE_H_
#define SENTRY_MM_FILE_CACHE_H_

#include <cstdint>
#include <optional>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace sentry::mm {

class MemoryFile;
class MappableFile;

class FileCache {
 public:
  static constexpr uint64_t kMaxCachedFile = 32ull << 20;
  static constexpr uint64_t kBudget = 256ull << 20;

  explicit FileCache(MemoryFile& mf);
  ~FileCache();

  // The memory-file offset holding file bytes [file_off, file_off + len)
  // (page aligned), with one reference taken on that range for the caller
  // (MemoryFile::Free gives it back). nullopt if the file is not cacheable,
  // the range goes past the file's last page, or memory is short.
  std::optional<uint64_t> Acquire(MappableFile& f, uint64_t file_off, uint64_t len);
  // Like Acquire for the part of [file_off, file_off + len) up to the file's
  // last page: (memory-file offset, length). ld.so maps a library's whole
  // address range from offset 0 first (past EOF when the bss is larger than
  // the rest of the file), then maps the segments over it.
  std::optional<std::pair<uint64_t, uint64_t>> AcquirePrefix(MappableFile& f, uint64_t file_off, uint64_t len);
  // Drops every cached file (memory pressure, tests).
  void Clear();
  uint64_t cached_bytes() const;

 private:
  struct Entry {
    int64_t mtime_ns, ctime_ns;
    uint64_t size;
    uint64_t mf_off;
    uint64_t bytes;  // page rounded size
    uint64_t last_use;
  };
  void DropLocked(absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool EvictOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MemoryFile& mf_;
  const uint64_t budget_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Entry> files_ ABSL_GUARDED_BY(mu_);  // (dev, ino)
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_FILE_CACHE_H_
