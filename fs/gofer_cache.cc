#include "fs/gofer_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/logging.h"

namespace fs {
namespace {

constexpr uint64_t kPage = sentry::mm::FilePages::kPage;

uint64_t PagesUpTo(uint64_t bytes) { return bytes / kPage + (bytes % kPage != 0 ? 1 : 0); }

// pread until `buf` is full or EOF; zeros after EOF (a host file shorter
// than the sandbox thinks: truncated behind our back).
Result<void> PReadFull(int fd, std::span<uint8_t> buf, uint64_t off) {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::FromHost(errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  std::memset(buf.data() + done, 0, buf.size() - done);
  return {};
}

Result<void> PWriteFull(int fd, const uint8_t* data, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pwrite(fd, data + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::FromHost(errno);
    }
    if (n == 0) return Errno::kEIO;
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

GoferPageCache::~GoferPageCache() {
  // Every GoferMappable holds a reference, so refs_ is 0 and the pages are
  // gone already; FilePages frees anything left.
}

void GoferPageCache::Ref(SharedFd data, bool write) {
  absl::MutexLock l(&mu_);
  ++refs_;
  if (data_fd_ == nullptr) data_fd_ = data;
  if (write && write_fd_ == nullptr) write_fd_ = std::move(data);
}

void GoferPageCache::Unref() {
  absl::MutexLock l(&mu_);
  if (--refs_ > 0) return;
  // The last mapping is gone (munmap, exit, exec): its stores go to the
  // host and the pages back to the memory file.
  if (Result<void> r = WriteBackLocked(0, UINT64_MAX, /*sync=*/false); !r.ok()) {
    logging::Warn("gofer: writing back a shared mapping at its last unmap: {}", base::ErrnoText(r.error()));
  }
  DropLocked(0, UINT64_MAX);
  size_valid_ = false;
  data_fd_.reset();
  write_fd_.reset();
}

Result<uint64_t> GoferPageCache::SizeLocked() {
  if (size_valid_) return size_;
  if (data_fd_ == nullptr) return Errno::kEIO;
  struct stat st;
  if (fstat(data_fd_->get(), &st) != 0) return base::FromHost(errno);
  size_ = static_cast<uint64_t>(st.st_size);
  size_valid_ = true;
  return size_;
}

Result<size_t> GoferPageCache::Read(int fd, std::span<uint8_t> buf, uint64_t off) {
  absl::MutexLock l(&mu_);
  if (pages_.npages() == 0) {
    while (true) {
      const ssize_t n = pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  const uint64_t size = TRY(SizeLocked());
  if (off >= size || buf.empty()) return 0;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
  Result<void> err = base::Ok();
  pages_.ForEach(off, n, [&](uint64_t at, uint8_t* data, size_t len) {
    if (!err.ok()) return;
    if (data != nullptr) {
      std::memcpy(buf.data() + at, data, len);
    } else {
      err = PReadFull(fd, buf.subspan(at, len), off + at);
    }
  });
  if (!err.ok()) return err.error();
  return n;
}

Result<size_t> GoferPageCache::Write(int fd, std::span<const uint8_t> buf, uint64_t off) {
  absl::MutexLock l(&mu_);
  size_t n;
  while (true) {
    const ssize_t r = pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (r >= 0) {
      n = static_cast<size_t>(r);
      break;
    }
    if (errno != EINTR) return base::FromHost(errno);
  }
  if (!size_valid_ || n == 0) return n;  // no pages without a size
  // A write past EOF leaves a gap that reads as zeros; the cached page
  // holding the old EOF may hold stores made past it through a mapping.
  if (off > size_) ZeroLocked(size_, off);
  pages_.ForEach(off, n, [&](uint64_t at, uint8_t* data, size_t len) {
    if (data != nullptr) std::memcpy(data, buf.data() + at, len);
  });
  size_ = std::max<uint64_t>(size_, off + n);
  return n;
}

Result<void> GoferPageCache::Truncate(uint64_t size, absl::FunctionRef<Result<void>()> host) {
  absl::MutexLock l(&mu_);
  TRY(host());
  if (!size_valid_) return {};
  if (size < size_) {
    // As shmem_setattr/truncate_pagecache: whole pages past the end go
    // (mappers unmap them: SIGBUS), the tail of the last one reads zeros.
    DropLocked(PagesUpTo(size), UINT64_MAX);
    if (size % kPage != 0) ZeroLocked(size, size - size % kPage + kPage);
  } else {
    ZeroLocked(size_, std::min(size, PagesUpTo(size_) * kPage));
  }
  size_ = size;
  return {};
}

Result<void> GoferPageCache::WriteBack(uint64_t off, uint64_t len, bool sync) {
  absl::MutexLock l(&mu_);
  return WriteBackLocked(off, len, sync);
}

Result<void> GoferPageCache::WriteBackLocked(uint64_t off, uint64_t len, bool sync) {
  if (write_fd_ == nullptr || pages_.npages() == 0 || !size_valid_) return {};
  const uint64_t end = std::min(len > UINT64_MAX - off ? UINT64_MAX : off + len, size_);
  if (off >= end) return {};
  const sentry::mm::MemoryFile& mf = pages_.memory_file();
  for (const auto& r : pages_.Runs(off / kPage, PagesUpTo(end))) {
    const uint64_t s = std::max(r.page * kPage, off);
    const uint64_t e = std::min((r.page + r.npages) * kPage, end);
    if (s >= e) continue;
    TRY(PWriteFull(write_fd_->get(), mf.Data(r.mf_off + (s - r.page * kPage)), e - s, s));
  }
  if (sync && fdatasync(write_fd_->get()) != 0 && errno != EINVAL) return base::FromHost(errno);
  return {};
}

void GoferPageCache::DropLocked(uint64_t first, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> freed = pages_.Remove(first, end);
  if (freed.empty()) return;
  mappers_->Release(pages_.memory_file(), this, first * kPage, end >= UINT64_MAX / kPage ? UINT64_MAX : end * kPage,
                    std::move(freed));
}

void GoferPageCache::ZeroLocked(uint64_t off, uint64_t end) {
  if (off >= end) return;
  pages_.ForEach(off, end - off, [](uint64_t, uint8_t* data, size_t len) {
    if (data != nullptr) std::memset(data, 0, len);
  });
}

Result<std::vector<sentry::mm::MappableFile::PageRun>> GoferPageCache::SharedPages(uint64_t off, uint64_t len,
                                                                                    bool allocate) {
  absl::MutexLock l(&mu_);
  const uint64_t size = TRY(SizeLocked());
  const uint64_t first = off / kPage;
  const uint64_t last = std::min(PagesUpTo(off + len), PagesUpTo(size));
  std::vector<sentry::mm::MappableFile::PageRun> out;
  if (first >= last) return out;
  if (allocate) {
    // Each hole gets pages filled from the host file (filemap_fault).
    uint64_t idx = first;
    while (idx < last) {
      const uint64_t h = pages_.NextHole(idx);
      if (h >= last) break;
      const uint64_t he = std::min(pages_.NextData(h), last);
      if (pages_.Fill(h, he) < he) {
        DropLocked(h, he);
        return Errno::kENOMEM;
      }
      Result<void> err = base::Ok();
      pages_.ForEach(h * kPage, std::min(he * kPage, size) - h * kPage, [&](uint64_t at, uint8_t* data, size_t n) {
        if (err.ok() && data != nullptr) err = PReadFull(data_fd_->get(), {data, n}, h * kPage + at);
      });
      if (!err.ok()) {
        DropLocked(h, he);  // zeros must never pass for file contents
        return Errno::kEIO;
      }
      idx = he;
    }
  }
  for (const auto& r : pages_.Runs(first, last)) out.push_back({r.page * kPage, r.npages * kPage, r.mf_off});
  return out;
}

uint64_t GoferPageCache::SharedSize() {
  absl::MutexLock l(&mu_);
  Result<uint64_t> s = SizeLocked();
  return s.ok() ? s.value() : 0;
}

}  // namespace fs
