// MemoryManager: one app address space (invariant 4). Owns the VMAs, backs
// them with ranges of the MemoryFile, keeps the platform AddressSpace in step,
// and is the one door through which the sentry reads and writes app memory.
//
// Locking: mu_ guards the VMA set and brk. Platform calls (Map/Unmap) are
// made with mu_ held; the platform AddressSpace is driven by the task thread
// (see platform/platform.h).
#ifndef SENTRY_MM_MEMORY_MANAGER_H_
#define SENTRY_MM_MEMORY_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "platform/platform.h"
#include "sentry/mm/file_pages.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/user_ptr.h"

namespace sentry::mm {

using base::Errno;
using base::Result;

constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t PageRoundDown(uint64_t a) { return a & ~(kPageSize - 1); }
inline constexpr uint64_t PageRoundUp(uint64_t a) { return (a + kPageSize - 1) & ~(kPageSize - 1); }

// Source of file contents for a file-backed mapping: the loader and mmap(2)
// pass one. ReadAt fills `buf` from file offset `off`; short reads past EOF
// leave the rest zero (as Linux does for the tail page).
class MappableFile {
 public:
  virtual ~MappableFile() = default;
  virtual Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) = 0;
  // For /proc/self/maps ("/usr/lib/x86_64-linux-gnu/libc.so.6").
  virtual std::string MapsName() const = 0;
  // Device and inode shown in /proc/self/maps; 0 when unknown.
  virtual uint32_t MapsDevMajor() const { return 0; }
  virtual uint32_t MapsDevMinor() const { return 0; }
  virtual uint64_t MapsInode() const { return 0; }

  // Identity and version of the file's contents for the page cache
  // (file_cache.h): private mappings of files with equal (dev, ino) share
  // the cached pages copy-on-write while size, mtime and ctime match.
  // nullopt (the default): not cached, read on demand.
  struct ContentKey {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
  };
  virtual std::optional<ContentKey> CacheKey() { return std::nullopt; }

  // MAP_SHARED of a file whose data lives in memory-file pages (tmpfs,
  // memfd): the mapping maps those pages, so it and read/write see the same
  // bytes. Other files (the read-only rootfs) are mapped shared as copies,
  // which is the same thing while nothing can write them.
  virtual bool HasSharedPages() const { return false; }
  // Identity of the file's data (the inode), the same for every
  // MappableFile of one file.
  virtual const void* SharedId() const { return this; }
  struct PageRun {
    uint64_t file_off;  // page aligned
    uint64_t len;
    uint64_t mf_off;    // memory-file offset of file_off
    // False: map without PROT_WRITE even in a writable VMA, so that the
    // first store faults and the file learns the page is dirty (MarkDirty;
    // a file caching a host file tracks what to write back).
    bool writable = true;
  };
  // The memory-file pages holding file bytes [off, off+len) (page aligned),
  // as runs in file order. Stops at EOF (the page holding EOF included);
  // with `allocate`, holes before EOF get zero pages first (ENOMEM if the
  // memory file is full), otherwise holes are left out.
  virtual Result<std::vector<PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate) {
    (void)off, (void)len, (void)allocate;
    return Errno::kENODEV;
  }
  // File size, for SIGBUS past EOF.
  virtual uint64_t SharedSize() { return 0; }
  // A store through a shared mapping (a write fault, or the sentry writing
  // app memory there) is about to change file bytes [off, off+len) (page
  // aligned); their PageRuns are writable from now on.
  virtual void MarkDirty(uint64_t off, uint64_t len) { (void)off, (void)len; }
  // Registers an address space to be told when pages go (file_pages.h).
  virtual std::unique_ptr<MapperRegistration> AddMapper(SharedMapper* m) {
    (void)m;
    return nullptr;
  }
  // mmap(2) through this MappableFile (made for that call): the file may
  // refuse (memfd seals: EPERM for a shared writable mapping) or clear
  // *maywrite (mm/memfd.c memfd_check_seals_mmap).
  virtual Result<void> PrepareMap(bool shared, int prot, bool* maywrite) {
    (void)shared, (void)prot, (void)maywrite;
    return {};
  }
  // A System V shared memory segment (sentry/ipc/shm.h): shmdt(2) finds
  // the VMAs to remove by it.
  virtual bool IsSysvShm() const { return false; }
  // msync(MS_SYNC/MS_ASYNC) of file bytes [off, off+len): a file whose
  // shared pages cache another store (a writable gofer file) writes them
  // back; `sync` waits for the host's disk (MS_SYNC).
  virtual Result<void> WriteBack(uint64_t off, uint64_t len, bool sync) {
    (void)off, (void)len, (void)sync;
    return {};
  }
};

struct MmapOpts {
  uint64_t addr = 0;       // hint, or the fixed address with fixed=true
  uint64_t length = 0;     // bytes, > 0; rounded up to pages
  int prot = 0;            // PROT_*
  bool fixed = false;      // MAP_FIXED: replace what is there
  bool fixed_noreplace = false;  // MAP_FIXED_NOREPLACE: EEXIST if occupied
  bool shared = false;     // MAP_SHARED
  // VM_MAYWRITE: false for a shared mapping of a file not open for writing
  // and for [vvar]: mmap or mprotect with PROT_WRITE then fails with EACCES.
  bool maywrite = true;
  bool grows_down = false; // the stack
  std::shared_ptr<MappableFile> file;  // null for anonymous
  uint64_t offset = 0;     // file offset, page aligned
  std::string name;        // "[stack]", "[heap]"; file mappings use file->MapsName()
  // MAP_NORESERVE: no overcommit check (an anonymous writable mapping
  // larger than all memory is ENOMEM without it, as Linux's heuristic
  // overcommit mode 0 does).
  bool noreserve = false;
  // Maps this existing memory-file range (taking a reference) instead of
  // fresh memory: the vDSO's parameter page, one page shared by every
  // address space (sentry/vdso/). Anonymous and shared only.
  std::optional<uint64_t> mf_offset;
};

struct VmaInfo {  // for /proc/self/maps and tests
  uint64_t start, end;
  int prot;
  bool shared;
  uint64_t offset;  // file offset of start; 0 for anonymous (as Linux shows)
  std::string name;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  uint64_t rss = 0;  // bytes of it holding memory (/proc/<pid>/smaps Rss)
};

// One /proc/self/maps line, exactly as Linux's show_map_vma() prints it
// ("start-end rwxp offset maj:min inode", padded to column 73 before a name,
// "... 0 " with a trailing space when there is none), with the '\n'.
std::string FormatMapsLine(const VmaInfo& v);

// The lowest address mmap(2) hands out or accepts with MAP_FIXED
// (vm.mmap_min_addr); below it MAP_FIXED fails with EPERM.
constexpr uint64_t kMmapMinAddr = 0x10000;
// Linux's stack_guard_gap: no mapping is placed this close below a stack.
constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// Top of the app address space without a platform (x86-64 TASK_SIZE).
constexpr uint64_t kDefaultMaxUserAddress = 0x7ffffffff000;
// File mappings are populated (read and mapped) in aligned chunks of this
// size, clipped to the VMA: amortizes faults and file reads.
constexpr uint64_t kFaultChunk = 64 * 1024;
// Anonymous and private file mappings at least this large get their
// memory-file backing committed lazily, in aligned chunks of
// kLazyChunk (clipped to the VMA) on first touch: reserving address space
// is free, and --total-memory limits only what is touched.
constexpr uint64_t kLazyMin = 1ull << 20;
constexpr uint64_t kLazyChunk = 1ull << 20;
// Largest size a grows-down VMA reaches by faults below it (RLIMIT_STACK).
constexpr uint64_t kMaxStackSize = 8ull << 20;

class MemoryManager final : public SharedMapper {
 public:
  // `as` may be null in unit tests (no platform). `mf` must outlive this.
  MemoryManager(MemoryFile& mf, std::unique_ptr<platform::AddressSpace> as);
  ~MemoryManager() override;
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  platform::AddressSpace* address_space() { return as_.get(); }

  // fork(2): a copy-on-write copy of this address space without a platform
  // address space (the platform wants the child's own thread to create
  // one). Private pages are shared and write-protected on both sides until
  // written; MAP_SHARED anonymous memory stays shared; MADV_DONTFORK VMAs
  // are left out and MADV_WIPEONFORK ones are zero in the child. Call on the
  // thread driving this address space (it write-protects the parent).
  Result<std::unique_ptr<MemoryManager>> Fork();
  // For a forked MemoryManager: attaches the address space that the calling
  // thread just created and maps every VMA into it.
  Result<void> AttachAddressSpace(std::unique_ptr<platform::AddressSpace> as);

  // mmap(2) semantics (mm/mmap.c): returns the start address.
  Result<uint64_t> Mmap(const MmapOpts& opts);
  Result<void> Munmap(uint64_t addr, uint64_t length);
  Result<void> Mprotect(uint64_t addr, uint64_t length, int prot);
  // mremap(2) with MREMAP_MAYMOVE / MREMAP_FIXED flags.
  Result<uint64_t> Mremap(uint64_t old_addr, uint64_t old_size, uint64_t new_size, int flags, uint64_t new_addr);
  // MADV_DONTNEED zeroes anonymous private pages; others are accepted.
  Result<void> Madvise(uint64_t addr, uint64_t length, int advice);
  // RLIMIT_AS in bytes, for the next mmap/mremap/brk (may_expand_vm():
  // every mapping counts, PROT_NONE and MAP_NORESERVE ones too). The
  // syscall layer passes the caller's current limit.
  void SetAddressSpaceLimit(uint64_t bytes);
  // brk(2): returns the new (or unchanged) break, like Linux.
  uint64_t Brk(uint64_t addr);
  // The loader sets the initial break right after the ELF's bss (rounded up
  // to a page, as load_elf_binary does).
  void SetBrkStart(uint64_t addr);
  uint64_t brk() const;
  uint64_t brk_start() const;

  // Called on a platform fault. Ok: the access is now possible, retry.
  // EFAULT: no VMA or wrong protection: the app gets SIGSEGV. Other errors
  // (EIO reading the file of a file mapping) mean SIGBUS. `access` is
  // platform::kProtRead/kProtWrite/kProtExec bits. A fault just below a
  // grows-down VMA grows it (up to kMaxStackSize), as Linux's expand_stack.
  Result<void> HandleFault(uint64_t addr, int access);
  // For a fault reported without its access type (signo/si_code of the
  // host's SIGSEGV, rip of the faulting thread): an access that handling
  // the fault correctly needs, from the VMAs alone, or 0 if only the
  // platform can tell. Not present (SEGV_MAPERR) in an accessible VMA:
  // kProtRead (the page gets the VMA's protection; a write to a cow page or
  // a forbidden access faults again, present then). Present (SEGV_ACCERR)
  // in a writable cow VMA, away from rip: kProtWrite. Anything else,
  // including every fault that ends in a signal: 0.
  int InferFaultAccess(uint64_t addr, uint64_t rip, int signo, int si_code) const;

  // The checked copy interface. Copies stop at the first unmapped or
  // unreadable (CopyIn) / unwritable (CopyOut) byte: the partial variants
  // report how many bytes were copied; the others fail with EFAULT.
  Result<void> CopyInBytes(uint64_t addr, std::span<uint8_t> dst);
  Result<void> CopyOutBytes(uint64_t addr, std::span<const uint8_t> src);
  Result<size_t> CopyInBytesPartial(uint64_t addr, std::span<uint8_t> dst);
  Result<size_t> CopyOutBytesPartial(uint64_t addr, std::span<const uint8_t> src);
  // Direct access for one-copy I/O (tmpfs read/write copy straight between
  // app memory and the file's memory-file pages): calls fn(p, off, n) where
  // p is the sentry's address of app bytes [addr+off, addr+off+n), in
  // order, in runs as long as the VMAs allow, with the same checks as the
  // copies (`write`: the app range is written). The address space stays
  // locked during fn, so p cannot be unmapped and reused under it. fn may
  // run again over a prefix (when a file mapping must be populated first),
  // may take a file's lock (MemoryManager::mu_ comes first in the lock
  // order) and must not call back into this MemoryManager. Returns the bytes
  // covered; EFAULT if none.
  Result<size_t> AccessPartial(uint64_t addr, size_t len, bool write,
                               absl::FunctionRef<void(uint8_t* p, size_t off, size_t n)> fn);
  // /proc/<pid>/mem (access_remote_vm() with FOLL_FORCE): the partial
  // copies, but protection is overridden as for ptrace: a private mapping
  // is written even without PROT_WRITE (copy-on-write is broken, the app's
  // view stays read-only), any mapping with memory is read even without
  // PROT_READ. Shared mappings without PROT_WRITE are not written; memory
  // without backing (PROT_NONE reservations) is not reached. `foreign`:
  // called from a thread that does not drive this address space (another
  // process's /proc/<pid>/mem): platform changes the access needs (a copy
  // of a copy-on-write page, a first touch) are left to the process's own
  // threads, at their next ProcessInvalidations; until then it may still
  // see the old page.
  Result<size_t> ForceCopyInPartial(uint64_t addr, std::span<uint8_t> dst, bool foreign = false);
  Result<size_t> ForceCopyOutPartial(uint64_t addr, std::span<const uint8_t> src, bool foreign = false);
  // An atomic read-modify-write of the aligned 32-bit word at addr (futex
  // ops: FUTEX_WAKE_OP, PI futexes, robust lists), done on the sentry's
  // mapping of the memory file with a compare-and-exchange loop, so it is
  // atomic against app threads too. `update` maps the current value to the
  // new one, or to nullopt to write nothing; it may run more than once.
  // Returns the value it last saw. EFAULT if not mapped writable, EINVAL if
  // misaligned.
  Result<uint32_t> AtomicUpdate32(uint64_t addr,
                                  absl::FunctionRef<std::optional<uint32_t>(uint32_t)> update);
  // Zero-fills app memory (the loader's bss, tests).
  Result<void> ZeroOut(uint64_t addr, uint64_t length);
  // NUL-terminated string of at most max_len bytes (without the NUL):
  // ENAMETOOLONG if no NUL within max_len, EFAULT on a bad address. Linux
  // counts the NUL in PATH_MAX, so paths pass PATH_MAX - 1.
  Result<std::string> CopyInString(uint64_t addr, size_t max_len);

  template <typename T>
  Result<T> CopyIn(UserPtr<T> src) {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    TRY(CopyInBytes(src.addr(), {reinterpret_cast<uint8_t*>(&v), sizeof(T)}));
    return v;
  }
  template <typename T>
  Result<void> CopyOut(UserPtr<T> dst, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return CopyOutBytes(dst.addr(), {reinterpret_cast<const uint8_t*>(&v), sizeof(T)});
  }
  template <typename T>
  Result<void> CopyOut(UserPtr<T> dst, std::span<const T> v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return CopyOutBytes(dst.addr(), {reinterpret_cast<const uint8_t*>(v.data()), v.size_bytes()});
  }

  // msync(2): checks the range is mapped (ENOMEM otherwise) and, with
  // MS_INVALIDATE, that no page of it is locked. Shared file pages are the
  // file's own pages, so there is nothing to write back.
  Result<void> Msync(uint64_t addr, uint64_t length, int flags);
  // mincore(2): one byte per page of [addr, addr+length), bit 0 set for
  // pages that have memory. ENOMEM if a page is unmapped.
  Result<std::vector<uint8_t>> Mincore(uint64_t addr, uint64_t length);
  // The identity of the futex word at addr (kernel/futex/core.c
  // get_futex_key): for a shared mapping the memory-file page and offset
  // (the same in every process mapping it), else this address space and
  // addr. EFAULT if unmapped.
  Result<std::pair<const void*, uint64_t>> FutexKey(uint64_t addr, bool is_private);

  // Shared file mappings: queued by a file that gave up pages (any
  // thread); applied by ProcessInvalidations, which the task loop calls
  // before running app code (it must run on a thread driving the address
  // space).
  void QueueInvalidation(const void* id, uint64_t start, uint64_t end,
                         std::shared_ptr<FreedPages> pages) override;
  void ProcessInvalidations() {
    if (pending_any_.load(std::memory_order_acquire)) ProcessInvalidationsSlow();
  }

  // shmdt(2) (ipc/shm.c ksys_shmdt): removes the System V shm VMA that
  // starts at addr with file offset 0 (or a fragment of it left by
  // mprotect/munmap whose offset matches its distance from addr), then the
  // other fragments of the same segment within its size. EINVAL if addr is
  // unaligned or no such VMA exists. Returns the segment's file, which the
  // caller drops after this returns (its last reference may free pages, so
  // not before the platform has unmapped them).
  Result<std::shared_ptr<MappableFile>> DetachSysvShm(uint64_t addr);

  // Ascending, adjacent compatible pieces merged as Linux shows them.
  std::vector<VmaInfo> Vmas() const;
  // All of /proc/self/maps.
  std::string MapsText() const;
  // Hint-less mmap search starts below this (top-down, like Linux).
  uint64_t mmap_base() const { return mmap_base_; }
  // Exclusive upper bound of app addresses.
  uint64_t max_address() const { return max_address_; }

  class Impl;  // memory_manager_impl.h; public only for the .cc files

 private:
  // Runs Impl::Access under mu_ shared, or exclusive when a file mapping
  // must be populated first.
  struct AccessResult {
    size_t done;  // bytes covered
    Errno err;    // why it stopped short
    bool needs_populate = false;
  };
  AccessResult AccessLocked(uint64_t addr, size_t len, bool write,
                    absl::FunctionRef<void(uint8_t*, size_t, size_t)> fn, bool force = false,
                    bool foreign = false);
  MemoryManager(MemoryFile& mf, uint64_t max_address, uint64_t mmap_base);  // Fork
  void ProcessInvalidationsSlow();
  struct Invalidation {
    const void* id;
    uint64_t start, end;
    std::shared_ptr<FreedPages> pages;
  };
  absl::Mutex pending_mu_;  // a leaf: taken under a file's lock
  std::vector<Invalidation> pending_ ABSL_GUARDED_BY(pending_mu_);
  std::atomic<bool> pending_any_{false};
  MemoryFile& mf_;
  std::unique_ptr<platform::AddressSpace> as_;
  uint64_t max_address_;
  uint64_t mmap_base_;
  mutable absl::Mutex mu_;
  std::unique_ptr<Impl> impl_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sentry::mm

#endif  // SENTRY_MM_MEMORY_MANAGER_H_
