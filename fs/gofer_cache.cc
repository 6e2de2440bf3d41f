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
  host_size_ = size_;
  host_mtime_ns_ = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return size_;
}

void GoferPageCache::NoteHostLocked(int fd) {
  struct stat st;
  if (!size_valid_ || fstat(fd, &st) != 0) return;
  host_size_ = static_cast<uint64_t>(st.st_size);
  host_mtime_ns_ = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

void GoferPageCache::Revalidate(uint64_t size, int64_t mtime_ns) {
  absl::MutexLock l(&mu_);
  RevalidateLocked(size, mtime_ns);
}

void GoferPageCache::RevalidateLocked(uint64_t size, int64_t mtime_ns) {
  if (!size_valid_ || (size == host_size_ && mtime_ns == host_mtime_ns_)) return;
  // invalidate_inode_pages2: every clean page goes; unclean ones hold
  // stores not yet on the host.
  uint64_t p = 0;
  while (true) {
    p = pages_.NextData(p);
    if (p == UINT64_MAX) break;
    auto u = unclean_.lower_bound(p);
    if (u != unclean_.end() && u->first == p) {
      ++p;
      continue;
    }
    const uint64_t e = std::min(pages_.NextHole(p), u == unclean_.end() ? UINT64_MAX : u->first);
    DropLocked(p, e);
    p = e;
  }
  size_ = size;
  host_size_ = size;
  host_mtime_ns_ = mtime_ns;
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
  // The write reaches the host for exactly its bytes (pwrite below), and
  // the cache then takes the host's state as its own (NoteHostLocked): so
  // a host change made since the last look is taken first, or its clean
  // pages would stay stale and pass for current after this write (and a
  // later store through a mapping would write them back over the host's
  // bytes).
  if (size_valid_ && pages_.npages() != 0) {
    struct stat st;
    if (fstat(fd, &st) == 0) {
      RevalidateLocked(static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    }
  }
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
  NoteHostLocked(fd);
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
  if (data_fd_ != nullptr) NoteHostLocked(data_fd_->get());
  return {};
}

Result<void> GoferPageCache::WriteBack(uint64_t off, uint64_t len, bool sync) {
  absl::MutexLock l(&mu_);
  return WriteBackLocked(off, len, sync);
}

namespace {

// Tells a write-back that every mapper has re-mapped its pages read-only:
// the last mapper to drop it (after its Invalidate) runs the destructor.
// A FreedPages with no pages, so that the mappers' queue carries it.
class ProtectedToken final : public sentry::mm::FreedPages {
 public:
  ProtectedToken(sentry::mm::MemoryFile& mf, std::shared_ptr<std::atomic<bool>> flag)
      : FreedPages(mf, {}), flag_(std::move(flag)) {}
  ~ProtectedToken() { flag_->store(true, std::memory_order_release); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace

Result<void> GoferPageCache::WriteBackLocked(uint64_t off, uint64_t len, bool sync) {
  if (write_fd_ == nullptr || !size_valid_) return {};
  const uint64_t end = std::min(len > UINT64_MAX - off ? UINT64_MAX : off + len, size_);
  if (off < end && !unclean_.empty()) {
    sentry::mm::MemoryFile& mf = pages_.memory_file();
    const uint64_t first = off / kPage, last = PagesUpTo(end);
    auto batch = std::make_shared<std::atomic<bool>>(false);
    uint64_t protect_first = UINT64_MAX, protect_end = 0;
    auto it = unclean_.lower_bound(first);
    while (it != unclean_.end() && it->first < last) {
      // A run of consecutive unclean pages, written whole pages at a time
      // (clipped to EOF: write-back never grows the file).
      auto run_end = it;
      uint64_t pe = it->first;
      while (run_end != unclean_.end() && run_end->first == pe && pe < last) {
        ++run_end;
        ++pe;
      }
      const uint64_t ps = it->first;
      // Decided before the copy: a cleaning page whose protection every
      // mapper has applied cannot change behind this write without a fault
      // (which would make it dirty again), so it ends clean.
      std::vector<bool> now_clean;
      for (auto p = it; p != run_end; ++p) {
        now_clean.push_back(p->second != nullptr && p->second->load(std::memory_order_acquire));
      }
      for (const auto& r : pages_.Runs(ps, pe)) {
        const uint64_t s = r.page * kPage, e = std::min((r.page + r.npages) * kPage, size_);
        if (s < e) TRY(PWriteFull(write_fd_->get(), mf.Data(r.mf_off), e - s, s));
      }
      size_t i = 0;
      for (auto p = it; p != run_end; ++i) {
        if (now_clean[i]) {
          p = unclean_.erase(p);
          continue;
        }
        p->second = batch;
        protect_first = std::min(protect_first, p->first);
        protect_end = std::max(protect_end, p->first + 1);
        ++p;
      }
      it = run_end;
    }
    NoteHostLocked(write_fd_->get());
    if (protect_first < protect_end) {
      mappers_->Resync(this, protect_first * kPage, protect_end * kPage,
                       std::make_shared<ProtectedToken>(mf, std::move(batch)));
    }
  }
  if (sync && fdatasync(write_fd_->get()) != 0 && errno != EINVAL) return base::FromHost(errno);
  return {};
}

void GoferPageCache::MarkDirty(uint64_t off, uint64_t len) {
  absl::MutexLock l(&mu_);
  const uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  for (const auto& r : pages_.Runs(off / kPage, PagesUpTo(end))) {
    for (uint64_t p = r.page; p < r.page + r.npages; ++p) unclean_[p] = nullptr;
  }
}


void GoferPageCache::DropLocked(uint64_t first, uint64_t end) {
  unclean_.erase(unclean_.lower_bound(first), end == UINT64_MAX ? unclean_.end() : unclean_.lower_bound(end));
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
  // Clean and cleaning pages are mapped read-only: their first store
  // faults (MarkDirty). Runs are split where writability changes.
  for (const auto& r : pages_.Runs(first, last)) {
    uint64_t p = r.page;
    const uint64_t re = r.page + r.npages;
    while (p < re) {
      auto it = unclean_.find(p);
      const bool w = it != unclean_.end() && it->second == nullptr;
      uint64_t q = p + 1;
      if (w) {
        while (q < re && (it = unclean_.find(q)) != unclean_.end() && it->second == nullptr) ++q;
      } else {
        // Up to the next dirty page.
        auto nx = unclean_.lower_bound(p + 1);
        while (nx != unclean_.end() && nx->first < re && nx->second != nullptr) ++nx;
        q = nx == unclean_.end() ? re : std::min(re, nx->first);
      }
      out.push_back({p * kPage, (q - p) * kPage, r.mf_off + (p - r.page) * kPage, w});
      p = q;
    }
  }
  return out;
}

uint64_t GoferPageCache::SharedSize() {
  absl::MutexLock l(&mu_);
  Result<uint64_t> s = SizeLocked();
  return s.ok() ? s.value() : 0;
}

}  // namespace fs
