// What the three System V IPC families share (Linux's ipc/util.c): the
// permission record (kern_ipc_perm), ids (index + sequence * IPCMNI), the
// key lookup of *get(2), ipcperms() and the owner check of IPC_SET/IPC_RMID,
// and the app-visible ipc64_perm layout (x86-64).
#ifndef SENTRY_IPC_IPC_COMMON_H_
#define SENTRY_IPC_IPC_COMMON_H_

#include <climits>
#include <cstdint>
#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "base/result.h"
#include "sentry/kernel/credentials.h"

namespace sentry::ipc {

using base::Errno;
using base::Result;
using kernel::Credentials;

// include/uapi/linux/ipc.h.
constexpr int32_t kIpcPrivate = 0;
constexpr int kIpcCreat = 01000;
constexpr int kIpcExcl = 02000;
constexpr int kIpcNowait = 04000;
constexpr int kIpcRmid = 0;
constexpr int kIpcSet = 1;
constexpr int kIpcStat = 2;
constexpr int kIpcInfo = 3;
constexpr uint32_t kModeMask = 0777;  // S_IRWXUGO

// IPCMNI: an id is seq * kIpcMni + index (ipc_buildid).
constexpr int kIpcMni = 32768;
constexpr int kIpcSeqMax = INT_MAX / kIpcMni;  // IPCID_SEQ_MAX

// kern_ipc_perm.
struct Perm {
  int32_t key = kIpcPrivate;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // permission bits, plus SHM_DEST / SHM_LOCKED for shm
  uint16_t seq = 0;
  int id = -1;
  // IPC_RMID: gone from the ids (sem, msg) or destroyed (shm); blocked
  // waiters then fail with EIDRM.
  bool removed = false;

  // A new object created by `c` with permission bits from `flags`.
  static Perm ForCreator(const Credentials& c, int32_t key, int flags) {
    Perm p;
    p.key = key;
    p.uid = p.cuid = c.euid;
    p.gid = p.cgid = c.egid;
    p.mode = static_cast<uint32_t>(flags) & kModeMask;
    return p;
  }
};

// ipcperms(): `flag` holds the requested rwx bits in any of the three
// triplets (S_IRUGO for a read, S_IWUGO for a write); false is EACCES.
bool HasPerm(const Credentials& c, const Perm& p, int flag);
// IPC_SET and IPC_RMID (ipcctl_obtain_check): the creator, the owner or
// CAP_SYS_ADMIN; false is EPERM.
bool IsOwnerOrAdmin(const Credentials& c, const Perm& p);
// IPC_SET of the permission record: owner, group and permission bits.
void SetPerm(Perm& p, uint32_t uid, uint32_t gid, uint32_t mode);

// struct ipc64_perm as x86-64 apps see it (asm-generic/ipcbuf.h).
struct Ipc64Perm {
  int32_t key;
  uint32_t uid, gid, cuid, cgid;
  uint32_t mode;  // __kernel_mode_t is 32 bits on x86-64
  uint16_t seq;
  uint16_t pad2;
  uint64_t unused1, unused2;
};
static_assert(sizeof(Ipc64Perm) == 48);
Ipc64Perm ToIpc64Perm(const Perm& p);

// One family's objects (struct ipc_ids). T has a `Perm perm`. Not
// thread-safe: the family's registry locks.
template <typename T>
class Ids {
 public:
  // The object with this id (EINVAL for the caller when null).
  std::shared_ptr<T> Find(int id) const {
    if (id < 0) return nullptr;
    auto it = objs_.find(id % kIpcMni);
    if (it == objs_.end() || it->second->perm.id != id) return nullptr;
    return it->second;
  }
  std::shared_ptr<T> AtIndex(int idx) const {
    auto it = objs_.find(idx);
    return it == objs_.end() ? nullptr : it->second;
  }
  std::shared_ptr<T> FindKey(int32_t key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? nullptr : AtIndex(it->second);
  }
  // Gives `o` the lowest free index and an id (ipc_addid, ipc_idr_alloc:
  // the sequence number moves on when an index at or below the last one is
  // reused). ENOSPC once `max` objects exist.
  Result<int> Add(std::shared_ptr<T> o, int max) {
    if (static_cast<int>(objs_.size()) >= max) return Errno::kENOSPC;
    int idx = 0;
    for (const auto& [i, unused] : objs_) {
      if (i != idx) break;
      ++idx;
    }
    if (idx >= max) return Errno::kENOSPC;
    if (idx <= last_idx_ && ++seq_ > kIpcSeqMax) seq_ = 0;
    last_idx_ = idx;
    o->perm.seq = static_cast<uint16_t>(seq_);
    o->perm.id = seq_ * kIpcMni + idx;
    if (o->perm.key != kIpcPrivate) keys_[o->perm.key] = idx;
    objs_[idx] = std::move(o);
    return objs_[idx]->perm.id;
  }
  // The key no longer finds the object (shm's IPC_RMID while attached).
  void Unkey(T& o) {
    if (o.perm.key == kIpcPrivate) return;
    auto it = keys_.find(o.perm.key);
    if (it != keys_.end() && it->second == o.perm.id % kIpcMni) keys_.erase(it);
    o.perm.key = kIpcPrivate;
  }
  void Remove(T& o) {
    Unkey(o);
    auto it = objs_.find(o.perm.id % kIpcMni);
    if (it != objs_.end() && it->second.get() == &o) objs_.erase(it);
  }
  // The highest index in use, -1 if none (ipc_get_maxidx).
  int MaxIdx() const { return objs_.empty() ? -1 : objs_.rbegin()->first; }
  int count() const { return static_cast<int>(objs_.size()); }
  const std::map<int, std::shared_ptr<T>>& all() const { return objs_; }

 private:
  std::map<int, std::shared_ptr<T>> objs_;  // index -> object
  absl::flat_hash_map<int32_t, int> keys_;  // key -> index
  int seq_ = 0;
  int last_idx_ = -1;
};

// The *get(2) lookup (ipcget_public): returns the existing object for
// `key` after its checks, or null when one must be created. `more_checks`
// is the family's check on an existing object (the size of shm, nsems).
template <typename T, typename F>
Result<std::shared_ptr<T>> LookupForGet(const Ids<T>& ids, const Credentials& c, int32_t key, int flags,
                                        F more_checks) {
  if (key == kIpcPrivate) return std::shared_ptr<T>();
  std::shared_ptr<T> o = ids.FindKey(key);
  if (o == nullptr) {
    if (!(flags & kIpcCreat)) return Errno::kENOENT;
    return o;
  }
  if ((flags & kIpcCreat) && (flags & kIpcExcl)) return Errno::kEEXIST;
  if (Result<void> r = more_checks(*o); !r.ok()) return r.error();
  if (!HasPerm(c, o->perm, flags)) return Errno::kEACCES;
  return o;
}

// Wall-clock seconds for the *_time fields.
int64_t NowSeconds();

}  // namespace sentry::ipc

#endif  // SENTRY_IPC_IPC_COMMON_H_
