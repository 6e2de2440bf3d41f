#include "sentry/ipc/shm.h"

#include <linux/capability.h>

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace sentry::ipc {

namespace {
constexpr uint64_t kPage = mm::kPageSize;
uint64_t Pages(uint64_t size) { return (size + kPage - 1) / kPage; }
}  // namespace

// ---- ShmMemory ----

ShmMemory::~ShmMemory() {
  if (auto reg = reg_.lock()) reg->MemoryGone(id_, Pages(size_));
  // pages_ frees the memory-file pages. Every VMA mapping them is gone.
}

uint64_t ShmMemory::npages() const {
  absl::MutexLock l(&mu_);
  return pages_.npages();
}

Result<size_t> ShmMemory::ReadAt(std::span<uint8_t> buf, uint64_t off) {
  // Only used for private mappings, which shmat never makes; kept correct.
  absl::MutexLock l(&mu_);
  if (off >= size_) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - off));
  pages_.ForEach(off, n, [&](uint64_t pos, uint8_t* p, size_t len) {
    if (p != nullptr) {
      std::memcpy(buf.data() + pos, p, len);
    } else {
      std::memset(buf.data() + pos, 0, len);
    }
  });
  return n;
}

std::string ShmMemory::MapsName() const {
  // Linux names the segment's shmem file "SYSV%08x" after its key.
  return fmt::format("/SYSV{:08x} (deleted)", static_cast<uint32_t>(key_));
}

Result<std::vector<mm::MappableFile::PageRun>> ShmMemory::SharedPages(uint64_t off, uint64_t len, bool allocate) {
  absl::MutexLock l(&mu_);
  const uint64_t first = off / kPage;
  const uint64_t last = std::min((off + len + kPage - 1) / kPage, Pages(size_));
  std::vector<PageRun> out;
  if (first >= last) return out;
  if (allocate && pages_.Fill(first, last) < last) return Errno::kENOMEM;
  for (const auto& r : pages_.Runs(first, last)) out.push_back({r.page * kPage, r.npages * kPage, r.mf_off});
  return out;
}

// ---- ShmRegistry ----

ShmRegistry::~ShmRegistry() {
  // Segments left behind go with the namespace (the sandbox); their memory
  // returns to the memory file as the last references go.
  std::vector<std::shared_ptr<ShmMemory>> drop;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [idx, s] : ids_.all()) drop.push_back(std::move(s->mem));
  }
}

Result<int> ShmRegistry::Get(const Credentials& c, int32_t pid, int32_t key, uint64_t size, int flags) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = TRY(LookupForGet(ids_, c, key, flags, [&](const Segment& o) -> Result<void> {
    if (o.size < size) return Errno::kEINVAL;  // shm_more_checks
    return base::Ok();
  }));
  if (s != nullptr) return s->perm.id;
  // newseg().
  if (size < kShmMin || size > kShmMax) return Errno::kEINVAL;
  const uint64_t pages = Pages(size);
  if (pages * kPage < size) return Errno::kENOSPC;
  if (total_pages_ + pages < total_pages_ || total_pages_ + pages > kShmAll) return Errno::kENOSPC;
  if (flags & kShmHugetlb) {
    // hugetlb_file_setup() with an empty huge page pool (nr_hugepages 0,
    // as on a host that configured none): an unknown page size is EINVAL,
    // the reservation ENOMEM. SHM_NORESERVE skips the reservation: the
    // segment then gets normal pages here (Linux would SIGBUS on touch).
    const int size_log = (flags >> kShmHugeShift) & kShmHugeMask;
    if (size_log != 0 && size_log != 21 && size_log != 30) return Errno::kEINVAL;
    if (!(flags & kShmNoreserve)) return Errno::kENOMEM;
  }
  auto seg = std::make_shared<Segment>();
  seg->perm = Perm::ForCreator(c, key, flags);
  seg->size = size;
  seg->ctime = NowSeconds();
  seg->cpid = pid;
  const int id = TRY(ids_.Add(seg, kShmMni));
  seg->mem = std::make_shared<ShmMemory>(mf_, weak_from_this(), key, id, size);
  seg->weak = seg->mem;
  total_pages_ += pages;
  return id;
}

Result<std::shared_ptr<ShmMemory>> ShmRegistry::Attach(const Credentials& c, int32_t pid, int id, int acc) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!HasPerm(c, s->perm, acc)) return Errno::kEACCES;
  std::shared_ptr<ShmMemory> mem = s->weak.lock();
  if (mem == nullptr) return Errno::kEIDRM;  // being destroyed
  s->atime = NowSeconds();
  s->lpid = pid;
  return mem;
}

void ShmRegistry::Detached(const ShmMemory& mem, int32_t pid) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(mem.id());
  if (s == nullptr) return;
  s->dtime = NowSeconds();
  s->lpid = pid;
}

void ShmRegistry::MemoryGone(int id, uint64_t pages) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(id);
  if (s == nullptr || s->mem != nullptr || !s->weak.expired()) return;
  ids_.Remove(*s);
  total_pages_ -= pages;
}

ShmidDs ShmRegistry::ToDs(const Segment& s) const {
  ShmidDs d{};
  d.perm = ToIpc64Perm(s.perm);
  d.segsz = s.size;
  d.atime = s.atime;
  d.dtime = s.dtime;
  d.ctime = s.ctime;
  d.cpid = s.cpid;
  d.lpid = s.lpid;
  d.nattch = s.Nattch();
  return d;
}

Result<ShmidDs> ShmRegistry::Stat(const Credentials& c, int id_or_index, int cmd, int* id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = cmd == kIpcStat ? ids_.Find(id_or_index) : ids_.AtIndex(id_or_index);
  if (s == nullptr) return Errno::kEINVAL;
  if (cmd != kShmStatAny && !HasPerm(c, s->perm, 0444)) return Errno::kEACCES;
  *id = s->perm.id;
  return ToDs(*s);
}

Result<void> ShmRegistry::Set(const Credentials& c, int id, const ShmidDs& in) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, s->perm)) return Errno::kEPERM;
  SetPerm(s->perm, in.perm.uid, in.perm.gid, in.perm.mode);
  s->ctime = NowSeconds();
  return base::Ok();
}

std::shared_ptr<ShmMemory> ShmRegistry::DestroyLocked(Segment& s) {
  ids_.Remove(s);
  total_pages_ -= Pages(s.size);
  s.perm.removed = true;
  return std::move(s.mem);
}

Result<void> ShmRegistry::Remove(const Credentials& c, int id) {
  std::shared_ptr<ShmMemory> drop;  // released after mu_ (lock order)
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, s->perm)) return Errno::kEPERM;
  if (s->Nattch() == 0) {
    drop = DestroyLocked(*s);
    return base::Ok();
  }
  // do_shm_rmid(): attached segments live on under IPC_PRIVATE, marked
  // SHM_DEST, until the last detach.
  ids_.Unkey(*s);
  s->perm.mode |= kShmDest;
  drop = std::move(s->mem);
  return base::Ok();
}

Result<void> ShmRegistry::Lock(const Credentials& c, int id, bool lock) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Segment> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  // shmctl_do_lock(): CAP_IPC_LOCK, or the owner within RLIMIT_MEMLOCK;
  // the memory file is never swapped, so locking only sets the flag.
  if (!c.HasCap(CAP_IPC_LOCK) && c.euid != s->perm.uid && c.euid != s->perm.cuid) return Errno::kEPERM;
  if (lock) {
    s->perm.mode |= kShmLocked;
  } else {
    s->perm.mode &= ~kShmLocked;
  }
  return base::Ok();
}

ShmInfo64 ShmRegistry::Limits() const {
  ShmInfo64 i{};
  i.shmmax = kShmMax;
  i.shmmin = kShmMin;
  i.shmmni = kShmMni;
  i.shmseg = kShmMni;
  i.shmall = kShmAll;
  return i;
}

ShmInfoTotals ShmRegistry::Totals(int* max_idx) {
  ShmInfoTotals t{};
  std::vector<std::shared_ptr<ShmMemory>> mems;
  {
    absl::MutexLock l(&mu_);
    t.used_ids = ids_.count();
    t.shm_tot = total_pages_;
    for (const auto& [idx, s] : ids_.all()) {
      if (auto m = s->weak.lock()) mems.push_back(std::move(m));
    }
    *max_idx = std::max(ids_.MaxIdx(), 0);
  }
  for (const auto& m : mems) t.shm_rss += m->npages();
  return t;
}

int ShmRegistry::MaxIdx() {
  absl::MutexLock l(&mu_);
  return std::max(ids_.MaxIdx(), 0);
}

std::string ShmRegistry::ProcText() {
  // ipc/shm.c sysvipc_shm_proc_show (64-bit layout).
  std::string out =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime"
      "      dtime      ctime                   rss                  swap\n";
  std::vector<std::pair<std::string, std::shared_ptr<ShmMemory>>> rows;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [idx, s] : ids_.all()) {
      rows.emplace_back(fmt::format("{:10d} {:10d}  {:4o} {:21d} {:5d} {:5d}  {:5d} {:5d} {:5d} {:5d} {:5d} {:10d} {:10d} {:10d} ",
                                    s->perm.key, s->perm.id, s->perm.mode, s->size, s->cpid, s->lpid, s->Nattch(),
                                    s->perm.uid, s->perm.gid, s->perm.cuid, s->perm.cgid, s->atime, s->dtime,
                                    s->ctime),
                        s->weak.lock());
    }
  }
  for (auto& [line, mem] : rows) {
    const uint64_t rss = mem != nullptr ? mem->npages() * kPage : 0;
    out += fmt::format("{}{:21d} {:21d}\n", line, rss, 0);
  }
  return out;
}

}  // namespace sentry::ipc
