// Mapping changes: mmap, munmap, mprotect, mremap, madvise, brk. The
// semantics follow Linux mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c.
#include "sentry/mm/memory_manager.h"

#include <sys/mman.h>

#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "sentry/mm/file_cache.h"
#include "sentry/mm/memory_manager_impl.h"

namespace sentry::mm {

namespace {

bool Compatible(uint64_t a_start, const Vma& a, const Vma& b) {
  const uint64_t len = a.end - a_start;
  return a.prot == b.prot && a.shared == b.shared && a.maywrite == b.maywrite && a.shm == b.shm &&
         a.grows_down == b.grows_down && a.dontfork == b.dontfork &&
         a.wipeonfork == b.wipeonfork && a.cow == b.cow && a.filled == b.filled && a.name == b.name && a.file == b.file &&
         (!a.file || a.file_offset + len == b.file_offset) && a.backed == b.backed &&
         (!a.backed || a.mf_offset + len == b.mf_offset);
}

uint64_t DefaultTop(platform::AddressSpace* as) {
  if (as == nullptr) return kDefaultMaxUserAddress;
  return std::min(PageRoundDown(as->MaxUserAddress()), kDefaultMaxUserAddress);
}

}  // namespace

// ---- RangeSet ----

void RangeSet::Add(uint64_t start, uint64_t end) {
  if (start >= end) return;
  Remove(start, end);
  auto next = r_.lower_bound(start);
  if (next != r_.begin()) {
    auto prev = std::prev(next);
    if (prev->second == start) {
      start = prev->first;
      r_.erase(prev);
    }
  }
  if (next != r_.end() && next->first == end) {
    end = next->second;
    r_.erase(next);
  }
  r_[start] = end;
}

void RangeSet::Remove(uint64_t start, uint64_t end) {
  if (start >= end) return;
  auto it = r_.lower_bound(start);
  if (it != r_.begin()) {
    auto prev = std::prev(it);
    if (prev->second > start) {
      const uint64_t pend = prev->second;
      prev->second = start;
      if (pend > end) r_[end] = pend;
    }
  }
  it = r_.lower_bound(start);
  while (it != r_.end() && it->first < end) {
    const uint64_t iend = it->second;
    it = r_.erase(it);
    if (iend > end) {
      r_[end] = iend;
      break;
    }
  }
}

std::vector<std::pair<uint64_t, uint64_t>> RangeSet::Intersect(uint64_t start, uint64_t end, bool covered) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  uint64_t cursor = start;
  auto it = r_.upper_bound(start);
  if (it != r_.begin()) --it;
  for (; it != r_.end() && it->first < end && cursor < end; ++it) {
    if (it->second <= cursor) continue;
    const uint64_t s = std::max(it->first, cursor), e = std::min(it->second, end);
    if (!covered && s > cursor) out.emplace_back(cursor, s);
    if (covered) out.emplace_back(s, e);
    cursor = e;
  }
  if (!covered && cursor < end) out.emplace_back(cursor, end);
  return out;
}

bool RangeSet::Covers(uint64_t start, uint64_t end) const {
  if (start >= end) return true;
  auto it = r_.upper_bound(start);
  if (it == r_.begin()) return false;
  --it;
  return it->first <= start && it->second >= end;
}

// ---- MemoryManager (locking shell) ----

MemoryManager::MemoryManager(MemoryFile& mf, std::unique_ptr<platform::AddressSpace> as)
    : mf_(mf), as_(std::move(as)), max_address_(DefaultTop(as_.get())) {
  // Like mmap_base() in arch/x86/mm/mmap.c without randomization: leave room
  // for the stack (the minimum gap, 128 MiB, plus the guard gap) below the top.
  // TODO(#3): ASLR (mmap_rnd_bits) once the loader randomizes too.
  mmap_base_ = PageRoundDown(max_address_ - (128ull << 20) - kStackGuardGap);
  impl_ = std::make_unique<Impl>(mf_, as_.get(), max_address_, mmap_base_, this);
}

MemoryManager::~MemoryManager() {
  absl::MutexLock l(&mu_);
  impl_.reset();
}

Result<uint64_t> MemoryManager::Mmap(const MmapOpts& opts) {
  absl::MutexLock l(&mu_);
  return impl_->Mmap(opts);
}
Result<void> MemoryManager::Munmap(uint64_t addr, uint64_t length) {
  absl::MutexLock l(&mu_);
  return impl_->Munmap(addr, length);
}
Result<void> MemoryManager::Mprotect(uint64_t addr, uint64_t length, int prot) {
  absl::MutexLock l(&mu_);
  return impl_->Mprotect(addr, length, prot);
}
Result<uint64_t> MemoryManager::Mremap(uint64_t old_addr, uint64_t old_size, uint64_t new_size, int flags,
                                       uint64_t new_addr) {
  absl::MutexLock l(&mu_);
  return impl_->Mremap(old_addr, old_size, new_size, flags, new_addr);
}
Result<void> MemoryManager::Madvise(uint64_t addr, uint64_t length, int advice) {
  absl::MutexLock l(&mu_);
  return impl_->Madvise(addr, length, advice);
}
uint64_t MemoryManager::Brk(uint64_t addr) {
  absl::MutexLock l(&mu_);
  return impl_->Brk(addr);
}
void MemoryManager::SetBrkStart(uint64_t addr) {
  absl::MutexLock l(&mu_);
  impl_->SetBrkStart(addr);
}
uint64_t MemoryManager::brk() const {
  absl::MutexLock l(&mu_);
  return impl_->brk();
}
uint64_t MemoryManager::brk_start() const {
  absl::MutexLock l(&mu_);
  return impl_->brk_start();
}

// ---- Impl: the VMA set ----

MemoryManager::Impl::~Impl() {
  for (const auto& [start, v] : vmas_) ReleaseBacking(start, v);
}

MemoryManager::Impl::VmaMap::iterator MemoryManager::Impl::Find(uint64_t addr) {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return vmas_.end();
  --it;
  return addr < it->second.end ? it : vmas_.end();
}

MemoryManager::Impl::VmaMap::const_iterator MemoryManager::Impl::Find(uint64_t addr) const {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return vmas_.end();
  --it;
  return addr < it->second.end ? it : vmas_.end();
}

void MemoryManager::Impl::SplitAt(uint64_t addr) {
  auto it = Find(addr);
  if (it == vmas_.end() || it->first == addr) return;
  Vma tail = it->second;
  const uint64_t delta = addr - it->first;
  if (tail.file) tail.file_offset += delta;
  if (tail.backed) tail.mf_offset += delta;
  it->second.end = addr;
  vmas_.emplace(addr, std::move(tail));
}

void MemoryManager::Impl::ReleaseBacking(uint64_t start, const Vma& v) {
  if (!v.backed) return;
  const uint64_t len = v.end - start;
  if (v.file && !v.filled) populated_.Remove(v.mf_offset, v.mf_offset + len);
  mf_.Free(v.mf_offset, len);
}

void MemoryManager::Impl::RemoveRange(uint64_t start, uint64_t end) {
  SplitAt(start);
  SplitAt(end);
  auto it = vmas_.lower_bound(start);
  while (it != vmas_.end() && it->first < end) {
    ReleaseBacking(it->first, it->second);
    it = vmas_.erase(it);
  }
}

void MemoryManager::Impl::MergeRange(uint64_t start, uint64_t end) {
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin()) --it;
  if (it != vmas_.begin() && it->first == start) --it;
  while (it != vmas_.end() && it->first <= end) {
    auto next = std::next(it);
    if (next != vmas_.end() && it->second.end == next->first && Compatible(it->first, it->second, next->second)) {
      it->second.end = next->second.end;
      vmas_.erase(next);
      continue;
    }
    it = next;
  }
}

Result<void> MemoryManager::Impl::SyncAs(uint64_t start, uint64_t end) {
  if (as_ == nullptr || start >= end) return base::Ok();
  // Unmap what must not be reachable (holes, PROT_NONE, unpopulated file
  // pages), map the rest. Map replaces, so mapped parts need no Unmap.
  uint64_t unmap_from = start;
  bool unmapping = false;
  auto flush = [&](uint64_t upto) -> Result<void> {
    if (unmapping && upto > unmap_from) TRY(as_->Unmap(unmap_from, upto - unmap_from));
    unmapping = false;
    return base::Ok();
  };
  auto want_unmap = [&](uint64_t from) {
    if (!unmapping) {
      unmapping = true;
      unmap_from = from;
    }
  };
  auto map = [&](uint64_t s, uint64_t e, const Vma& v, uint64_t vstart) -> Result<void> {
    TRY(flush(s));
    // Copy-on-write pages are mapped read-only until BreakCow.
    const int prot = v.cow ? (v.prot & ~platform::kProtWrite) : v.prot;
    return as_->Map(s, e - s, prot, mf_.fd(), v.mf_offset + (s - vstart));
  };
  uint64_t cursor = start;
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin()) --it;
  for (; it != vmas_.end() && it->first < end; ++it) {
    const Vma& v = it->second;
    if (v.end <= cursor) continue;
    if (it->first > cursor) want_unmap(cursor);
    const uint64_t s = std::max(it->first, cursor), e = std::min(v.end, end);
    if (v.shm && v.prot != platform::kProtNone) {
      // The file's pages that exist; holes and the part past EOF fault.
      const uint64_t fs = v.file_offset + (s - it->first);
      Result<std::vector<MappableFile::PageRun>> runs = v.file->SharedPages(fs, e - s, /*allocate=*/false);
      uint64_t c = s;
      if (runs.ok()) {
        for (const auto& r : runs.value()) {
          const uint64_t as = s + (r.file_off - fs), ae = as + r.len;
          if (as > c) want_unmap(c);
          TRY(flush(as));
          const int prot = r.writable ? v.prot : (v.prot & ~platform::kProtWrite);
          TRY(as_->Map(as, ae - as, prot, mf_.fd(), r.mf_off));
          c = ae;
        }
      }
      if (c < e) want_unmap(c);
    } else if (!v.backed || v.prot == platform::kProtNone) {
      want_unmap(s);
    } else if (!v.file || v.filled) {
      TRY(map(s, e, v, it->first));
    } else {
      const uint64_t ms = v.mf_offset + (s - it->first);
      uint64_t c = s;
      for (auto [ps, pe] : populated_.Intersect(ms, ms + (e - s), /*covered=*/true)) {
        const uint64_t as = s + (ps - ms), ae = s + (pe - ms);
        if (as > c) want_unmap(c);
        TRY(map(as, ae, v, it->first));
        c = ae;
      }
      if (c < e) want_unmap(c);
    }
    cursor = e;
  }
  if (cursor < end) want_unmap(cursor);
  return flush(end);
}

Result<void> MemoryManager::Impl::EnsureBacked(Vma& v, uint64_t start) {
  if (v.backed) return base::Ok();
  v.mf_offset = TRY(mf_.Allocate(v.end - start));
  v.backed = true;
  return base::Ok();
}

bool MemoryManager::Impl::ExtendInPlace(VmaMap::iterator it, uint64_t new_end) {
  Vma& v = it->second;
  if (v.filled) return false;  // the cache's range is not ours to extend
  if (v.backed && !mf_.TryExtend(v.mf_offset + (v.end - it->first), new_end - v.end)) return false;
  if (!v.backed && v.prot != platform::kProtNone) return false;
  v.end = new_end;
  return true;
}

Result<Vma> MemoryManager::Impl::NewLike(const Vma& tmpl, uint64_t start, uint64_t end, uint64_t file_offset) {
  Vma v = tmpl;
  v.end = end;
  v.file_offset = v.file ? file_offset : 0;
  v.backed = false;
  v.mf_offset = 0;
  v.cow = false;
  v.filled = false;
  if (!v.shm && (v.file || v.prot != platform::kProtNone)) TRY(EnsureBacked(v, start));
  return v;
}

uint64_t MemoryManager::Impl::StartGap(VmaMap::const_iterator it) const {
  if (!it->second.grows_down) return it->first;
  return it->first > kStackGuardGap ? it->first - kStackGuardGap : 0;
}

bool MemoryManager::Impl::IsFree(uint64_t start, uint64_t end) const {
  if (start < kMmapMinAddr || end > max_ || start >= end) return false;
  auto next = vmas_.lower_bound(start);
  if (next != vmas_.begin() && std::prev(next)->second.end > start) return false;
  return next == vmas_.end() || end <= StartGap(next);
}

Result<uint64_t> MemoryManager::Impl::FindGap(uint64_t len, uint64_t hint) const {
  if (len > max_ - kMmapMinAddr) return Errno::kENOMEM;
  if (hint != 0 && hint <= max_ - len && IsFree(hint, hint + len)) return hint;
  // Top-down from mmap_base_.
  auto it = vmas_.lower_bound(mmap_base_);
  uint64_t gap_end = mmap_base_;
  if (it != vmas_.end()) gap_end = std::min(gap_end, StartGap(it));
  while (true) {
    const bool has_prev = it != vmas_.begin();
    const uint64_t gap_start = has_prev ? std::max(std::prev(it)->second.end, kMmapMinAddr) : kMmapMinAddr;
    if (gap_end > gap_start && gap_end - gap_start >= len) return gap_end - len;
    if (!has_prev) break;
    --it;
    gap_end = std::min(gap_end, StartGap(it));
  }
  // Bottom-up above mmap_base_, as Linux falls back to.
  uint64_t cursor = mmap_base_;
  for (auto i = vmas_.lower_bound(mmap_base_ > 0 ? mmap_base_ : 0); ; ++i) {
    if (i != vmas_.begin()) cursor = std::max(cursor, std::prev(i)->second.end);
    const uint64_t limit = i == vmas_.end() ? max_ : std::min(StartGap(i), max_);
    if (limit > cursor && limit - cursor >= len) return cursor;
    if (i == vmas_.end()) break;
  }
  return Errno::kENOMEM;
}

Result<uint64_t> MemoryManager::Impl::Mmap(const MmapOpts& o) {
  if (o.length == 0) return Errno::kEINVAL;
  const uint64_t len = PageRoundUp(o.length);
  if (len == 0) return Errno::kENOMEM;  // rounding wrapped
  if (o.offset & (kPageSize - 1)) return Errno::kEINVAL;
  if (o.file && o.offset + len < o.offset) return Errno::kEOVERFLOW;
  // Shared mappings of files without shared pages are copies, right only
  // while nothing writes the file: the read-only rootfs, mapped by a file
  // not open for writing.
  const bool shm = o.file && o.shared && o.file->HasSharedPages();
  if (o.file && o.shared && !shm && o.maywrite) return Errno::kENODEV;
  const bool fixed = o.fixed || o.fixed_noreplace;
  uint64_t addr;
  if (fixed) {
    if (o.addr & (kPageSize - 1)) return Errno::kEINVAL;
    if (len > max_ || o.addr > max_ - len) return Errno::kENOMEM;
    if (o.addr < kMmapMinAddr) return Errno::kEPERM;  // security_mmap_addr
    addr = o.addr;
    if (o.fixed_noreplace) {
      auto it = vmas_.lower_bound(addr);
      if (it != vmas_.begin() && std::prev(it)->second.end > addr) return Errno::kEEXIST;
      if (it != vmas_.end() && it->first < addr + len) return Errno::kEEXIST;
    }
  } else {
    uint64_t hint = PageRoundDown(o.addr);  // round_hint_to_min()
    if (hint != 0 && hint < kMmapMinAddr) hint = kMmapMinAddr;
    addr = TRY(FindGap(len, hint));
  }
  Vma tmpl;
  tmpl.prot = o.prot & (platform::kProtRead | platform::kProtWrite | platform::kProtExec);
  tmpl.shared = o.shared;
  tmpl.grows_down = o.grows_down;
  tmpl.file = o.file;
  tmpl.shm = shm;
  tmpl.maywrite = o.maywrite;
  tmpl.name = o.file ? "" : o.name;
  if (!o.maywrite && (tmpl.prot & platform::kProtWrite)) return Errno::kEACCES;
  Vma v;
  std::optional<Vma> tail;  // the uncached rest of a cached file mapping
  if (o.mf_offset.has_value()) {
    if (o.file || !o.shared || (*o.mf_offset & (kPageSize - 1))) return Errno::kEINVAL;
    v = tmpl;
    v.end = addr + len;
    v.backed = true;
    v.mf_offset = *o.mf_offset;
    mf_.IncRef(v.mf_offset, len);
  } else if (std::optional<std::pair<uint64_t, uint64_t>> cached;
             o.file && !o.shared &&
             (cached = mf_.file_cache().AcquirePrefix(*o.file, o.offset, len)).has_value()) {
    // The page cache holds the file: reference its pages copy-on-write,
    // mapped whole at once (no read, no faults until a write). A part past
    // the file's last page is a VMA of its own, demand-paged as before.
    const auto [cached_off, cached_len] = *cached;
    if (cached_len < len) {
      Result<Vma> t = NewLike(tmpl, addr + cached_len, addr + len, o.offset + cached_len);
      if (!t.ok()) {
        mf_.Free(cached_off, cached_len);
        return t.error();
      }
      tail = std::move(t).value();
    }
    if ((tmpl.prot & platform::kProtWrite) && cached_len == len && len <= kFaultChunk) {
      // A small writable one (an ELF data segment, which ld.so relocates at
      // once) gets its own copy now: a write fault per chunk would cost far
      // more than copying up to one chunk.
      Result<Vma> own = NewLike(tmpl, addr, addr + len, o.offset);
      if (!own.ok()) {
        mf_.Free(cached_off, cached_len);
        return own.error();
      }
      v = std::move(own).value();
      mf_.CopyPages(v.mf_offset, cached_off, len);
      populated_.Add(v.mf_offset, v.mf_offset + len);
      mf_.Free(cached_off, cached_len);
    } else {
      v = tmpl;
      v.end = addr + cached_len;
      v.file_offset = o.offset;
      v.backed = true;
      v.mf_offset = cached_off;
      v.cow = true;
      v.filled = true;
    }
  } else {
    // Allocate before touching what MAP_FIXED replaces, so ENOMEM leaves it.
    v = TRY(NewLike(tmpl, addr, addr + len, o.offset));
  }
  if (fixed) RemoveRange(addr, addr + len);
  if (shm) RegisterShared(o.file);
  const uint64_t v_end = v.end;
  vmas_.emplace(addr, std::move(v));
  if (tail.has_value()) vmas_.emplace(v_end, std::move(*tail));
  MergeRange(addr, addr + len);
  TRY(SyncAs(addr, addr + len));
  return addr;
}

Result<void> MemoryManager::Impl::Munmap(uint64_t addr, uint64_t length) {
  // do_vmi_munmap(): EINVAL for an unaligned start, zero or too long a length.
  if ((addr & (kPageSize - 1)) || length == 0) return Errno::kEINVAL;
  const uint64_t len = PageRoundUp(length);
  if (len == 0 || addr > max_ || len > max_ - addr) return Errno::kEINVAL;
  RemoveRange(addr, addr + len);
  return SyncAs(addr, addr + len);
}

Result<void> MemoryManager::Impl::Mprotect(uint64_t addr, uint64_t length, int prot) {
  if (addr & (kPageSize - 1)) return Errno::kEINVAL;
  if (length == 0) return base::Ok();
  const uint64_t len = PageRoundUp(length);
  const uint64_t end = addr + len;
  if (len == 0 || end <= addr) return Errno::kENOMEM;
  prot &= platform::kProtRead | platform::kProtWrite | platform::kProtExec;
  if (Find(addr) == vmas_.end()) return Errno::kENOMEM;
  SplitAt(addr);
  SplitAt(end);
  // Like Linux, VMAs before a hole keep the new protection; the hole is ENOMEM.
  Result<void> result = base::Ok();
  uint64_t cursor = addr;
  while (cursor < end) {
    auto it = vmas_.find(cursor);
    if (it == vmas_.end()) {
      result = Errno::kENOMEM;
      break;
    }
    // mprotect_fixup(): no write to a shared mapping of a file not open
    // for writing.
    if ((prot & platform::kProtWrite) && !it->second.maywrite) {
      result = Errno::kEACCES;
      break;
    }
    if (prot != platform::kProtNone && !it->second.shm) {
      Result<void> r = EnsureBacked(it->second, it->first);
      if (!r.ok()) {
        result = r;
        break;
      }
    }
    it->second.prot = prot;
    cursor = it->second.end;
  }
  MergeRange(addr, cursor);
  TRY(SyncAs(addr, cursor));
  return result;
}

Result<uint64_t> MemoryManager::Impl::Mremap(uint64_t old_addr, uint64_t old_size, uint64_t new_size, int flags,
                                             uint64_t new_addr) {
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return Errno::kEINVAL;
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return Errno::kEINVAL;
  // TODO(#3): MREMAP_DONTUNMAP (userfaultfd users; rare elsewhere).
  if (flags & MREMAP_DONTUNMAP) return Errno::kEINVAL;
  if (old_addr & (kPageSize - 1)) return Errno::kEINVAL;
  const uint64_t old_len = PageRoundUp(old_size);
  const uint64_t new_len = PageRoundUp(new_size);
  if (new_len == 0) return Errno::kEINVAL;
  // TODO(#3): old_size 0 duplicates a shared mapping in Linux.
  if (old_len == 0) return Errno::kEINVAL;
  if (old_addr > max_ || old_len > max_ - old_addr) return Errno::kEFAULT;

  if (flags & MREMAP_FIXED) {
    if (new_addr & (kPageSize - 1)) return Errno::kEINVAL;
    if (new_len > max_ || new_addr > max_ - new_len) return Errno::kEINVAL;
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return Errno::kEINVAL;  // overlap
  } else if (new_len < old_len) {
    RemoveRange(old_addr + new_len, old_addr + old_len);
    TRY(SyncAs(old_addr + new_len, old_addr + old_len));
    return old_addr;
  } else if (new_len == old_len) {
    // Linux 6.x: only the start must be mapped (checked on a 6.18 host).
    if (Find(old_addr) == vmas_.end()) return Errno::kEFAULT;
    return old_addr;
  }
  // The old range must lie in one VMA (vma_to_resize()).
  auto it = Find(old_addr);
  const uint64_t keep = std::min(old_len, new_len);
  if (it == vmas_.end() || old_addr + keep > it->second.end) return Errno::kEFAULT;

  const uint64_t old_end = old_addr + old_len;
  if (!(flags & MREMAP_FIXED) && it->second.end == old_end && IsFree(old_end, old_addr + new_len) &&
      old_addr + new_len <= max_) {
    // Grow in place.
    if (ExtendInPlace(it, old_addr + new_len)) {
      TRY(SyncAs(old_end, old_addr + new_len));
      return old_addr;
    }
    const Vma& cur = it->second;
    Vma ext = TRY(NewLike(cur, old_end, old_addr + new_len, cur.file_offset + (old_end - it->first)));
    vmas_.emplace(old_end, std::move(ext));
    MergeRange(old_addr, old_addr + new_len);
    TRY(SyncAs(old_end, old_addr + new_len));
    return old_addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) return Errno::kENOMEM;

  uint64_t dest = new_addr;
  if (!(flags & MREMAP_FIXED)) dest = TRY(FindGap(new_len, 0));
  // Allocate the grown tail before changing anything.
  Vma ext;
  if (new_len > old_len) {
    const Vma& cur = it->second;
    ext = TRY(NewLike(cur, dest + old_len, dest + new_len, cur.file_offset + (old_end - it->first)));
  }
  if (flags & MREMAP_FIXED) {
    RemoveRange(dest, dest + new_len);
    TRY(SyncAs(dest, dest + new_len));
  }
  if (new_len < old_len) {
    RemoveRange(old_addr + new_len, old_end);
    TRY(SyncAs(old_addr + new_len, old_end));
  }
  // Move: the same memory-file backing now appears at dest.
  SplitAt(old_addr);
  SplitAt(old_addr + keep);
  auto node = vmas_.extract(old_addr);
  node.key() = dest;
  node.mapped().end = dest + keep;
  vmas_.insert(std::move(node));
  if (new_len > old_len) vmas_.emplace(dest + old_len, std::move(ext));
  MergeRange(old_addr, old_addr + keep);
  MergeRange(dest, dest + new_len);
  TRY(SyncAs(old_addr, old_addr + keep));
  TRY(SyncAs(dest, dest + new_len));
  return dest;
}

Result<void> MemoryManager::Impl::Madvise(uint64_t addr, uint64_t length, int advice) {
  switch (advice) {  // madvise_behavior_valid()
    case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED: case MADV_DONTNEED:
    case MADV_FREE: case MADV_REMOVE: case MADV_DONTFORK: case MADV_DOFORK: case MADV_MERGEABLE:
    case MADV_UNMERGEABLE: case MADV_HUGEPAGE: case MADV_NOHUGEPAGE: case MADV_DONTDUMP: case MADV_DODUMP:
    case MADV_WIPEONFORK: case MADV_KEEPONFORK: case MADV_COLD: case MADV_PAGEOUT: case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE: case 25 /* MADV_COLLAPSE */:
      break;
    default:
      return Errno::kEINVAL;
  }
  if (addr & (kPageSize - 1)) return Errno::kEINVAL;
  const uint64_t len = PageRoundUp(length);
  if (length != 0 && len == 0) return Errno::kEINVAL;
  const uint64_t end = addr + len;
  if (end < addr) return Errno::kEINVAL;
  if (end == addr) return base::Ok();

  if (advice == MADV_DONTNEED) {
    // Copy-on-write pages may be another process's too: give this side
    // fresh zero pages instead of punching the shared ones.
    bool any_cow = false;
    auto i = Find(addr);
    if (i == vmas_.end()) i = vmas_.lower_bound(addr);
    for (; i != vmas_.end() && i->first < end; ++i) {
      any_cow |= i->second.cow;
    }
    if (any_cow) TRY(BreakCow(addr, end, /*copy=*/false));
  }
  const bool sets_flag = advice == MADV_DONTFORK || advice == MADV_DOFORK || advice == MADV_WIPEONFORK ||
                         advice == MADV_KEEPONFORK;
  if (sets_flag) {
    SplitAt(addr);
    SplitAt(end);
  }
  bool hole = false;
  uint64_t cursor = addr;
  auto it = vmas_.upper_bound(addr);
  if (it != vmas_.begin()) --it;
  for (; it != vmas_.end() && it->first < end; ++it) {
    Vma& v = it->second;
    if (v.end <= cursor) continue;
    if (it->first > cursor) hole = true;
    const uint64_t s = std::max(it->first, cursor), e = std::min(v.end, end);
    cursor = e;
    switch (advice) {
      case MADV_DONTNEED:
        // Shared memory keeps its contents (only the PTEs go in Linux).
        if (v.shared || !v.backed) break;
        mf_.Decommit(v.mf_offset + (s - it->first), e - s);
        if (v.file) {
          // Private file pages go back to the file's contents on next touch.
          populated_.Remove(v.mf_offset + (s - it->first), v.mf_offset + (e - it->first));
          TRY(SyncAs(s, e));
        }
        break;
      case MADV_DONTFORK: v.dontfork = true; break;
      case MADV_DOFORK: v.dontfork = false; break;
      case MADV_WIPEONFORK:
        if (v.shared || v.file) return Errno::kEINVAL;
        v.wipeonfork = true;
        break;
      case MADV_KEEPONFORK: v.wipeonfork = false; break;
      default: break;  // Advice only; nothing to do.
    }
  }
  if (cursor < end) hole = true;
  if (sets_flag) MergeRange(addr, end);
  return hole ? Result<void>(Errno::kENOMEM) : base::Ok();
}

uint64_t MemoryManager::Impl::Brk(uint64_t addr) {
  // mm/mmap.c brk(): on any failure the old break is returned.
  if (addr < brk_start_ || brk_start_ == 0) return brk_;
  const uint64_t new_end = PageRoundUp(addr), old_end = PageRoundUp(brk_);
  if (new_end == 0 || addr > max_) return brk_;
  if (new_end == old_end) {
    brk_ = addr;
    return brk_;
  }
  if (addr <= brk_) {
    RemoveRange(new_end, old_end);
    if (!SyncAs(new_end, old_end).ok()) logging::Warn("mm: brk shrink: platform unmap failed");
    brk_ = addr;
    return brk_;
  }
  // Room for the new pages plus one guard page before the next VMA.
  auto next = vmas_.lower_bound(old_end);
  if (next != vmas_.end() && new_end + kPageSize > StartGap(next)) return brk_;
  if (next != vmas_.begin() && std::prev(next)->second.end > old_end) return brk_;
  if (new_end > max_) return brk_;
  if (next != vmas_.begin()) {
    auto prev = std::prev(next);
    if (prev->second.end == old_end && prev->second.name == "[heap]" && ExtendInPlace(prev, new_end)) {
      if (!SyncAs(old_end, new_end).ok()) {
        RemoveRange(old_end, new_end);
        return brk_;
      }
      brk_ = addr;
      return brk_;
    }
  }
  Vma tmpl;
  tmpl.prot = platform::kProtRead | platform::kProtWrite;
  tmpl.name = "[heap]";
  Result<Vma> v = NewLike(tmpl, old_end, new_end, 0);
  if (!v.ok()) return brk_;
  vmas_.emplace(old_end, std::move(v).value());
  MergeRange(old_end, new_end);
  if (!SyncAs(old_end, new_end).ok()) {
    RemoveRange(old_end, new_end);
    return brk_;
  }
  brk_ = addr;
  return brk_;
}

}  // namespace sentry::mm
