// tmpfs file data: sparse 4 KiB pages keyed by page index. A missing page
// reads as zeros and is a hole for SEEK_HOLE.
#include <fcntl.h>
#include <linux/falloc.h>

#include <cstring>

#include "fs/synthetic.h"
#include "sentry/kernel/task.h"
#include "fs/tmpfs.h"

namespace fs {

uint64_t TmpfsInode::size() {
  absl::MutexLock l(&mu_);
  return size_;
}

Result<size_t> TmpfsInode::ReadAt(std::span<uint8_t> buf, uint64_t off) {
  if (type_ == S_IFDIR) return Errno::kEISDIR;
  if (off > kMaxFileSize) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (off >= size_) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - off));
  size_t done = 0;
  while (done < n) {
    const uint64_t pos = off + done;
    const uint64_t idx = pos / kPageSize;
    const size_t in_page = pos % kPageSize;
    const size_t chunk = std::min(n - done, kPageSize - in_page);
    auto it = pages_.find(idx);
    if (it == pages_.end()) {
      std::memset(buf.data() + done, 0, chunk);
    } else {
      std::memcpy(buf.data() + done, it->second->data() + in_page, chunk);
    }
    done += chunk;
  }
  return n;
}

Result<size_t> TmpfsInode::WriteAt(std::span<const uint8_t> buf, uint64_t off, bool append, uint64_t* end) {
  if (type_ != S_IFREG) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (append) off = size_;
  if (off > kMaxFileSize) return Errno::kEFBIG;
  size_t n = buf.size();
  if (n > kMaxFileSize - off) {
    n = static_cast<size_t>(kMaxFileSize - off);
    if (n == 0) return Errno::kEFBIG;
  }
  size_t done = 0;
  while (done < n) {
    const uint64_t pos = off + done;
    const uint64_t idx = pos / kPageSize;
    const size_t in_page = pos % kPageSize;
    const size_t chunk = std::min(n - done, kPageSize - in_page);
    std::unique_ptr<Page>& page = pages_[idx];
    if (page == nullptr) {
      page = std::make_unique<Page>();
      page->fill(0);
    }
    std::memcpy(page->data() + in_page, buf.data() + done, chunk);
    done += chunk;
  }
  if (n > 0) {
    size_ = std::max(size_, off + n);
    // Linux's file_remove_privs(): a write by anyone clears setuid, and
    // setgid when group-exec is set. The sentry has no capabilities model
    // for this yet, so clear them for every writer, like an unprivileged one.
    if (perm_ & (S_ISUID | S_ISGID)) {
      perm_ &= ~S_ISUID;
      if (perm_ & S_IXGRP) perm_ &= ~S_ISGID;
    }
    mtime_ = ctime_ = Now();
  }
  *end = off + n;
  return n;
}

void TmpfsInode::TruncateLocked(uint64_t size) {
  if (size < size_) {
    // Drop whole pages past the end and zero the tail of the last one, so a
    // later extension reads zeros.
    const uint64_t first_dead = (size + kPageSize - 1) / kPageSize;
    pages_.erase(pages_.lower_bound(first_dead), pages_.end());
    if (size % kPageSize != 0) {
      auto it = pages_.find(size / kPageSize);
      if (it != pages_.end()) {
        std::memset(it->second->data() + size % kPageSize, 0, kPageSize - size % kPageSize);
      }
    }
  }
  size_ = size;
}

Result<void> TmpfsInode::Allocate(int mode, uint64_t off, uint64_t len) {
  if (type_ != S_IFREG) return Errno::kENODEV;
  uint64_t end;
  if (__builtin_add_overflow(off, len, &end) || end > kMaxFileSize) return Errno::kEFBIG;
  absl::MutexLock l(&mu_);
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // Whole pages in the range are freed, partial ones zeroed; size stays.
    for (uint64_t pos = off; pos < std::min(end, size_);) {
      const uint64_t idx = pos / kPageSize;
      const size_t in_page = pos % kPageSize;
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(end - pos, kPageSize - in_page));
      auto it = pages_.find(idx);
      if (it != pages_.end()) {
        if (chunk == kPageSize) {
          pages_.erase(it);
        } else {
          std::memset(it->second->data() + in_page, 0, chunk);
        }
      }
      pos += chunk;
    }
    mtime_ = ctime_ = Now();
    return {};
  }
  // Allocation: pages are made on demand, so only the size matters.
  // TODO(#4): reserve memory so later writes cannot fail.
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size_) {
    size_ = end;
    mtime_ = ctime_ = Now();
  }
  return {};
}

Result<uint64_t> TmpfsInode::SeekDataHole(uint64_t off, int whence) {
  absl::MutexLock l(&mu_);
  if (off >= size_) return Errno::kENXIO;
  uint64_t idx = off / kPageSize;
  if (whence == SEEK_DATA) {
    auto it = pages_.lower_bound(idx);
    if (it == pages_.end()) return Errno::kENXIO;
    const uint64_t pos = std::max(off, it->first * kPageSize);
    if (pos >= size_) return Errno::kENXIO;
    return pos;
  }
  // SEEK_HOLE: the first page index >= idx with no page; EOF is a hole.
  for (auto it = pages_.lower_bound(idx); it != pages_.end() && it->first == idx; ++it) ++idx;
  return std::min(std::max(off, idx * kPageSize), size_);
}

}  // namespace fs
