// The one door to app memory: checked copies, fault handling (demand paging
// of file mappings, stack growth) and /proc/self/maps.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "sentry/mm/memory_manager.h"
#include "sentry/mm/memory_manager_impl.h"

namespace sentry::mm {

// ---- Impl ----

Result<void> MemoryManager::Impl::Populate(VmaMap::iterator it, uint64_t start, uint64_t end) {
  const uint64_t vstart = it->first;
  Vma& v = it->second;
  if (v.filled) return SyncAs(std::max(PageRoundDown(start), vstart), std::min(PageRoundUp(end), v.end));
  // Whole aligned chunks, clipped to the VMA.
  const uint64_t cs = std::max(start & ~(kFaultChunk - 1), vstart);
  const uint64_t ce = std::min(end > v.end - kFaultChunk ? v.end : (end + kFaultChunk - 1) & ~(kFaultChunk - 1), v.end);
  const uint64_t ms = v.mf_offset + (cs - vstart);
  for (auto [gs, ge] : populated_.Intersect(ms, ms + (ce - cs), /*covered=*/false)) {
    TRY(CommitRange(it, cs + (gs - ms), cs + (ge - ms)));
    // Unpopulated pages are holes (zeros), so a short read leaves the tail
    // past EOF zero, as Linux does for the last page of a file.
    uint8_t* dst = mf_.Data(gs);
    const uint64_t len = ge - gs;
    const uint64_t foff = v.file_offset + (gs - v.mf_offset);
    uint64_t done = 0;
    while (done < len) {
      Result<size_t> n = v.file->ReadAt({dst + done, static_cast<size_t>(len - done)}, foff + done);
      if (!n.ok()) {
        mf_.Decommit(gs, len);
        return n.error();
      }
      if (n.value() == 0) break;
      done += n.value();
    }
    populated_.Add(gs, ge);
  }
  // Map it now: saves the fault a copy-triggered population would cost later.
  return SyncAs(cs, ce);
}

Result<void> MemoryManager::Impl::GrowStack(uint64_t addr) {
  auto next = vmas_.upper_bound(addr);
  if (next == vmas_.end() || !next->second.grows_down) return Errno::kEFAULT;
  const uint64_t new_start = PageRoundDown(addr);
  if (next->second.end - new_start > kMaxStackSize || new_start < kMmapMinAddr) return Errno::kEFAULT;
  // expand_downwards(): keep the guard gap above the previous mapping.
  if (next != vmas_.begin()) {
    auto prev = std::prev(next);
    if (!prev->second.grows_down && prev->second.prot != platform::kProtNone &&
        new_start - prev->second.end < kStackGuardGap)
      return Errno::kEFAULT;
    if (prev->second.end > new_start) return Errno::kEFAULT;
  }
  const uint64_t old_start = next->first;
  Vma piece = TRY(NewLike(next->second, new_start, old_start, 0));
  vmas_.emplace(new_start, std::move(piece));
  MergeRange(new_start, old_start);
  return SyncAs(new_start, old_start);
}

Result<void> MemoryManager::Impl::HandleFault(uint64_t addr, int access) {
  if (addr >= max_) return Errno::kEFAULT;
  auto it = Find(addr);
  if (it == vmas_.end()) {
    TRY(GrowStack(addr));
    it = Find(addr);
    if (it == vmas_.end()) return Errno::kEFAULT;
  }
  if (!AccessAllowed(it->second.prot, access)) return Errno::kEFAULT;
  const uint64_t page = PageRoundDown(addr);
  if ((access & platform::kProtWrite) && it->second.cow) {
    // Copy-on-write: give the written chunk (clipped to the VMA) its own
    // pages. Populate a file page first so the copy has its contents.
    if (it->second.file && !it->second.filled) TRY(Populate(it, page, page + kPageSize));
    it = Find(addr);
    const uint64_t cs = std::max(page & ~(kFaultChunk - 1), it->first);
    const uint64_t ce = std::min((page & ~(kFaultChunk - 1)) + kFaultChunk, it->second.end);
    return BreakCow(cs, ce, /*copy=*/true);
  }
  if (it->second.shm) {
    // shmem_fault(): past EOF is SIGBUS; a hole gets pages. The chunk
    // around the fault (clipped to the VMA and EOF) is filled and mapped.
    const Vma& v = it->second;
    const uint64_t fpage = v.file_offset + (page - it->first);
    const uint64_t eof = PageRoundUp(v.file->SharedSize());
    if (fpage >= eof) return Errno::kEIO;
    const uint64_t cs = std::max(page & ~(kFaultChunk - 1), it->first);
    const uint64_t ce = std::min({(page & ~(kFaultChunk - 1)) + kFaultChunk, v.end, it->first + (eof - v.file_offset)});
    const uint64_t fcs = v.file_offset + (cs - it->first);
    Result<std::vector<MappableFile::PageRun>> r = v.file->SharedPages(fcs, ce - cs, /*allocate=*/true);
    if (!r.ok()) return r.error() == Errno::kENOMEM ? Errno::kENOMEM : Errno::kEIO;
    // page_mkwrite: a store to a page the file maps read-only dirties it.
    if (access & platform::kProtWrite) v.file->MarkDirty(fpage, kPageSize);
    return SyncAs(cs, ce);
  }
  if (it->second.file) return Populate(it, page, page + kPageSize);
  if (it->second.lazy) {
    // First touch of lazily committed memory: commit (charge) the chunk
    // and map it. Past --total-memory this is ENOMEM: the caller kills the
    // process, as Linux's OOM killer would.
    const uint64_t cs = std::max(page & ~(kLazyChunk - 1), it->first);
    const uint64_t ce = std::min((page & ~(kLazyChunk - 1)) + kLazyChunk, it->second.end);
    if (!IsCommitted(it->second, it->first, page, page + kPageSize)) {
      if (!CommitRange(it, cs, ce).ok()) TRY(CommitRange(it, page, page + kPageSize));  // the last few pages
    }
    return SyncAs(cs, ce);
  }
  // Anonymous memory is mapped whole at mmap time; a fault here is spurious
  // (or the platform lost the mapping): map the page again.
  return SyncAs(page, page + kPageSize);
}

MemoryManager::Impl::AccessResult MemoryManager::Impl::Access(
    uint64_t addr, size_t len, bool write, bool populate, absl::FunctionRef<void(uint8_t*, size_t, size_t)> fn,
    bool force) {
  if (len == 0) return {0, Errno::kEFAULT};
  // access_ok(): the whole range must be below the top, without wrapping.
  if (addr >= max_ || len > max_ - addr) return {0, Errno::kEFAULT};
  const int need = write ? platform::kProtWrite : platform::kProtRead;
  size_t done = 0;
  auto it = Find(addr);
  while (done < len) {
    const uint64_t a = addr + done;
    if (it == vmas_.end() || it->first > a || it->second.end <= a) return {done, Errno::kEFAULT};
    Vma& v = it->second;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, v.end - a));
    // FOLL_FORCE (check_vma_flags()): reads anything, writes private
    // mappings that may be written (not a shared read-only one).
    const bool allowed = AccessAllowed(v.prot, need) || (force && (!write || (!v.shared && v.maywrite)));
    if (v.shm && allowed) {
      // The file's own pages; holes get pages only with populate (they
      // change the file); past EOF is EFAULT for a copy.
      const uint64_t foff = v.file_offset + (a - it->first);
      const uint64_t fs = PageRoundDown(foff), fe = PageRoundUp(foff + n);
      Result<std::vector<MappableFile::PageRun>> runs = v.file->SharedPages(fs, fe - fs, populate);
      if (!runs.ok()) return {done, Errno::kEFAULT};
      if (write) v.file->MarkDirty(fs, fe - fs);
      uint64_t cur = foff;
      for (const auto& r : runs.value()) {
        if (r.file_off > cur) break;  // a hole
        const uint64_t stop = std::min(r.file_off + r.len, foff + n);
        if (stop <= cur) continue;
        fn(mf_.Data(r.mf_off + (cur - r.file_off)), done + (cur - foff), stop - cur);
        cur = stop;
      }
      if (cur < foff + n) {
        if (!populate) return {done + (cur - foff), Errno::kEFAULT, true};
        return {done + (cur - foff), Errno::kEFAULT};
      }
      done += n;
      ++it;
      continue;
    }
    if (!allowed || !v.backed) return {done, Errno::kEFAULT};
    const uint64_t mo = v.mf_offset + (a - it->first);
    if (v.file && !v.filled && !populated_.Covers(mo, mo + n)) {
      if (!populate) return {done, Errno::kEFAULT, true};
      Result<void> r = Populate(it, a, a + n);
      if (!r.ok()) return {done, r.error()};
    }
    if (write && v.cow) {
      if (!populate) return {done, Errno::kEFAULT, true};
      Result<void> r = BreakCow(PageRoundDown(a), PageRoundUp(a + n), /*copy=*/true);
      if (!r.ok()) return {done, r.error()};
      it = Find(a);
      continue;
    }
    if (!v.file && !IsCommitted(v, it->first, PageRoundDown(a), PageRoundUp(a + n))) {
      // Lazily committed memory the app has not touched: commit it before
      // the sentry's mapping touches it (a read of a memfd hole allocates).
      if (!populate) return {done, Errno::kEFAULT, true};
      const uint64_t ps = PageRoundDown(a), pe = std::min(PageRoundUp(a + n), v.end);
      if (!CommitRange(it, ps, pe).ok()) return {done, Errno::kEFAULT};
      Result<void> r = SyncAs(ps, pe);  // saves the app the fault
      if (!r.ok()) return {done, r.error()};
    }
    fn(mf_.Data(mo), done, n);
    done += n;
    ++it;  // the next VMA, if contiguous, is the next piece
  }
  return {done, Errno::kEFAULT};
}

std::vector<VmaInfo> MemoryManager::Impl::Vmas() const {
  std::vector<VmaInfo> out;
  for (const auto& [start, v] : vmas_) {
    std::string name = v.file ? v.file->MapsName() : v.name;
    if (!v.file && v.shared && name.empty()) name = "/dev/zero (deleted)";  // shmem, as Linux names it
    if (!out.empty()) {
      VmaInfo& last = out.back();
      const bool same_file_run = !v.file || last.offset + (last.end - last.start) == v.file_offset;
      if (last.end == start && last.prot == v.prot && last.shared == v.shared && last.name == name &&
          same_file_run) {
        last.end = v.end;
        if (v.backed && !v.shm) last.rss += mf_.DataBytes(v.mf_offset, v.end - start);
        continue;
      }
    }
    VmaInfo info{start, v.end, v.prot, v.shared, v.file ? v.file_offset : 0, std::move(name)};
    if (v.backed && !v.shm) info.rss = mf_.DataBytes(v.mf_offset, v.end - start);
    if (v.file) {
      info.dev_major = v.file->MapsDevMajor();
      info.dev_minor = v.file->MapsDevMinor();
      info.inode = v.file->MapsInode();
    }
    out.push_back(std::move(info));
  }
  return out;
}

// ---- MemoryManager: the copy interface ----

int MemoryManager::InferFaultAccess(uint64_t addr, uint64_t rip, int signo, int si_code) const {
  if (signo != SIGSEGV || (si_code != SEGV_MAPERR && si_code != SEGV_ACCERR)) return 0;
  absl::ReaderMutexLock l(&mu_);
  const Vma* v = impl_->VmaAt(addr);
  if (v == nullptr || v->prot == platform::kProtNone) return 0;
  if (si_code == SEGV_MAPERR) return platform::kProtRead;
  // An instruction fetch faults at rip or in the rest of an instruction
  // that straddles a page boundary (x86 instructions are <= 15 bytes).
  const bool at_rip = addr >= rip && addr - rip < 16;
  if (!at_rip && v->cow && (v->prot & platform::kProtWrite)) return platform::kProtWrite;
  // A shared file page mapped read-only until its first store (PageRun::writable).
  if (!at_rip && v->shm && (v->prot & platform::kProtWrite)) return platform::kProtWrite;
  return 0;
}

Result<void> MemoryManager::HandleFault(uint64_t addr, int access) {
  absl::MutexLock l(&mu_);
  return impl_->HandleFault(addr, access);
}

MemoryManager::AccessResult MemoryManager::AccessLocked(
    uint64_t addr, size_t len, bool write, absl::FunctionRef<void(uint8_t*, size_t, size_t)> fn, bool force,
    bool foreign) {
  {
    // Fast path: shared lock, so task threads of one process copy in
    // parallel. Re-running fn on a prefix is harmless (same bytes again).
    absl::ReaderMutexLock l(&mu_);
    auto r = impl_->Access(addr, len, write, /*populate=*/false, fn, force);
    if (!r.needs_populate) return r;
  }
  absl::MutexLock l(&mu_);
  impl_->set_defer_sync(foreign);
  auto r = impl_->Access(addr, len, write, /*populate=*/true, fn, force);
  impl_->set_defer_sync(false);
  return r;
}

Result<size_t> MemoryManager::ForceCopyInPartial(uint64_t addr, std::span<uint8_t> dst, bool foreign) {
  if (dst.empty()) return size_t{0};
  auto r = AccessLocked(
      addr, dst.size(), /*write=*/false, [&](uint8_t* p, size_t off, size_t n) { memcpy(dst.data() + off, p, n); },
      /*force=*/true, foreign);
  if (r.done == 0) return r.err;
  return r.done;
}

Result<size_t> MemoryManager::ForceCopyOutPartial(uint64_t addr, std::span<const uint8_t> src, bool foreign) {
  if (src.empty()) return size_t{0};
  auto r = AccessLocked(
      addr, src.size(), /*write=*/true, [&](uint8_t* p, size_t off, size_t n) { memcpy(p, src.data() + off, n); },
      /*force=*/true, foreign);
  if (r.done == 0) return r.err;
  return r.done;
}

Result<size_t> MemoryManager::CopyInBytesPartial(uint64_t addr, std::span<uint8_t> dst) {
  if (dst.empty()) return size_t{0};
  auto r = AccessLocked(addr, dst.size(), /*write=*/false,
                        [&](uint8_t* p, size_t off, size_t n) { memcpy(dst.data() + off, p, n); });
  if (r.done == 0) return r.err;
  return r.done;
}

Result<size_t> MemoryManager::CopyOutBytesPartial(uint64_t addr, std::span<const uint8_t> src) {
  if (src.empty()) return size_t{0};
  auto r = AccessLocked(addr, src.size(), /*write=*/true,
                        [&](uint8_t* p, size_t off, size_t n) { memcpy(p, src.data() + off, n); });
  if (r.done == 0) return r.err;
  return r.done;
}

Result<size_t> MemoryManager::AccessPartial(uint64_t addr, size_t len, bool write,
                                            absl::FunctionRef<void(uint8_t*, size_t, size_t)> fn) {
  if (len == 0) return size_t{0};
  auto r = AccessLocked(addr, len, write, fn);
  if (r.done == 0) return r.err;
  return r.done;
}

Result<void> MemoryManager::CopyInBytes(uint64_t addr, std::span<uint8_t> dst) {
  if (dst.empty()) return base::Ok();
  auto r = AccessLocked(addr, dst.size(), /*write=*/false,
                        [&](uint8_t* p, size_t off, size_t n) { memcpy(dst.data() + off, p, n); });
  if (r.done != dst.size()) return r.err;
  return base::Ok();
}

Result<void> MemoryManager::CopyOutBytes(uint64_t addr, std::span<const uint8_t> src) {
  if (src.empty()) return base::Ok();
  auto r = AccessLocked(addr, src.size(), /*write=*/true,
                        [&](uint8_t* p, size_t off, size_t n) { memcpy(p, src.data() + off, n); });
  if (r.done != src.size()) return r.err;
  return base::Ok();
}

Result<uint32_t> MemoryManager::AtomicUpdate32(uint64_t addr,
                                               absl::FunctionRef<std::optional<uint32_t>(uint32_t)> update) {
  if (addr % sizeof(uint32_t) != 0) return Errno::kEINVAL;
  uint32_t seen = 0;
  bool applied = false;
  // An aligned word never straddles a page: fn runs once for all 4 bytes,
  // or not at all (the shared-lock pass may stop for a populate).
  auto r = AccessLocked(addr, sizeof(uint32_t), /*write=*/true, [&](uint8_t* p, size_t, size_t n) {
    if (applied || n != sizeof(uint32_t)) return;
    applied = true;
    std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(p));
    uint32_t cur = word.load(std::memory_order_seq_cst);
    while (true) {
      const std::optional<uint32_t> next = update(cur);
      if (!next.has_value() || word.compare_exchange_weak(cur, *next, std::memory_order_seq_cst)) break;
    }
    seen = cur;
  });
  if (!applied || r.done != sizeof(uint32_t)) return r.err;
  return seen;
}

Result<void> MemoryManager::ZeroOut(uint64_t addr, uint64_t length) {
  if (length == 0) return base::Ok();
  if (length > SIZE_MAX) return Errno::kEFAULT;
  auto r = AccessLocked(addr, static_cast<size_t>(length), /*write=*/true,
                        [&](uint8_t* p, size_t, size_t n) { memset(p, 0, n); });
  if (r.done != length) return r.err;
  return base::Ok();
}

Result<std::string> MemoryManager::CopyInString(uint64_t addr, size_t max_len) {
  std::string out;
  // Page by page: a string may end right before unmapped memory.
  while (out.size() <= max_len) {
    const uint64_t a = addr + out.size();
    if (a < addr) return Errno::kEFAULT;  // wrapped
    const size_t want = std::min<uint64_t>(kPageSize - (a & (kPageSize - 1)), max_len + 1 - out.size());
    const size_t old = out.size();
    out.resize(old + want);
    Result<size_t> n = CopyInBytesPartial(a, {reinterpret_cast<uint8_t*>(out.data() + old), want});
    if (!n.ok()) return n.error();
    out.resize(old + n.value());
    if (const void* nul = memchr(out.data() + old, 0, n.value())) {
      out.resize(static_cast<const char*>(nul) - out.data());
      return out;
    }
    if (n.value() < want) return Errno::kEFAULT;
  }
  return Errno::kENAMETOOLONG;
}

std::vector<VmaInfo> MemoryManager::Vmas() const {
  absl::MutexLock l(&mu_);
  return impl_->Vmas();
}

std::string MemoryManager::MapsText() const {
  std::string out;
  for (const VmaInfo& v : Vmas()) out += FormatMapsLine(v);
  return out;
}

std::string FormatMapsLine(const VmaInfo& v) {
  // show_vma_header_prefix() then seq_pad() to 25 + 6 * sizeof(void*) - 1.
  std::string line = fmt::format("{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ", v.start, v.end,
                                 (v.prot & platform::kProtRead) ? 'r' : '-',
                                 (v.prot & platform::kProtWrite) ? 'w' : '-',
                                 (v.prot & platform::kProtExec) ? 'x' : '-', v.shared ? 's' : 'p', v.offset,
                                 v.dev_major, v.dev_minor, v.inode);
  if (!v.name.empty()) {
    constexpr size_t kPad = 25 + 6 * sizeof(void*) - 1;
    if (line.size() < kPad) line.append(kPad - line.size(), ' ');
    line += ' ';
    line += v.name;
  }
  line += '\n';
  return line;
}

}  // namespace sentry::mm
