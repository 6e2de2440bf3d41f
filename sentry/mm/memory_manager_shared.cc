// Shared mappings: msync, mincore, futex keys, and keeping shared file
// mappings in step with files that give up pages (truncate, hole punch).
#include <sys/mman.h>

#include <algorithm>

#include "base/logging.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/mm/memory_manager_impl.h"

namespace sentry::mm {

// ---- Impl ----

void MemoryManager::Impl::RegisterShared(const std::shared_ptr<MappableFile>& f) {
  const void* id = f->SharedId();
  auto it = shared_regs_.find(id);
  // A dead registration's id may now name a new file at the same address.
  if (it != shared_regs_.end() && it->second != nullptr && it->second->alive()) return;
  if (it != shared_regs_.end()) shared_regs_.erase(it);
  // Registered for the life of this address space (a stale registration
  // only costs a queued invalidation that finds no VMA).
  shared_regs_.emplace(id, f->AddMapper(mapper_));
}

void MemoryManager::Impl::Invalidate(const void* id, uint64_t start, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [vs, v] : vmas_) {
    if (!v.shm || v.file->SharedId() != id) continue;
    const uint64_t fs = v.file_offset, fe = v.file_offset + (v.end - vs);
    const uint64_t s = std::max(fs, start), e = std::min(fe, end);
    if (s >= e) continue;
    ranges.emplace_back(vs + PageRoundDown(s - fs), std::min(v.end, vs + PageRoundUp(e - fs)));
  }
  for (auto [s, e] : ranges) {
    // SyncAs maps what the file still has and unmaps the rest, so the next
    // touch faults: SIGBUS past EOF, fresh zero pages in a punched hole.
    (void)SyncAs(s, e);
  }
}

Result<void> MemoryManager::Impl::Msync(uint64_t addr, uint64_t length, int flags) {
  const uint64_t end = addr + PageRoundUp(length);
  if (end < addr) return Errno::kENOMEM;
  // Every page must be mapped (msync(2): ENOMEM). Shared file pages are the
  // file's pages and private ones never reach it; a file whose pages cache
  // a host file (writable gofer mounts) writes them back, as
  // vfs_fsync_range for MS_SYNC (we also do it for MS_ASYNC, so the host
  // sees the stores without waiting for the last unmap).
  uint64_t cursor = addr;
  auto it = Find(addr);
  if (it == vmas_.end()) return addr == end ? Result<void>(base::Ok()) : Errno::kENOMEM;
  Result<void> wb = base::Ok();
  for (; it != vmas_.end() && cursor < end; ++it) {
    if (it->first > cursor) return Errno::kENOMEM;
    const Vma& v = it->second;
    if (v.shm && (flags & (MS_SYNC | MS_ASYNC)) && wb.ok()) {
      const uint64_t s = std::max(it->first, cursor), e = std::min(v.end, end);
      wb = v.file->WriteBack(v.file_offset + (s - it->first), e - s, (flags & MS_SYNC) != 0);
    }
    cursor = v.end;
  }
  if (cursor < end) return Errno::kENOMEM;
  return wb;
}

Result<std::vector<uint8_t>> MemoryManager::Impl::Mincore(uint64_t addr, uint64_t length) {
  const uint64_t end = addr + PageRoundUp(length);
  std::vector<uint8_t> out;
  out.reserve((end - addr) / kPageSize);
  uint64_t cursor = addr;
  auto it = Find(addr);
  while (cursor < end) {
    if (it == vmas_.end() || it->first > cursor) return Errno::kENOMEM;
    const Vma& v = it->second;
    const uint64_t e = std::min(v.end, end);
    if (v.shm) {
      const uint64_t fs = v.file_offset + (cursor - it->first);
      std::vector<uint8_t> bits((e - cursor) / kPageSize, 0);
      Result<std::vector<MappableFile::PageRun>> runs = v.file->SharedPages(fs, e - cursor, /*allocate=*/false);
      if (runs.ok()) {
        for (const auto& r : runs.value()) {
          std::fill_n(bits.begin() + (r.file_off - fs) / kPageSize, r.len / kPageSize, 1);
        }
      }
      out.insert(out.end(), bits.begin(), bits.end());
    } else if (!v.backed) {
      out.insert(out.end(), (e - cursor) / kPageSize, 0);
    } else {
      const uint64_t mo = v.mf_offset + (cursor - it->first);
      for (uint64_t p = 0; p < e - cursor; p += kPageSize) {
        // Private file pages not read yet are not in memory either.
        const bool filled = !v.file || v.filled || populated_.Covers(mo + p, mo + p + kPageSize);
        out.push_back(filled && mf_.HasData(mo + p) ? 1 : 0);
      }
    }
    cursor = e;
    ++it;
  }
  return out;
}

Result<std::pair<const void*, uint64_t>> MemoryManager::Impl::SharedFutexKey(uint64_t addr) {
  auto it = Find(addr);
  if (it == vmas_.end() || !AccessAllowed(it->second.prot, platform::kProtRead)) return Errno::kEFAULT;
  const Vma& v = it->second;
  if (!v.shared) return std::pair<const void*, uint64_t>{nullptr, addr};
  if (v.shm) {
    const uint64_t foff = v.file_offset + (addr - it->first);
    Result<std::vector<MappableFile::PageRun>> runs =
        v.file->SharedPages(PageRoundDown(foff), kPageSize, /*allocate=*/true);
    if (!runs.ok() || runs.value().empty()) return Errno::kEFAULT;
    return std::pair<const void*, uint64_t>{&mf_, runs.value()[0].mf_off + (foff & (kPageSize - 1))};
  }
  if (!v.backed) return Errno::kEFAULT;
  return std::pair<const void*, uint64_t>{&mf_, v.mf_offset + (addr - it->first)};
}

Result<std::shared_ptr<MappableFile>> MemoryManager::Impl::DetachSysvShm(uint64_t addr) {
  if (addr & (kPageSize - 1)) return Errno::kEINVAL;
  // Like ksys_shmdt: the first shm VMA at or above addr whose file offset
  // equals its distance from addr fixes the segment and its size...
  std::shared_ptr<MappableFile> file;
  uint64_t size = 0;
  auto it = vmas_.upper_bound(addr);
  if (it != vmas_.begin() && std::prev(it)->second.end > addr) --it;
  for (; it != vmas_.end(); ++it) {
    const Vma& v = it->second;
    if (v.file && v.file->IsSysvShm() && it->first - addr == v.file_offset) {
      file = v.file;
      size = PageRoundUp(file->SharedSize());
      break;
    }
  }
  if (file == nullptr) return Errno::kEINVAL;
  // ...then every VMA of that segment starting at its offset from addr and
  // ending within size goes.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (; it != vmas_.end() && it->second.end - addr <= size; ++it) {
    const Vma& v = it->second;
    if (v.file == file && it->first - addr == v.file_offset) ranges.emplace_back(it->first, v.end);
  }
  for (auto [s, e] : ranges) {
    RemoveRange(s, e);
    (void)SyncAs(s, e);
  }
  return file;
}

// ---- MemoryManager ----

Result<std::shared_ptr<MappableFile>> MemoryManager::DetachSysvShm(uint64_t addr) {
  absl::MutexLock l(&mu_);
  return impl_->DetachSysvShm(addr);
}

Result<void> MemoryManager::Msync(uint64_t addr, uint64_t length, int flags) {
  absl::MutexLock l(&mu_);
  return impl_->Msync(addr, length, flags);
}

Result<std::vector<uint8_t>> MemoryManager::Mincore(uint64_t addr, uint64_t length) {
  absl::MutexLock l(&mu_);
  return impl_->Mincore(addr, length);
}

Result<std::pair<const void*, uint64_t>> MemoryManager::FutexKey(uint64_t addr, bool is_private) {
  if (is_private) return std::pair<const void*, uint64_t>{this, addr};
  absl::MutexLock l(&mu_);
  auto k = TRY(impl_->SharedFutexKey(addr));
  if (k.first == nullptr) k.first = this;  // a private mapping: keyed as private
  return k;
}

void MemoryManager::QueueInvalidation(const void* id, uint64_t start, uint64_t end,
                                      std::shared_ptr<FreedPages> pages) {
  absl::MutexLock l(&pending_mu_);
  pending_.push_back(Invalidation{id, start, end, std::move(pages)});
  pending_any_.store(true, std::memory_order_release);
}

void MemoryManager::ProcessInvalidationsSlow() {
  std::vector<Invalidation> work;
  {
    absl::MutexLock l(&pending_mu_);
    work.swap(pending_);
    pending_any_.store(false, std::memory_order_release);
  }
  absl::MutexLock l(&mu_);
  // Mappings another thread's access changed (/proc/<pid>/mem) first.
  if (Result<void> r = impl_->FlushDeferred(); !r.ok()) {
    logging::Warn("mm: remapping after a foreign access failed: {}", base::ErrnoName(r.error()));
  }
  for (const Invalidation& inv : work) impl_->Invalidate(inv.id, inv.start, inv.end);
  // `work` goes after the unmaps: only then do its pages return to the
  // memory file.
}

}  // namespace sentry::mm
