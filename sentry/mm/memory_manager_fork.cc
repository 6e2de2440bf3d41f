// Copy-on-write fork (kernel/fork.c dup_mmap): the child's VMAs reference
// the parent's memory-file pages; private ones are write-protected on both
// sides and copied on the first write (BreakCow).
#include <cstring>
#include <utility>
#include <vector>

#include "sentry/mm/memory_manager.h"
#include "sentry/mm/memory_manager_impl.h"

namespace sentry::mm {

Result<void> MemoryManager::Impl::ForkInto(Impl& c) {
  c.brk_start_ = brk_start_;
  c.brk_ = brk_;
  for (auto& [start, v] : vmas_) {
    if (v.dontfork) continue;
    const uint64_t len = v.end - start;
    if (v.wipeonfork) {
      Vma fresh = TRY(c.NewLike(v, start, v.end, v.file_offset));
      c.vmas_.emplace(start, std::move(fresh));
      continue;
    }
    Vma cv = v;
    if (v.shm) c.RegisterShared(v.file);
    if (v.backed) {
      mf_.IncRef(v.mf_offset, len);
      if (!v.shared) cv.cow = true;
      if (v.lazy) {
        for (auto [ps, pe] : committed_.Intersect(v.mf_offset, v.mf_offset + len, /*covered=*/true)) {
          c.committed_.Add(ps, pe);
        }
      }
      if (v.file) {
        for (auto [ps, pe] : populated_.Intersect(v.mf_offset, v.mf_offset + len, /*covered=*/true)) {
          c.populated_.Add(ps, pe);
        }
      }
    }
    c.vmas_.emplace(start, std::move(cv));
  }
  // The parent's private writable memory becomes read-only in its platform
  // address space (the child's is mapped later by MapAll).
  for (auto& [start, v] : vmas_) {
    if (v.dontfork || v.wipeonfork || !v.backed || v.shared || v.cow) continue;
    v.cow = true;
    if (v.prot & platform::kProtWrite) TRY(SyncAs(start, v.end));
  }
  // Adjacent pieces that now agree (all cow) merge back.
  if (!vmas_.empty()) MergeRange(vmas_.begin()->first, std::prev(vmas_.end())->second.end);
  return base::Ok();
}

Result<void> MemoryManager::Impl::MapAll() {
  if (as_ == nullptr) return base::Ok();
  for (const auto& [start, v] : vmas_) TRY(SyncAs(start, v.end));
  return base::Ok();
}

Result<void> MemoryManager::Impl::BreakCow(uint64_t start, uint64_t end, bool copy) {
  SplitAt(start);
  SplitAt(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->first < end; ++it) {
    Vma& v = it->second;
    if (!v.cow) continue;
    const uint64_t len = v.end - it->first;
    if (v.backed && mf_.IsShared(v.mf_offset, len)) {
      // do_wp_page(): the other side keeps the old pages. A large fresh
      // range (MADV_DONTNEED, a big copy) is committed only where it gets
      // a copy.
      const bool lazy = len >= kLazyMin;
      const uint64_t fresh =
          TRY(mf_.Allocate(len, lazy ? MemoryFile::Backing::kLazy : MemoryFile::Backing::kEager));
      if (lazy && copy) {
        std::vector<std::pair<uint64_t, uint64_t>> src;
        if (v.filled) {
          src.emplace_back(v.mf_offset, v.mf_offset + len);
        } else if (v.file) {
          src = populated_.Intersect(v.mf_offset, v.mf_offset + len, /*covered=*/true);
        } else if (v.lazy) {
          // By the memory file: another process may have committed some.
          src = mf_.CommittedRuns(v.mf_offset, len);
        } else {
          src.emplace_back(v.mf_offset, v.mf_offset + len);
        }
        for (auto [ps, pe] : src) {
          Result<void> r = mf_.Commit(fresh + (ps - v.mf_offset), pe - ps);
          if (!r.ok()) {
            mf_.Free(fresh, len);
            return r.error();
          }
        }
      }
      if (v.lazy) committed_.Remove(v.mf_offset, v.mf_offset + len);
      if (v.filled) {
        // Cached file pages: the copy holds the file's contents; it is ours
        // alone, so populated_ tracks it from now on.
        if (copy) {
          mf_.CopyPages(fresh, v.mf_offset, len);
          populated_.Add(fresh, fresh + len);
        }
        v.filled = false;
      } else if (v.file) {
        for (auto [ps, pe] : populated_.Intersect(v.mf_offset, v.mf_offset + len, /*covered=*/true)) {
          const uint64_t ds = fresh + (ps - v.mf_offset);
          if (copy) {
            mf_.CopyPages(ds, ps, pe - ps);
            populated_.Add(ds, ds + (pe - ps));
          }
        }
        populated_.Remove(v.mf_offset, v.mf_offset + len);
      } else if (copy) {
        mf_.CopyPages(fresh, v.mf_offset, len);
      }
      mf_.Free(v.mf_offset, len);
      v.mf_offset = fresh;
      v.lazy = lazy;
      if (lazy) {
        // What the copy committed above (nothing without a copy).
        for (auto [cs, ce] : mf_.CommittedRuns(fresh, len)) committed_.Add(cs, ce);
      }
    }
    if (v.filled) {
      // Cached pages that only we hold now (the cache dropped the file).
      populated_.Add(v.mf_offset, v.mf_offset + len);
      v.filled = false;
    }
    // Pages only we hold now: writable again (wp_page_reuse()).
    v.cow = false;
  }
  MergeRange(start, end);
  return SyncAs(start, end);
}

MemoryManager::MemoryManager(MemoryFile& mf, uint64_t max_address, uint64_t mmap_base)
    : mf_(mf), max_address_(max_address), mmap_base_(mmap_base) {
  impl_ = std::make_unique<Impl>(mf_, nullptr, max_address_, mmap_base_, this);
}

Result<std::unique_ptr<MemoryManager>> MemoryManager::Fork() {
  auto child = std::unique_ptr<MemoryManager>(new MemoryManager(mf_, max_address_, mmap_base_));
  absl::MutexLock l(&mu_);
  absl::MutexLock cl(&child->mu_);
  TRY(impl_->ForkInto(*child->impl_));
  return child;
}

Result<void> MemoryManager::AttachAddressSpace(std::unique_ptr<platform::AddressSpace> as) {
  absl::MutexLock l(&mu_);
  if (as_ != nullptr || as == nullptr) return Errno::kEINVAL;
  if (as->MaxUserAddress() < max_address_) return Errno::kEINVAL;
  as_ = std::move(as);
  impl_->set_address_space(as_.get());
  return impl_->MapAll();
}

}  // namespace sentry::mm
