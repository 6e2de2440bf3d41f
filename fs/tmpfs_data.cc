// tmpfs file data: sparse 4 KiB pages keyed by page index. A missing page
// reads as zeros and is a hole for SEEK_HOLE.
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"

#include "fs/synthetic.h"
#include "sentry/kernel/task.h"
#include "fs/tmpfs.h"

namespace fs {

namespace {

// Copies app bytes into file pages at file offset `pos`. The pages this
// write just added (`fresh`) are holes in the memory file: a store through
// the sentry's mapping would take a host page fault per 4 KiB page (about
// 2 us each on a VM: allocate, zero, map), so those bytes go in by one
// pwrite of the memory file instead, which allocates the host pages and
// copies without faulting (and without zeroing fully written pages): a
// fresh 1 MiB costs about half. Pages already present are a plain memcpy.
void CopyToPages(uint8_t* dst, const uint8_t* src, size_t n, uint64_t pos,
                 absl::Span<const std::pair<uint64_t, uint64_t>> fresh, const sentry::mm::MemoryFile& mf) {
  size_t done = 0;
  for (const auto& [fs, fe] : fresh) {
    if (done == n) break;
    if (fe <= pos + done) continue;
    if (fs >= pos + n) break;
    if (fs > pos + done) {
      const size_t k = static_cast<size_t>(fs - (pos + done));
      std::memcpy(dst + done, src + done, k);
      done += k;
    }
    const size_t stop = static_cast<size_t>(std::min<uint64_t>(fe, pos + n) - pos);
    while (done < stop) {
      const ssize_t w = pwrite(mf.fd(), src + done, stop - done, static_cast<off_t>(dst + done - mf.Data(0)));
      if (w <= 0) {
        if (w < 0 && errno == EINTR) continue;
        break;  // the store below takes the page fault and whatever it brings
      }
      done += static_cast<size_t>(w);
    }
    if (done < stop) {
      std::memcpy(dst + done, src + done, stop - done);
      done = stop;
    }
  }
  if (done < n) std::memcpy(dst + done, src + done, n - done);
}

}  // namespace

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
  pages_.ForEach(off, n, [&](uint64_t at, uint8_t* data, size_t len) {
    if (data == nullptr) {
      std::memset(buf.data() + at, 0, len);
    } else {
      std::memcpy(buf.data() + at, data, len);
    }
  });
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
  if (n > 0) n = TRY(SealedWriteLocked(off, n));
  if (n > 0) {
    // Pages first: a full memory file (the sandbox's memory limit) ends the
    // write early, as a full tmpfs does (shmem_get_folio: ENOSPC).
    const uint64_t first = off / kPageSize, last = (off + n + kPageSize - 1) / kPageSize;
    const uint64_t filled = pages_.Fill(first, last);
    if (filled < last) {
      const uint64_t room = filled * kPageSize > off ? filled * kPageSize - off : 0;
      if (room == 0) return Errno::kENOSPC;
      n = static_cast<size_t>(std::min<uint64_t>(n, room));
    }
    pages_.ForEach(off, n, [&](uint64_t at, uint8_t* data, size_t len) {
      std::memcpy(data, buf.data() + at, len);
    });
  }
  if (n > 0) {
    size_ = std::max(size_, off + n);
    DropSetidLocked();
    mtime_ = ctime_ = Now();
  }
  *end = off + n;
  return n;
}

Result<size_t> TmpfsInode::ReadToApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off) {
  if (type_ == S_IFDIR) return Errno::kEISDIR;
  if (off > kMaxFileSize) return Errno::kEINVAL;
  size_t n;
  {
    absl::MutexLock l(&mu_);
    if (off >= size_) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(len, size_ - off));
  }
  // One copy per run of file pages within each piece of app memory; a
  // concurrent truncate shows as zeros, as a read racing one may see.
  return mm.AccessPartial(addr, n, /*write=*/true, [&](uint8_t* p, size_t at, size_t k) {
    absl::MutexLock l(&mu_);
    pages_.ForEach(off + at, k, [&](uint64_t a, uint8_t* data, size_t m) {
      if (data == nullptr) {
        std::memset(p + a, 0, m);
      } else {
        std::memcpy(p + a, data, m);
      }
    });
  });
}

Result<size_t> TmpfsInode::WriteFromApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off,
                                        bool append, uint64_t* end) {
  if (type_ != S_IFREG) return Errno::kEINVAL;
  absl::MutexLock w(&write_mu_);
  size_t n = len;
  uint64_t old_size;
  absl::InlinedVector<std::pair<uint64_t, uint64_t>, 2> fresh;  // file byte ranges of new pages
  {
    absl::MutexLock l(&mu_);
    if (append) off = size_;
    if (off > kMaxFileSize) return Errno::kEFBIG;
    if (n > kMaxFileSize - off) {
      n = static_cast<size_t>(kMaxFileSize - off);
      if (n == 0) return Errno::kEFBIG;
    }
    if (n > 0) n = TRY(SealedWriteLocked(off, n));
    old_size = size_;
    // Pages first, as WriteAt. Fresh memory-file pages read as zeros, so
    // pages about to be overwritten are never zero-filled by us.
    const uint64_t first = off / kPageSize, last = (off + n + kPageSize - 1) / kPageSize;
    for (uint64_t idx = first; idx < last;) {  // the holes this write fills
      const uint64_t h = pages_.NextHole(idx);
      if (h >= last) break;
      const uint64_t he = std::min(pages_.NextData(h), last);
      fresh.emplace_back(h * kPageSize, he * kPageSize);
      idx = he;
    }
    const uint64_t filled = pages_.Fill(first, last);
    if (filled < last) {
      const uint64_t room = filled * kPageSize > off ? filled * kPageSize - off : 0;
      if (room == 0) return Errno::kENOSPC;
      n = static_cast<size_t>(std::min<uint64_t>(n, room));
    }
  }
  Result<size_t> copied = size_t{0};
  if (n > 0) {
    copied = mm.AccessPartial(addr, n, /*write=*/false, [&](uint8_t* p, size_t at, size_t k) {
      absl::MutexLock l(&mu_);
      pages_.ForEach(off + at, k, [&](uint64_t a, uint8_t* data, size_t m) {
        // null: truncated meanwhile
        if (data != nullptr) CopyToPages(data, p + a, m, off + at + a, fresh, pages_.memory_file());
      });
    });
  }
  absl::MutexLock l(&mu_);
  const size_t done = copied.ok() ? copied.value() : 0;
  if (done < n) {
    // A fault: give back the pages past what the file now holds that this
    // write added beyond the old end.
    const uint64_t keep = (std::max(old_size, off + done) + kPageSize - 1) / kPageSize;
    const uint64_t last = (off + n + kPageSize - 1) / kPageSize;
    if (keep < last && keep * kPageSize >= old_size) DropPagesLocked(keep, last);
    if (done == 0) return copied.ok() ? Errno::kEFAULT : copied.error();
  }
  if (done > 0) {
    size_ = std::max(size_, off + done);
    DropSetidLocked();
    mtime_ = ctime_ = Now();
  }
  *end = off + done;
  return done;
}

void TmpfsInode::DropSetidLocked() {
  // file_remove_privs(): the common case (no set-ID bit) never looks at
  // the writer's credentials.
  if (!(perm_ & (S_ISUID | S_ISGID))) [[likely]] return;
  perm_ &= ~SetidBitsToDropForCurrentTask(type_ | perm_, gid_);
}

void TmpfsInode::DropPagesLocked(uint64_t first, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> freed = pages_.Remove(first, end);
  if (freed.empty()) return;
  mappers_->Release(pages_.memory_file(), this, first * kPageSize,
                    end >= UINT64_MAX / kPageSize ? UINT64_MAX : end * kPageSize, std::move(freed));
}

Result<size_t> TmpfsInode::SealedWriteLocked(uint64_t off, size_t n) {
  if (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Errno::kEPERM;
  if (!(seals_ & F_SEAL_GROW) || off + n <= size_) return n;
  // generic_perform_write() writes page chunks until one would grow the
  // file: the bytes up to the last page boundary within the size.
  const uint64_t stop = size_ / kPageSize * kPageSize;
  if (stop <= off) return Errno::kEPERM;
  return static_cast<size_t>(stop - off);
}

void TmpfsInode::TruncateLocked(uint64_t size) {
  if (size < size_) {
    // Drop whole pages past the end and zero the tail of the last one, so a
    // later extension reads zeros (shmem_setattr; a shared mapping of that
    // page sees the zeros too, and SIGBUS past it).
    const uint64_t first_dead = (size + kPageSize - 1) / kPageSize;
    DropPagesLocked(first_dead, UINT64_MAX);
    if (size % kPageSize != 0) {
      pages_.ForEach(size, kPageSize - size % kPageSize, [](uint64_t, uint8_t* data, size_t len) {
        if (data != nullptr) std::memset(data, 0, len);
      });
    }
  }
  size_ = size;
}

Result<void> TmpfsInode::Allocate(int mode, uint64_t off, uint64_t len) {
  if (type_ != S_IFREG) return Errno::kENODEV;
  uint64_t end;
  if (__builtin_add_overflow(off, len, &end) || end > kMaxFileSize) return Errno::kEFBIG;
  absl::MutexLock l(&mu_);
  // shmem_fallocate(): a hole punch is a write; growing past EOF (even with
  // FALLOC_FL_KEEP_SIZE) is what F_SEAL_GROW forbids.
  if ((mode & FALLOC_FL_PUNCH_HOLE) && (seals_ & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) return Errno::kEPERM;
  if (!(mode & FALLOC_FL_PUNCH_HOLE) && (seals_ & F_SEAL_GROW) && end > size_) return Errno::kEPERM;
  DropSetidLocked();  // shmem_fallocate: file_modified(), as a write
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // Whole pages in the range are freed, partial ones zeroed; size stays.
    const uint64_t stop = std::min(end, size_);
    if (off < stop) {
      const uint64_t first_whole = (off + kPageSize - 1) / kPageSize, end_whole = stop / kPageSize;
      auto zero = [](uint64_t, uint8_t* data, size_t n) {
        if (data != nullptr) std::memset(data, 0, n);
      };
      if (first_whole >= end_whole) {
        pages_.ForEach(off, stop - off, zero);
      } else {
        pages_.ForEach(off, first_whole * kPageSize - off, zero);
        pages_.ForEach(end_whole * kPageSize, stop - end_whole * kPageSize, zero);
        DropPagesLocked(first_whole, end_whole);
      }
    }
    mtime_ = ctime_ = Now();
    return {};
  }
  // shmem_fallocate(): the pages are allocated now, so later writes (and
  // stores through a mapping) cannot run out of memory.
  const uint64_t first = off / kPageSize, last = (end + kPageSize - 1) / kPageSize;
  // The holes this call fills: on ENOSPC the pages it allocated are freed
  // again (shmem_fallocate undoes its range), or a failed fallocate would
  // keep the sandbox's memory until the file goes.
  // More missing pages than the memory file has free: ENOSPC at once, as
  // shmem_fallocate checks the size first (a page-by-page fill of a huge
  // range would take minutes before failing).
  uint64_t present = 0;
  for (const auto& run : pages_.Runs(first, last)) present += run.npages;
  const sentry::mm::MemoryFile& mf = fs()->memory_file();
  const uint64_t free_pages = (mf.capacity() - std::min(mf.capacity(), mf.committed())) / kPageSize;
  if (last - first - present > free_pages) return Errno::kENOSPC;
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  for (uint64_t idx = first; idx < last;) {
    const uint64_t h = pages_.NextHole(idx);
    if (h >= last) break;
    const uint64_t d = pages_.NextData(h);
    const uint64_t he = d == UINT64_MAX ? last : std::min(d, last);
    holes.emplace_back(h, he);
    idx = he;
  }
  if (const uint64_t filled = pages_.Fill(first, last); filled < last) {
    for (const auto& [hs, he] : holes) {
      if (hs >= filled) break;
      DropPagesLocked(hs, std::min(he, filled));
    }
    return Errno::kENOSPC;
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size_) {
    size_ = end;
    mtime_ = ctime_ = Now();
  }
  return {};
}

Result<uint64_t> TmpfsInode::SeekDataHole(uint64_t off, int whence) {
  absl::MutexLock l(&mu_);
  if (off >= size_) return Errno::kENXIO;
  const uint64_t idx = off / kPageSize;
  if (whence == SEEK_DATA) {
    const uint64_t d = pages_.NextData(idx);
    if (d == UINT64_MAX || d >= (size_ + kPageSize - 1) / kPageSize) return Errno::kENXIO;
    const uint64_t pos = std::max(off, d * kPageSize);
    if (pos >= size_) return Errno::kENXIO;
    return pos;
  }
  // SEEK_HOLE: the first page index >= idx with no page; EOF is a hole.
  const uint64_t h = pages_.NextHole(idx);
  return std::min(std::max(off, h * kPageSize), size_);
}

Result<std::vector<sentry::mm::MappableFile::PageRun>> TmpfsInode::SharedPages(uint64_t off, uint64_t len,
                                                                                bool allocate) {
  absl::MutexLock l(&mu_);
  const uint64_t eof_pages = (size_ + kPageSize - 1) / kPageSize;
  const uint64_t first = off / kPageSize;
  const uint64_t last = std::min((off + len + kPageSize - 1) / kPageSize, eof_pages);
  std::vector<sentry::mm::MappableFile::PageRun> out;
  if (first >= last) return out;
  if (allocate && pages_.Fill(first, last) < last) return Errno::kENOMEM;
  for (const auto& r : pages_.Runs(first, last)) {
    out.push_back({r.page * kPageSize, r.npages * kPageSize, r.mf_off});
  }
  return out;
}

}  // namespace fs
