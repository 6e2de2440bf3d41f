// System V shared memory (Linux's ipc/shm.c) for one IPC namespace.
//
// A segment's data is a ShmMemory: memory-file pages (mm::FilePages, so they
// count against the sandbox's memory) behind an mm::MappableFile with
// shared pages, which shmat(2) maps MAP_SHARED through the ordinary mm code:
// fork shares attachments, exit and exec drop them with the address space.
// The VMAs hold the ShmMemory; the segment holds it too until IPC_RMID.
// So nattch is the number of VMAs mapping the segment (as Linux counts
// shm_open/shm_close per VMA), and a segment removed while attached lives
// until its last VMA goes, whose release of the ShmMemory destroys it.
//
// Locking: ShmRegistry::mu_ guards the ids and every segment's fields;
// ShmMemory::mu_ its pages. ShmMemory's destructor may run under
// MemoryManager::mu_ (munmap) and takes ShmRegistry::mu_, so
// MemoryManager::mu_ > ShmRegistry::mu_: never call into an address space
// with mu_ held, and never drop a ShmMemory reference under it.
#ifndef SENTRY_IPC_SHM_H_
#define SENTRY_IPC_SHM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "sentry/ipc/ipc_common.h"
#include "sentry/mm/file_pages.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::ipc {

// include/uapi/linux/shm.h and Linux's defaults.
constexpr uint64_t kShmMin = 1;
constexpr uint64_t kShmMax = ULONG_MAX - (1ull << 24);  // SHMMAX, bytes
constexpr uint64_t kShmAll = ULONG_MAX - (1ull << 24);  // SHMALL, pages
constexpr int kShmMni = 4096;                            // SHMMNI
constexpr uint64_t kShmLba = 4096;                       // SHMLBA on x86
constexpr int kShmRdonly = 010000;
constexpr int kShmRnd = 020000;
constexpr int kShmRemap = 040000;
constexpr int kShmExec = 0100000;
constexpr int kShmHugetlb = 04000;
constexpr int kShmNoreserve = 010000;
constexpr int kShmHugeShift = 26;  // SHM_HUGE_SHIFT: log2 of the huge page size
constexpr int kShmHugeMask = 0x3f;
constexpr uint32_t kShmDest = 01000;    // mode bit: IPC_RMID while attached
constexpr uint32_t kShmLocked = 02000;  // mode bit: SHM_LOCK
constexpr int kShmLock = 11;
constexpr int kShmUnlock = 12;
constexpr int kShmStat = 13;
constexpr int kShmInfo = 14;
constexpr int kShmStatAny = 15;

class ShmRegistry;

// A segment's memory, mapped by shmat(2).
class ShmMemory final : public mm::MappableFile {
 public:
  ShmMemory(mm::MemoryFile& mf, std::weak_ptr<ShmRegistry> reg, int32_t key, int id, uint64_t size)
      : reg_(std::move(reg)), key_(key), id_(id), size_(size), pages_(mf) {}
  ~ShmMemory() override;

  int id() const { return id_; }
  uint64_t size() const { return size_; }
  // Pages holding memory (shm_rss).
  uint64_t npages() const;

  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override;
  std::string MapsName() const override;
  uint64_t MapsInode() const override { return static_cast<uint64_t>(id_); }
  bool HasSharedPages() const override { return true; }
  Result<std::vector<PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate) override;
  uint64_t SharedSize() override { return size_; }
  bool IsSysvShm() const override { return true; }

 private:
  const std::weak_ptr<ShmRegistry> reg_;
  const int32_t key_;  // the key at creation, for /proc/self/maps
  const int id_;
  const uint64_t size_;
  mutable absl::Mutex mu_;
  mm::FilePages pages_ ABSL_GUARDED_BY(mu_);
};

// struct shmid64_ds (x86-64).
struct ShmidDs {
  Ipc64Perm perm;
  uint64_t segsz;
  int64_t atime, dtime, ctime;
  int32_t cpid, lpid;
  uint64_t nattch;
  uint64_t unused4, unused5;
};
static_assert(sizeof(ShmidDs) == 112);
// struct shminfo64.
struct ShmInfo64 {
  uint64_t shmmax, shmmin, shmmni, shmseg, shmall;
  uint64_t unused[4];
};
// struct shm_info.
struct ShmInfoTotals {
  int32_t used_ids;
  int32_t pad;
  uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};
static_assert(sizeof(ShmInfoTotals) == 48);

class ShmRegistry : public std::enable_shared_from_this<ShmRegistry> {
 public:
  explicit ShmRegistry(mm::MemoryFile& mf) : mf_(mf) {}
  ~ShmRegistry();

  // shmget(2).
  Result<int> Get(const Credentials& c, int32_t pid, int32_t key, uint64_t size, int flags);
  // shmat(2)'s checks: the memory to map, or EINVAL/EACCES/EIDRM. `acc` is
  // the access asked (S_IRUGO, | S_IWUGO unless SHM_RDONLY, | S_IXUGO).
  // Records the attach time and pid.
  Result<std::shared_ptr<ShmMemory>> Attach(const Credentials& c, int32_t pid, int id, int acc);
  // shmdt(2) of a VMA of `mem`: records the detach time and pid.
  void Detached(const ShmMemory& mem, int32_t pid);
  // IPC_STAT, SHM_STAT (by index), SHM_STAT_ANY (no read check). Sets *id.
  Result<ShmidDs> Stat(const Credentials& c, int id_or_index, int cmd, int* id);
  Result<void> Set(const Credentials& c, int id, const ShmidDs& in);
  // IPC_RMID. The ShmMemory reference it drops goes with the return value,
  // after mu_ is released.
  Result<void> Remove(const Credentials& c, int id);
  Result<void> Lock(const Credentials& c, int id, bool lock);
  ShmInfo64 Limits() const;
  // SHM_INFO; *max_idx as IPC_INFO/SHM_INFO return.
  ShmInfoTotals Totals(int* max_idx);
  int MaxIdx();
  // /proc/sysvipc/shm.
  std::string ProcText();

  // Called by ~ShmMemory: the last VMA of a removed segment is gone.
  void MemoryGone(int id, uint64_t pages);

 private:
  struct Segment {
    Perm perm;
    uint64_t size = 0;
    int64_t atime = 0, dtime = 0, ctime = 0;
    int32_t cpid = 0, lpid = 0;
    std::shared_ptr<ShmMemory> mem;  // until IPC_RMID
    std::weak_ptr<ShmMemory> weak;
    uint64_t Nattch() const {
      const long n = weak.use_count() - (mem != nullptr ? 1 : 0);
      return n > 0 ? static_cast<uint64_t>(n) : 0;
    }
  };
  ShmidDs ToDs(const Segment& s) const;
  // shm_destroy(): leaves the ids; returns the memory reference to drop
  // once mu_ is released.
  std::shared_ptr<ShmMemory> DestroyLocked(Segment& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mm::MemoryFile& mf_;
  absl::Mutex mu_;
  Ids<Segment> ids_ ABSL_GUARDED_BY(mu_);
  uint64_t total_pages_ ABSL_GUARDED_BY(mu_) = 0;  // shm_tot
};

}  // namespace sentry::ipc

#endif  // SENTRY_IPC_SHM_H_
