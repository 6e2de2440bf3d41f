#include "fs/locks.h"

#include <algorithm>
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

uint64_t LockTable::WakeBit(const void* file) {
  const auto v = reinterpret_cast<uintptr_t>(file);
  return 1ull << (((v >> 4) ^ (v >> 10) ^ (v >> 16)) & 63);
}

// posix_locks_conflict: different owners, overlapping ranges, one writes.
bool LockTable::Conflicts(const RecordLock& a, const RecordLock& b) {
  if (a.owner == b.owner) return false;
  if (!a.write && !b.write) return false;
  return a.start <= b.end && b.start <= a.end;
}

const RecordLock* LockTable::FirstConflict(const std::vector<RecordLock>& locks, const RecordLock& want) {
  for (const RecordLock& h : locks) {
    if (Conflicts(h, want)) return &h;
  }
  return nullptr;
}

std::optional<RecordLock> LockTable::Test(const void* file, const RecordLock& want, bool same_owner) {
  absl::MutexLock l(&mu_);
  auto it = files_.find(file);
  if (it == files_.end()) return std::nullopt;
  for (const RecordLock& h : it->second.records) {
    if (same_owner ? (h.owner == want.owner && h.start <= want.end && want.start <= h.end) : Conflicts(h, want)) {
      return h;
    }
  }
  return std::nullopt;
}

void LockTable::ApplyLocked(std::vector<RecordLock>& locks, const RecordLock& want, bool unlock) {
  // Like Linux's flc_posix list, an owner's locks stay together, sorted by
  // start, where its first lock was: F_GETLK reports the first conflict.
  RecordLock req = want;
  std::vector<RecordLock> out, mine;
  out.reserve(locks.size() + 2);
  size_t at = SIZE_MAX;
  for (const RecordLock& h : locks) {
    if (h.owner != req.owner) {
      out.push_back(h);
      continue;
    }
    if (at == SIZE_MAX) at = out.size();
    if (!unlock && h.write == req.write) {
      // Same type: absorb it if it overlaps or touches the request.
      const bool before = req.start > 0 && h.end < req.start - 1;
      const bool after = req.end < kLockOffsetMax && h.start > req.end + 1;
      if (before || after) {
        mine.push_back(h);
        continue;
      }
      req.start = std::min(req.start, h.start);
      req.end = std::max(req.end, h.end);
      continue;
    }
    // Other type, or an unlock: keep the parts of h outside the request.
    if (h.end < req.start || h.start > req.end) {
      mine.push_back(h);
      continue;
    }
    if (h.start < req.start) {
      RecordLock left = h;
      left.end = req.start - 1;
      mine.push_back(left);
    }
    if (h.end > req.end) {
      RecordLock right = h;
      right.start = req.end + 1;
      mine.push_back(right);
    }
  }
  if (!unlock) mine.push_back(req);
  std::sort(mine.begin(), mine.end(), [](const RecordLock& x, const RecordLock& y) { return x.start < y.start; });
  if (at == SIZE_MAX) at = out.size();
  out.insert(out.begin() + static_cast<ptrdiff_t>(at), mine.begin(), mine.end());
  locks = std::move(out);
}

bool LockTable::DeadlockLocked(const void* caller, const void* blocker) {
  const void* cur = blocker;
  for (int i = 0;; ++i) {
    // What is the owner of the blocking lock itself waiting for?
    auto it = std::find_if(blocked_.begin(), blocked_.end(), [&](const Blocked* b) { return b->owner == cur; });
    if (it == blocked_.end()) return false;
    if (i > kMaxDeadlockIterations) return false;
    cur = (*it)->blocker;
    if (cur == caller) return true;
  }
}

void LockTable::UnblockLocked(const void* file, const void* owner) {
  absl::erase_if(blocked_, [&](const Blocked* b) { return b->file == file && b->blocker == owner; });
}

void LockTable::EraseIfEmptyLocked(const void* file) {
  auto it = files_.find(file);
  if (it != files_.end() && it->second.records.empty() && it->second.flocks.empty()) files_.erase(it);
  nfiles_.store(files_.size(), std::memory_order_relaxed);
}

base::Result<void> LockTable::Set(sentry::kernel::Task& t, const void* file, const RecordLock& want, bool unlock,
                                  bool wait) {
  sentry::kernel::Waiter w(t, WakeBit(file));
  Blocked me{want.owner, nullptr, file};
  if (wait && !unlock) queue_.Add(&w);
  absl::Cleanup done = [&] {
    if (wait && !unlock) queue_.Remove(&w);
    absl::MutexLock l(&mu_);
    blocked_.erase(&me);
  };
  while (true) {
    bool granted = false;
    {
      absl::MutexLock l(&mu_);
      blocked_.erase(&me);
      if (unlock && !files_.contains(file)) return {};
      FileLocks& fl = files_[file];
      const RecordLock* c = unlock ? nullptr : FirstConflict(fl.records, want);
      if (c == nullptr) {
        ApplyLocked(fl.records, want, unlock);
        UnblockLocked(file, want.owner);
        EraseIfEmptyLocked(file);
        granted = true;
      } else if (!wait) {
        return base::Errno::kEAGAIN;
      } else if (!c->ofd) {
        // OFD requests are not checked, their owner being no process
        // (posix_locks_deadlock), but they are seen waiting.
        if (!want.ofd && DeadlockLocked(want.owner, c->owner)) return base::Errno::kEDEADLK;
        me.blocker = c->owner;
        blocked_.insert(&me);
      }
    }
    if (granted) {
      queue_.Notify(WakeBit(file));
      return {};
    }
    TRY(t.Block(w, std::nullopt));
  }
}

void LockTable::ReleasePosix(const void* file, const void* owner) {
  if (nfiles_.load(std::memory_order_relaxed) == 0) return;
  {
    absl::MutexLock l(&mu_);
    auto it = files_.find(file);
    if (it == files_.end()) return;
    std::vector<RecordLock>& r = it->second.records;
    const size_t before = r.size();
    std::erase_if(r, [&](const RecordLock& h) { return h.owner == owner; });
    if (r.size() == before) return;
    UnblockLocked(file, owner);
    EraseIfEmptyLocked(file);
  }
  queue_.Notify(WakeBit(file));
}

void LockTable::ReleaseDescription(const void* file, const FileDescription* f) {
  {
    absl::MutexLock l(&mu_);
    auto it = files_.find(file);
    if (it == files_.end()) return;
    if (file == f) {
      // Locks kept under the description itself: nobody can reach them any
      // more, and the address may be reused.
      for (const RecordLock& h : it->second.records) UnblockLocked(file, h.owner);
      files_.erase(it);
      nfiles_.store(files_.size(), std::memory_order_relaxed);
    } else {
      std::erase_if(it->second.records, [&](const RecordLock& h) { return h.owner == f; });
      std::erase_if(it->second.flocks, [&](const RecordLock& h) { return h.owner == f; });
      UnblockLocked(file, f);
      EraseIfEmptyLocked(file);
    }
  }
  queue_.Notify(WakeBit(file));
}

base::Result<void> LockTable::Flock(sentry::kernel::Task& t, const void* file, const FileDescription* owner,
                                    FlockOp op, bool nonblock) {
  sentry::kernel::Waiter w(t, WakeBit(file));
  const bool may_wait = !nonblock && op != FlockOp::kUnlock;
  if (may_wait) queue_.Add(&w);
  absl::Cleanup done = [&] {
    if (may_wait) queue_.Remove(&w);
  };
  const RecordLock want{0, kLockOffsetMax, op == FlockOp::kExclusive, true, owner, -1};
  while (true) {
    bool changed = false;
    bool granted = false;
    {
      absl::MutexLock l(&mu_);
      if (op == FlockOp::kUnlock && !files_.contains(file)) return {};
      FileLocks& fl = files_[file];
      auto own = std::find_if(fl.flocks.begin(), fl.flocks.end(), [&](const RecordLock& h) { return h.owner == owner; });
      if (own != fl.flocks.end()) {
        if (op != FlockOp::kUnlock && own->write == want.write) return {};  // already held
        fl.flocks.erase(own);
        changed = true;
      }
      if (op == FlockOp::kUnlock) {
        granted = true;
      } else if (FirstConflict(fl.flocks, want) == nullptr) {
        fl.flocks.push_back(want);
        granted = true;
        changed = true;
      }
      EraseIfEmptyLocked(file);
    }
    if (changed) queue_.Notify(WakeBit(file));
    if (granted) return {};
    if (nonblock) return base::Errno::kEWOULDBLOCK;
    TRY(t.Block(w, std::nullopt));
  }
}

std::vector<LockTable::HeldLock> LockTable::Snapshot() {
  std::vector<HeldLock> out;
  absl::MutexLock l(&mu_);
  for (const auto& [file, fl] : files_) {
    for (const RecordLock& r : fl.records) out.push_back({file, r, false});
    for (const RecordLock& r : fl.flocks) out.push_back({file, r, true});
  }
  return out;
}

}  // namespace fs
