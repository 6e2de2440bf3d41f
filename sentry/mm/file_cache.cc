#include "sentry/mm/file_cache.h"

#include <algorithm>

#include "base/logging.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::mm {

FileCache::FileCache(MemoryFile& mf) : mf_(mf), budget_(std::min(kBudget, mf.capacity() / 16)) {}

FileCache::~FileCache() { Clear(); }

void FileCache::DropLocked(absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Entry>::iterator it) {
  mf_.Free(it->second.mf_off, it->second.bytes);
  total_ -= it->second.bytes;
  files_.erase(it);
}

bool FileCache::EvictOneLocked() {
  if (files_.empty()) return false;
  auto victim = files_.begin();
  for (auto it = files_.begin(); it != files_.end(); ++it) {
    if (it->second.last_use < victim->second.last_use) victim = it;
  }
  DropLocked(victim);
  return true;
}

void FileCache::Clear() {
  absl::MutexLock l(&mu_);
  while (EvictOneLocked()) {
  }
}

uint64_t FileCache::cached_bytes() const {
  absl::MutexLock l(&mu_);
  return total_;
}

std::optional<uint64_t> FileCache::Acquire(MappableFile& f, uint64_t file_off, uint64_t len) {
  auto r = AcquirePrefix(f, file_off, len);
  if (!r.has_value()) return std::nullopt;
  if (r->second != len) {
    mf_.Free(r->first, r->second);
    return std::nullopt;
  }
  return r->first;
}

std::optional<std::pair<uint64_t, uint64_t>> FileCache::AcquirePrefix(MappableFile& f, uint64_t file_off,
                                                                      uint64_t len) {
  const std::optional<MappableFile::ContentKey> key = f.CacheKey();
  if (!key.has_value() || key->size == 0 || key->size > kMaxCachedFile) return std::nullopt;
  const uint64_t bytes = PageRoundUp(key->size);
  if (len == 0 || file_off >= bytes) return std::nullopt;
  len = std::min(len, bytes - file_off);
  absl::MutexLock l(&mu_);
  auto it = files_.find(std::make_pair(key->dev, key->ino));
  if (it != files_.end() && (it->second.size != key->size || it->second.mtime_ns != key->mtime_ns ||
                             it->second.ctime_ns != key->ctime_ns)) {
    DropLocked(it);  // the file changed: mappings made from now on see the new contents
    it = files_.end();
  }
  if (it == files_.end()) {
    if (bytes > budget_) return std::nullopt;
    while (total_ + bytes > budget_ && EvictOneLocked()) {
    }
    base::Result<uint64_t> off = mf_.Allocate(bytes);
    if (!off.ok()) {
      // Memory is short: the cache gives its pages back first.
      while (EvictOneLocked()) {
      }
      return std::nullopt;
    }
    uint64_t done = 0;
    while (done < key->size) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(key->size - done, 1ull << 20));
      base::Result<size_t> n = f.ReadAt({mf_.Data(off.value() + done), want}, done);
      if (!n.ok() || n.value() == 0) break;
      done += n.value();
    }
    if (done != key->size) {
      logging::Debug("mm: file cache: short read of a {}-byte file ({} bytes): not cached", key->size, done);
      mf_.Free(off.value(), bytes);
      return std::nullopt;
    }
    it = files_.emplace(std::make_pair(key->dev, key->ino),
                        Entry{key->mtime_ns, key->ctime_ns, key->size, off.value(), bytes, 0})
             .first;
    total_ += bytes;
  }
  it->second.last_use = ++tick_;
  const uint64_t at = it->second.mf_off + file_off;
  mf_.IncRef(at, len);
  return std::make_pair(at, len);
}

}  // namespace sentry::mm
