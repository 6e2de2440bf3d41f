// Private to sentry/mm/: the VMA set behind MemoryManager. Every method runs
// with MemoryManager::mu_ held (the caller takes it).
#ifndef SENTRY_MM_MEMORY_MANAGER_IMPL_H_
#define SENTRY_MM_MEMORY_MANAGER_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/mm/range_set.h"

namespace sentry::mm {

// One mapping [start, end). `start` is the map key.
struct Vma {
  uint64_t end = 0;
  int prot = 0;
  bool shared = false;
  bool grows_down = false;
  bool dontfork = false;    // MADV_DONTFORK: the child of fork does not get it
  bool wipeonfork = false;  // MADV_WIPEONFORK: the child gets zeros
  // Private memory whose pages may be shared with another address space
  // since fork: mapped without write in the platform; a write (fault or
  // CopyOut) first copies shared pages (BreakCow).
  bool cow = false;
  bool maywrite = true;     // VM_MAYWRITE (MmapOpts::maywrite)
  std::shared_ptr<MappableFile> file;  // null: anonymous
  // MAP_SHARED of a file with shared pages (tmpfs): never backed; the
  // platform maps the file's own memory-file pages (file->SharedPages).
  bool shm = false;
  uint64_t file_offset = 0;            // file offset of start
  // Backing in the memory file. Only anonymous VMAs created PROT_NONE are
  // unbacked (address-space reservations of Go, the JVM, V8 can be huge);
  // they get backing when first made accessible.
  bool backed = false;
  uint64_t mf_offset = 0;  // memory-file offset of start
  // Private file mapping backed by the page cache's pages (FileCache):
  // every page holds the file's contents (populated_ is not used: one
  // address space may map the same cached pages twice). Always with cow;
  // BreakCow gives the VMA its own pages and clears it.
  bool filled = false;
  // Backing allocated lazily (MemoryFile::Backing::kLazy) or given back
  // by MADV_DONTNEED: only pages in Impl::committed_ are charged, mapped
  // and touched; a fault or a copy commits the rest first (CommitRange).
  bool lazy = false;
  std::string name;        // "[heap]", "[stack]", ""
};

class MemoryManager::Impl {
 public:
  using VmaMap = std::map<uint64_t, Vma>;
  Impl(MemoryFile& mf, platform::AddressSpace* as, uint64_t max_address, uint64_t mmap_base, SharedMapper* mapper)
      : mf_(mf), as_(as), max_(max_address), mmap_base_(mmap_base), mapper_(mapper) {}
  ~Impl();

  // memory_manager.cc: mapping changes.
  Result<uint64_t> Mmap(const MmapOpts& opts);
  Result<void> Munmap(uint64_t addr, uint64_t length);
  Result<void> Mprotect(uint64_t addr, uint64_t length, int prot);
  Result<uint64_t> Mremap(uint64_t old_addr, uint64_t old_size, uint64_t new_size, int flags, uint64_t new_addr);
  Result<void> Madvise(uint64_t addr, uint64_t length, int advice);
  uint64_t Brk(uint64_t addr);
  void SetBrkStart(uint64_t addr) { brk_start_ = brk_ = PageRoundUp(addr); }
  uint64_t brk() const { return brk_; }
  uint64_t brk_start() const { return brk_start_; }
  void set_as_limit(uint64_t bytes) { as_limit_ = bytes; }
  // While set, SyncAs records its ranges instead of calling the platform
  // (an access from a thread that does not drive it); FlushDeferred, on a
  // driving thread, applies them.
  void set_defer_sync(bool on) { defer_sync_ = on; }
  Result<void> FlushDeferred();

  // memory_manager_access.cc: faults, copies, /proc/self/maps.
  Result<void> HandleFault(uint64_t addr, int access);
  const Vma* VmaAt(uint64_t addr) const {
    auto it = Find(addr);
    return it == vmas_.end() ? nullptr : &it->second;
  }
  // Calls fn(sentry_pointer, offset_in_request, n) over the accessible
  // prefix of [addr, addr+len). Returns the bytes covered; the error says
  // why it stopped short (EFAULT, or EIO from a file read).
  // With populate=false (callers holding mu_ shared) it changes nothing and
  // sets needs_populate instead of reading a file; retry with mu_ exclusive.
  using AccessResult = MemoryManager::AccessResult;
  AccessResult Access(uint64_t addr, size_t len, bool write, bool populate,
                      absl::FunctionRef<void(uint8_t*, size_t, size_t)> fn, bool force = false);
  std::vector<VmaInfo> Vmas() const;
  // memory_manager_shared.cc: msync, mincore, futex keys, invalidations.
  Result<void> Msync(uint64_t addr, uint64_t length, int flags);
  Result<std::vector<uint8_t>> Mincore(uint64_t addr, uint64_t length);
  Result<std::pair<const void*, uint64_t>> SharedFutexKey(uint64_t addr);
  // The file `id` lost its pages for file bytes [start, end): remap what
  // its shared mappings still have there.
  void Invalidate(const void* id, uint64_t start, uint64_t end);
  // MemoryManager::DetachSysvShm.
  Result<std::shared_ptr<MappableFile>> DetachSysvShm(uint64_t addr);

  // memory_manager_fork.cc: copy-on-write fork.
  // Fills `child` (empty, no platform) with this address space's VMAs:
  // private pages become shared copy-on-write (both sides write-protected),
  // shared anonymous memory stays shared.
  Result<void> ForkInto(Impl& child);
  void set_address_space(platform::AddressSpace* as) { as_ = as; }
  // Maps every VMA into the (fresh) platform address space.
  Result<void> MapAll();
  // Gives the cow pieces of [start, end) (page aligned) their own pages:
  // copies of the shared ones when `copy`, zeros otherwise (MADV_DONTNEED).
  Result<void> BreakCow(uint64_t start, uint64_t end, bool copy);

 private:
  // may_expand_vm(): whether `grow` more bytes of mappings, of which
  // `replaced` replace existing ones (MAP_FIXED), stay within RLIMIT_AS.
  bool MayExpand(uint64_t grow, uint64_t replaced) const;
  // Bytes of [start, end) that VMAs cover.
  uint64_t MappedBytes(uint64_t start, uint64_t end) const;
  // The VMA containing addr, or end().
  VmaMap::iterator Find(uint64_t addr);
  VmaMap::const_iterator Find(uint64_t addr) const;
  // Makes addr a VMA boundary if a VMA straddles it.
  void SplitAt(uint64_t addr);
  // Removes all VMAs in [start, end), freeing their backing. Leaves the
  // platform alone: callers SyncAs afterwards.
  void RemoveRange(uint64_t start, uint64_t end);
  // Merges compatible neighbours with a boundary in [start, end].
  void MergeRange(uint64_t start, uint64_t end);
  // Makes the platform's view of [start, end) match the VMAs.
  Result<void> SyncAs(uint64_t start, uint64_t end);
  // A new VMA [start, end) with tmpl's attributes; backing allocated.
  Result<Vma> NewLike(const Vma& tmpl, uint64_t start, uint64_t end, uint64_t file_offset);
  Result<void> EnsureBacked(Vma& v, uint64_t start);
  // Lazily backed VMA at `it`: commits the pages of [start, end) (page
  // aligned, inside it) not committed yet. ENOMEM past --total-memory.
  Result<void> CommitRange(VmaMap::iterator it, uint64_t start, uint64_t end);
  // Whether the pages of [start, end) in the VMA at vstart may be touched.
  bool IsCommitted(const Vma& v, uint64_t vstart, uint64_t start, uint64_t end) const {
    if (!v.lazy) return true;
    const uint64_t ms = v.mf_offset + (start - vstart);
    return committed_.Covers(ms, ms + (end - start));
  }
  // Extends the VMA at `it` to new_end (free above it) if its backing can
  // grow contiguously; else false and the caller adds a separate piece.
  bool ExtendInPlace(VmaMap::iterator it, uint64_t new_end);
  void ReleaseBacking(uint64_t start, const Vma& v);
  // Top-down search below mmap_base_ (then bottom-up above it), as
  // generic_get_unmapped_area_topdown. `hint` is tried first.
  Result<uint64_t> FindGap(uint64_t len, uint64_t hint) const;
  // [start, end) is free, with the guard gap below a stack kept.
  bool IsFree(uint64_t start, uint64_t end) const;
  uint64_t StartGap(VmaMap::const_iterator it) const;
  // File mapping: read the file into the unpopulated parts of the chunks
  // covering [start, end) (clipped to the VMA) and map them in the platform.
  Result<void> Populate(VmaMap::iterator it, uint64_t start, uint64_t end);
  Result<void> GrowStack(uint64_t addr);
  // Shared file VMAs: register with the file so its freed pages wait for us.
  void RegisterShared(const std::shared_ptr<MappableFile>& f);

  MemoryFile& mf_;
  platform::AddressSpace* as_;  // may be null (tests)
  const uint64_t max_;
  const uint64_t mmap_base_;
  VmaMap vmas_;
  RangeSet populated_;  // memory-file ranges holding file contents
  // Memory-file ranges of lazy VMAs known committed (a subset of what
  // MemoryFile counts committed: only we can uncommit pages we hold).
  RangeSet committed_;
  uint64_t brk_start_ = 0;
  uint64_t brk_ = 0;
  uint64_t as_limit_ = UINT64_MAX;  // RLIMIT_AS
  bool defer_sync_ = false;
  RangeSet deferred_;  // app ranges SyncAs owes the platform
  SharedMapper* mapper_;  // the MemoryManager owning this
  absl::flat_hash_map<const void*, std::unique_ptr<MapperRegistration>> shared_regs_;
};

inline bool AccessAllowed(int prot, int access) {
  if (access & platform::kProtWrite) return prot & platform::kProtWrite;
  if (access & platform::kProtExec) return prot & platform::kProtExec;
  // Linux's vma_is_accessible(): on x86 any of r/w/x makes a page readable.
  return prot != platform::kProtNone;
}

}  // namespace sentry::mm

#endif  // SENTRY_MM_MEMORY_MANAGER_IMPL_H_
