// Advisory file locks: POSIX record locks (fcntl F_SETLK & co, owned by a
// process), open-file-description locks (F_OFD_*, owned by the open file)
// and flock(2) locks (whole file, owned by the open file). Linux keeps the
// three apart: flock and record locks never conflict (fs/locks.c).
// Waiting goes through Task::Block (invariant 5).
#ifndef FS_LOCKS_H_
#define FS_LOCKS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "sentry/kernel/waiter.h"

namespace sentry::kernel {
class Task;
}

namespace fs {

class FileDescription;

struct LockRange {
  uint64_t start = 0;
  uint64_t end = UINT64_MAX;  // exclusive; UINT64_MAX: to end of file, forever
};

struct RecordLock {
  LockRange range;
  bool write = false;
  const void* owner = nullptr;  // ThreadGroup* (POSIX) or FileDescription* (OFD)
  int32_t pid = 0;              // for F_GETLK; -1 for OFD locks
};

class LockTable {
 public:
  // `file` names the locked file (its inode, or the description itself for
  // files outside the tree). F_GETLK: the first conflicting lock, if any.
  std::optional<RecordLock> Test(const void* file, const RecordLock& want);
  // F_SETLK (wait=false: EAGAIN on conflict) / F_SETLKW (blocks; EINTR on a
  // signal). want.write=false with unlock=true removes the range.
  base::Result<void> Set(sentry::kernel::Task& t, const void* file, const RecordLock& want, bool unlock, bool wait);
  // Drops every lock `owner` holds on `file` (POSIX: on close; OFD/flock:
  // when the description goes away).
  void ReleaseOwner(const void* file, const void* owner);
  // flock(2): whole-file locks owned by an open file description.
  base::Result<void> Flock(sentry::kernel::Task& t, const void* file, const void* owner, int op);

 private:
  struct FileLocks {
    std::vector<RecordLock> records;
    std::vector<RecordLock> flocks;  // range unused
  };
  static bool Conflicts(const RecordLock& a, const RecordLock& b);
  void RemoveRangeLocked(std::vector<RecordLock>& locks, const void* owner, LockRange r);

  absl::Mutex mu_;
  absl::flat_hash_map<const void*, FileLocks> files_ ABSL_GUARDED_BY(mu_);
  sentry::kernel::WaiterQueue queue_;  // notified on every unlock
};

// The identity locks hang on: the file's inode, or the description.
const void* LockKey(const FileDescription& f);

}  // namespace fs

#endif  // FS_LOCKS_H_
