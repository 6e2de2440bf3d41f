// Advisory file locks after Linux's fs/locks.c: POSIX record locks (fcntl
// F_SETLK & co), open-file-description locks (F_OFD_*) and flock(2) locks.
//
// Owners, as in Linux:
//  - a POSIX lock belongs to the fd table of the process that took it
//    (fl_owner = current->files); any close of an fd that refers to the
//    file through that table drops all of the table's locks on the file
//    (locks_remove_posix from filp_close: close, dup2 over, close_range,
//    close-on-exec, exit). The FdTable calls ReleasePosix.
//  - OFD and flock locks belong to the open file description and go when
//    its last reference does (locks_remove_file): ~FileDescription calls
//    ReleaseDescription if the description ever locked (NoteLocks).
// Record locks (POSIX and OFD) share one list per file and conflict with
// each other even within one process; flock locks are a separate list and
// never conflict with record locks.
//
// Waiting goes through Task::Block (invariant 5) on one queue; a waiter's
// mask is a bit chosen by its file, so unlocks mostly wake waiters of the
// same file only. F_SETLKW detects deadlocks between POSIX owners by
// walking who waits for whom (posix_locks_deadlock), as Linux does.
//
// Lock order: LockTable::mu_ is a leaf except for the queue's own lock,
// which is taken without mu_ held.
#ifndef FS_LOCKS_H_
#define FS_LOCKS_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/kernel/waiter.h"

namespace sentry::kernel {
class Task;
}

namespace fs {

class FileDescription;

// Linux's OFFSET_MAX: a lock ending here runs to end of file, however far
// the file grows (l_len 0).
inline constexpr int64_t kLockOffsetMax = INT64_MAX;

struct RecordLock {
  int64_t start = 0;
  int64_t end = kLockOffsetMax;  // inclusive, as Linux's fl_end
  bool write = false;
  bool ofd = false;              // owner is a FileDescription (F_OFD_*), else an FdTable
  const void* owner = nullptr;
  int32_t pid = 0;               // the taker's tgid, for F_GETLK (POSIX locks)
};

class LockTable {
 public:
  // F_GETLK / F_OFD_GETLK: the first lock that conflicts with `want`. With
  // `same_owner` (F_OFD_GETLK of F_UNLCK, Linux 6.4+): the first lock of
  // want.owner that overlaps the range.
  std::optional<RecordLock> Test(const void* file, const RecordLock& want, bool same_owner);
  // F_SETLK (wait=false: EAGAIN on conflict) / F_SETLKW (waits; EINTR on a
  // signal, EDEADLK if a POSIX request would wait for itself). `unlock`
  // removes the range. The owner's locks are merged and split as Linux
  // does (posix_lock_inode).
  base::Result<void> Set(sentry::kernel::Task& t, const void* file, const RecordLock& want, bool unlock, bool wait);
  // A close through fd table `owner`: drops its record locks on `file`.
  void ReleasePosix(const void* file, const void* owner);
  // The last reference to description `f` is gone: drops its OFD and flock
  // locks on `file`; if `file` is the description itself (a file outside
  // the tree), everything kept under it.
  void ReleaseDescription(const void* file, const FileDescription* f);
  // flock(2) for description `owner`: exclusive, shared or unlock; waits
  // unless `nonblock` (EWOULDBLOCK). A conversion drops the old lock first,
  // and does not get it back if the new one cannot be had (flock_lock_inode).
  enum class FlockOp { kShared, kExclusive, kUnlock };
  base::Result<void> Flock(sentry::kernel::Task& t, const void* file, const FileDescription* owner, FlockOp op,
                           bool nonblock);

  // Read-only: a copy of every held lock, for /proc/locks and fdinfo
  // (fs/proc_locks.cc). `file` is a key only, never dereferenced.
  struct HeldLock {
    const void* file;
    RecordLock lock;
    bool flock;
  };
  std::vector<HeldLock> Snapshot();

 private:
  struct FileLocks {
    std::vector<RecordLock> records;  // POSIX and OFD; an owner's never overlap
    std::vector<RecordLock> flocks;   // whole file; range unused
  };
  // A task waiting in F_SETLKW behind a POSIX lock (Linux's blocked_hash).
  struct Blocked {
    const void* owner;    // of the waiting request
    const void* blocker;  // owner of the lock it waits behind
    const void* file;
  };
  static constexpr int kMaxDeadlockIterations = 10;  // MAX_DEADLK_ITERATIONS

  static uint64_t WakeBit(const void* file);
  static bool Conflicts(const RecordLock& a, const RecordLock& b);
  static const RecordLock* FirstConflict(const std::vector<RecordLock>& locks, const RecordLock& want);
  // posix_lock_inode without the conflict check: replaces `want.owner`'s
  // locks in the range, merging with adjacent locks of the same type.
  static void ApplyLocked(std::vector<RecordLock>& locks, const RecordLock& want, bool unlock);
  // posix_locks_deadlock: whether waiting behind `blocker` closes a cycle.
  bool DeadlockLocked(const void* caller, const void* blocker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `owner` changed its locks on `file`: requests waiting behind it are no
  // longer blocked until they look again (__locks_wake_up_blocks).
  void UnblockLocked(const void* file, const void* owner) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseIfEmptyLocked(const void* file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<const void*, FileLocks> files_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Blocked*> blocked_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> nfiles_{0};  // files_.size(), read without mu_ on close
  sentry::kernel::WaiterQueue queue_;  // notified with WakeBit(file) on every change
};

// The identity locks hang on: the file's inode, or the description for
// files outside the tree.
const void* LockKey(const FileDescription& f);

}  // namespace fs

#endif  // FS_LOCKS_H_
