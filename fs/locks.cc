#include "fs/locks.h"

#include <sys/file.h>

#include <optional>

#include "absl/cleanup/cleanup.h"
#include "fs/file_description.h"
#include "fs/inode.h"
#include "sentry/kernel/task.h"

namespace fs {

const void* LockKey(const FileDescription& f) {
  if (const Path* p = f.location(); p != nullptr && p->dentry != nullptr) return p->dentry->inode().get();
  return &f;
}

bool LockTable::Conflicts(const RecordLock& a, const RecordLock& b) {
  if (a.owner == b.owner) return false;
  if (!a.write && !b.write) return false;
  return a.range.start < b.range.end && b.range.start < a.range.end;
}

std::optional<RecordLock> LockTable::Test(const void* file, const RecordLock& want) {
  absl::MutexLock l(&mu_);
  auto it = files_.find(file);
  if (it == files_.end()) return std::nullopt;
  for (const RecordLock& h : it->second.records) {
    if (Conflicts(h, want)) return h;
  }
  return std::nullopt;
}

void LockTable::RemoveRangeLocked(std::vector<RecordLock>& locks, const void* owner, LockRange r) {
  std::vector<RecordLock> out;
  for (const RecordLock& h : locks) {
    if (h.owner != owner || h.range.end <= r.start || r.end <= h.range.start) {
      out.push_back(h);
      continue;
    }
    // Keep the parts of h outside r (a lock split in two by an unlock).
    if (h.range.start < r.start) {
      RecordLock left = h;
      left.range.end = r.start;
      out.push_back(left);
    }
    if (r.end < h.range.end) {
      RecordLock right = h;
      right.range.start = r.end;
      out.push_back(right);
    }
  }
  locks = std::move(out);
}

base::Result<void> LockTable::Set(sentry::kernel::Task& t, const void* file, const RecordLock& want, bool unlock,
                                  bool wait) {
  sentry::kernel::Waiter w(t);
  queue_.Add(&w);
  absl::Cleanup done = [&] { queue_.Remove(&w); };
  while (true) {
    {
      absl::MutexLock l(&mu_);
      FileLocks& fl = files_[file];
      bool conflict = false;
      if (!unlock) {
        for (const RecordLock& h : fl.records) conflict = conflict || Conflicts(h, want);
      }
      if (!conflict) {
        // Replace whatever this owner held in the range (POSIX: a new lock
        // converts or splits the owner's old ones).
        RemoveRangeLocked(fl.records, want.owner, want.range);
        if (!unlock) fl.records.push_back(want);
        if (fl.records.empty() && fl.flocks.empty()) files_.erase(file);
        break;
      }
    }
    if (!wait) return base::Errno::kEAGAIN;
    // TODO(#4): EDEADLK detection between waiting owners.
    TRY(t.Block(w, std::nullopt));
  }
  queue_.Notify();
  return {};
}

void LockTable::ReleaseOwner(const void* file, const void* owner) {
  {
    absl::MutexLock l(&mu_);
    auto it = files_.find(file);
    if (it == files_.end()) return;
    RemoveRangeLocked(it->second.records, owner, LockRange{});
    std::erase_if(it->second.flocks, [&](const RecordLock& h) { return h.owner == owner; });
    if (it->second.records.empty() && it->second.flocks.empty()) files_.erase(it);
  }
  queue_.Notify();
}

base::Result<void> LockTable::Flock(sentry::kernel::Task& t, const void* file, const void* owner, int op) {
  const bool nb = op & LOCK_NB;
  const int kind = op & ~LOCK_NB;
  if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) return base::Errno::kEINVAL;
  sentry::kernel::Waiter w(t);
  queue_.Add(&w);
  absl::Cleanup done = [&] { queue_.Remove(&w); };
  while (true) {
    {
      absl::MutexLock l(&mu_);
      FileLocks& fl = files_[file];
      // A conversion drops the old lock first (fs/locks.c flock_lock_inode).
      std::erase_if(fl.flocks, [&](const RecordLock& h) { return h.owner == owner; });
      if (kind == LOCK_UN) {
        if (fl.records.empty() && fl.flocks.empty()) files_.erase(file);
        break;
      }
      const RecordLock want{LockRange{}, kind == LOCK_EX, owner, 0};
      bool conflict = false;
      for (const RecordLock& h : fl.flocks) conflict = conflict || Conflicts(h, want);
      if (!conflict) {
        fl.flocks.push_back(want);
        break;
      }
    }
    if (nb) return base::Errno::kEWOULDBLOCK;
    TRY(t.Block(w, std::nullopt));
  }
  queue_.Notify();
  return {};
}

}  // namespace fs
