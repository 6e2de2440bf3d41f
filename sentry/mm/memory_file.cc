#include "sentry/mm/memory_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "sentry/mm/file_cache.h"

namespace sentry::mm {

namespace {
constexpr uint64_t kPage = 4096;
uint64_t RoundUp(uint64_t a) { return (a + kPage - 1) & ~(kPage - 1); }
}  // namespace

base::Result<std::unique_ptr<MemoryFile>> MemoryFile::Create(uint64_t capacity, uint64_t offset_space) {
  capacity = RoundUp(capacity);
  if (capacity == 0) return base::Errno::kEINVAL;
  offset_space = std::max(capacity, RoundUp(offset_space));
  // CLOEXEC is fine: platform stubs are forked from the sentry, not exec'd,
  // and inherit the fd explicitly.
  base::UniqueFd fd(memfd_create("runsc-memory", MFD_CLOEXEC));
  if (!fd) {
    const base::Errno e = base::FromHost(errno);
    logging::Error("mm: memfd_create(runsc-memory) failed: {}", base::ErrnoName(e));
    return e;
  }
  // NORESERVE: the file is sparse; pages exist only once touched. The
  // sentry maps all of it, so the offset space is bounded by the sentry's
  // own address space (and RLIMIT_AS): as much of `offset_space` as the
  // host gives, halving down to `capacity`.
  void* p = MAP_FAILED;
  while (true) {
    p = mmap(nullptr, offset_space, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(), 0);
    if (p != MAP_FAILED || errno != ENOMEM || offset_space / 2 < capacity) break;
    offset_space = RoundUp(offset_space / 2);
  }
  if (p == MAP_FAILED) {
    const base::Errno e = base::FromHost(errno);
    logging::Error("mm: mmap(memfd, {:#x}) failed: {}", offset_space, base::ErrnoName(e));
    return e;
  }
  if (ftruncate(fd.get(), static_cast<off_t>(offset_space)) != 0) {
    const base::Errno e = base::FromHost(errno);
    logging::Error("mm: ftruncate(memfd, {:#x}) failed: {}", offset_space, base::ErrnoName(e));
    munmap(p, offset_space);
    return e;
  }
  return std::unique_ptr<MemoryFile>(
      new MemoryFile(std::move(fd), static_cast<uint8_t*>(p), capacity, offset_space));
}

MemoryFile::MemoryFile(base::UniqueFd fd, uint8_t* base, uint64_t capacity, uint64_t offset_space)
    : fd_(std::move(fd)), base_(base), capacity_(capacity), offset_space_(offset_space) {
  free_[0] = offset_space;
  file_cache_ = std::make_unique<FileCache>(*this);
}

MemoryFile::~MemoryFile() {
  file_cache_.reset();
  munmap(base_, offset_space_);
}

base::Result<uint64_t> MemoryFile::Allocate(uint64_t length, Backing backing) {
  if (length == 0 || length > offset_space_) return base::Errno::kENOMEM;
  length = RoundUp(length);
  absl::MutexLock l(&mu_);
  const bool eager = backing == Backing::kEager;
  if (eager && length > capacity_ - committed_) return base::Errno::kENOMEM;
  // First fit: keeps low offsets dense, which keeps the file compact.
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < length) continue;
    const uint64_t off = it->first;
    const uint64_t rest = it->second - length;
    free_.erase(it);
    if (rest != 0) free_[off + length] = rest;
    allocated_ += length;
    if (eager) {
      committed_ += length;
    } else {
      uncommitted_.Add(off, off + length);
    }
    return off;
  }
  return base::Errno::kENOMEM;
}

bool MemoryFile::TryExtend(uint64_t end, uint64_t length, Backing backing) {
  length = RoundUp(length);
  absl::MutexLock l(&mu_);
  const bool eager = backing == Backing::kEager;
  if (eager && length > capacity_ - committed_) return false;
  auto it = free_.find(end);
  if (it == free_.end() || it->second < length) return false;
  const uint64_t rest = it->second - length;
  free_.erase(it);
  if (rest != 0) free_[end + length] = rest;
  allocated_ += length;
  if (eager) {
    committed_ += length;
  } else {
    uncommitted_.Add(end, end + length);
  }
  return true;
}

base::Result<void> MemoryFile::Commit(uint64_t offset, uint64_t length) {
  length = RoundUp(length);
  absl::MutexLock l(&mu_);
  if (uncommitted_.empty()) return base::Ok();
  const uint64_t need = uncommitted_.Bytes(offset, offset + length);
  if (need == 0) return base::Ok();
  if (need > capacity_ - committed_) return base::Errno::kENOMEM;
  uncommitted_.Remove(offset, offset + length);
  committed_ += need;
  return base::Ok();
}

bool MemoryFile::IsCommitted(uint64_t offset, uint64_t length) const {
  absl::MutexLock l(&mu_);
  return uncommitted_.empty() || uncommitted_.Bytes(offset, offset + RoundUp(length)) == 0;
}

std::vector<std::pair<uint64_t, uint64_t>> MemoryFile::CommittedRuns(uint64_t offset, uint64_t length) const {
  absl::MutexLock l(&mu_);
  if (uncommitted_.empty()) return {{offset, offset + length}};
  return uncommitted_.Intersect(offset, offset + length, /*covered=*/false);
}

void MemoryFile::Uncommit(uint64_t offset, uint64_t length) {
  length = RoundUp(length);
  if (length == 0) return;
  absl::MutexLock l(&mu_);
  committed_ -= length - uncommitted_.Bytes(offset, offset + length);
  uncommitted_.Add(offset, offset + length);
  Decommit(offset, length);
}

uint64_t MemoryFile::committed() const {
  absl::MutexLock l(&mu_);
  return committed_;
}

void MemoryFile::Decommit(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  // Gives the pages back to the host; every mapping of them (the sentry's
  // and the app's) now reads zeros.
  if (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) != 0) {
    const base::Errno e = base::FromHost(errno);
    // Cannot happen on a memfd; if it does, zero by hand so reuse stays safe.
    logging::Error("mm: fallocate(PUNCH_HOLE, {:#x}, {:#x}) failed: {}", offset, length, base::ErrnoName(e));
    memset(base_ + offset, 0, length);
  }
}

void MemoryFile::SplitRefsAt(uint64_t at) {
  auto it = refs_.upper_bound(at);
  if (it == refs_.begin()) return;
  --it;
  if (it->first < at && it->second.end > at) {
    refs_[at] = Refs{it->second.end, it->second.extra};
    it->second.end = at;
  }
}

void MemoryFile::IncRef(uint64_t offset, uint64_t length) {
  length = RoundUp(length);
  if (length == 0) return;
  const uint64_t end = offset + length;
  absl::MutexLock l(&mu_);
  SplitRefsAt(offset);
  SplitRefsAt(end);
  uint64_t cursor = offset;
  auto it = refs_.lower_bound(offset);
  while (cursor < end) {
    if (it != refs_.end() && it->first == cursor) {
      ++it->second.extra;
      cursor = it->second.end;
      ++it;
      continue;
    }
    const uint64_t gap_end = (it != refs_.end() && it->first < end) ? it->first : end;
    refs_.emplace_hint(it, cursor, Refs{gap_end, 1});
    cursor = gap_end;
  }
}

void MemoryFile::CopyPages(uint64_t dst, uint64_t src, uint64_t length) {
  uint64_t off = src;
  const uint64_t end = src + length;
  while (off < end) {
    const off_t data = lseek(fd_.get(), static_cast<off_t>(off), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return;  // only holes from here on
      memcpy(base_ + dst + (off - src), base_ + off, end - off);  // no SEEK_DATA: copy everything
      return;
    }
    if (static_cast<uint64_t>(data) >= end) return;
    off_t hole = lseek(fd_.get(), data, SEEK_HOLE);
    const uint64_t stop = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    const uint64_t from = static_cast<uint64_t>(data);
    memcpy(base_ + dst + (from - src), base_ + from, stop - from);
    off = stop;
  }
}

bool MemoryFile::IsShared(uint64_t offset, uint64_t length) const {
  const uint64_t end = offset + RoundUp(length);
  absl::MutexLock l(&mu_);
  auto it = refs_.upper_bound(offset);
  if (it != refs_.begin() && std::prev(it)->second.end > offset) return true;
  return it != refs_.end() && it->first < end;
}

void MemoryFile::Free(uint64_t offset, uint64_t length) {
  length = RoundUp(length);
  if (length == 0) return;
  const uint64_t end = offset + length;
  absl::MutexLock l(&mu_);
  SplitRefsAt(offset);
  SplitRefsAt(end);
  // Shared pages lose a reference; the gaps between them are freed.
  uint64_t cursor = offset;
  auto it = refs_.lower_bound(offset);
  while (it != refs_.end() && it->first < end) {
    if (it->first > cursor) FreeLocked(cursor, it->first - cursor);
    cursor = it->second.end;
    if (--it->second.extra == 0) {
      it = refs_.erase(it);
    } else {
      ++it;
    }
  }
  if (cursor < end) FreeLocked(cursor, end - cursor);
}

void MemoryFile::FreeLocked(uint64_t offset, uint64_t length) {
  // Punching under mu_ keeps a freed range from being handed out before it
  // reads as zeros.
  Decommit(offset, length);
  allocated_ -= length;
  committed_ -= length - uncommitted_.Bytes(offset, offset + length);
  uncommitted_.Remove(offset, offset + length);
  uint64_t start = offset, end = offset + length;
  // Coalesce with the neighbours.
  auto next = free_.lower_bound(start);
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      free_.erase(prev);
    }
  }
  if (next != free_.end() && next->first == end) {
    end += next->second;
    free_.erase(next);
  }
  free_[start] = end - start;
}

bool MemoryFile::HasData(uint64_t offset) const {
  const off_t data = lseek(fd_.get(), static_cast<off_t>(offset), SEEK_DATA);
  return data >= 0 && static_cast<uint64_t>(data) < offset + kPage;
}

uint64_t MemoryFile::DataBytes(uint64_t offset, uint64_t length) const {
  uint64_t total = 0;
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    const off_t data = lseek(fd_.get(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 || static_cast<uint64_t>(data) >= end) break;
    off_t hole = lseek(fd_.get(), data, SEEK_HOLE);
    if (hole < 0) break;
    const uint64_t stop = std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    total += stop - static_cast<uint64_t>(data);
    pos = stop;
  }
  return total;
}

uint64_t MemoryFile::allocated() const {
  absl::MutexLock l(&mu_);
  return allocated_;
}

}  // namespace sentry::mm
