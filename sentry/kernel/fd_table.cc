#include "sentry/kernel/fd_table.h"

#include <fcntl.h>

#include <algorithm>
#include <climits>

#include "fs/locks.h"

namespace sentry::kernel {

FdTable::~FdTable() {
  absl::flat_hash_map<int, FdEntry> entries;
  {
    absl::MutexLock l(&mu_);
    entries.swap(entries_);
  }
  for (const auto& [fd, e] : entries) Dropped(e);
}

void FdTable::Dropped(const FdEntry& e) const {
  // filp_close skips locks_remove_posix for O_PATH files.
  if (locks_ == nullptr || e.file == nullptr || (e.file->flags() & O_PATH)) return;
  locks_->ReleasePosix(fs::LockKey(*e.file), this);
}

Result<int> FdTable::Install(std::shared_ptr<fs::FileDescription> file, bool cloexec, int min_fd) {
  if (min_fd < 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  const uint64_t limit = limit_.load(std::memory_order_relaxed);
  for (uint64_t fd = static_cast<uint64_t>(min_fd); fd < limit; ++fd) {
    if (!entries_.contains(static_cast<int>(fd))) {
      entries_[static_cast<int>(fd)] = FdEntry{std::move(file), cloexec};
      return static_cast<int>(fd);
    }
  }
  return Errno::kEMFILE;
}

Result<int> FdTable::InstallAt(int fd, std::shared_ptr<fs::FileDescription> file, bool cloexec) {
  if (fd < 0 || static_cast<uint64_t>(fd) >= limit()) return Errno::kEBADF;
  FdEntry old;  // released after the lock: closing may block.
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(fd);
    if (it != entries_.end()) old = std::move(it->second);
    entries_[fd] = FdEntry{std::move(file), cloexec};
  }
  Dropped(old);
  return fd;
}

Result<std::shared_ptr<fs::FileDescription>> FdTable::Get(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(fd);
  if (it == entries_.end()) return Errno::kEBADF;
  return it->second.file;
}

Result<FdEntry> FdTable::GetEntry(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(fd);
  if (it == entries_.end()) return Errno::kEBADF;
  return it->second;
}

Result<void> FdTable::SetCloexec(int fd, bool cloexec) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(fd);
  if (it == entries_.end()) return Errno::kEBADF;
  it->second.cloexec = cloexec;
  return {};
}

Result<void> FdTable::Close(int fd) {
  FdEntry old;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(fd);
    if (it == entries_.end()) return Errno::kEBADF;
    old = std::move(it->second);
    entries_.erase(it);
  }
  Dropped(old);
  return {};
}

void FdTable::CloseRange(unsigned first, unsigned last, bool cloexec_only) {
  std::vector<FdEntry> dropped;
  {
    absl::MutexLock l(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      const unsigned fd = static_cast<unsigned>(it->first);
      if (fd < first || fd > last) {
        ++it;
        continue;
      }
      if (cloexec_only) {
        it->second.cloexec = true;
        ++it;
      } else {
        dropped.push_back(std::move(it->second));
        entries_.erase(it++);
      }
    }
  }
  for (const FdEntry& e : dropped) Dropped(e);
}

void FdTable::CloseOnExec() {
  std::vector<FdEntry> dropped;
  {
    absl::MutexLock l(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.cloexec) {
        dropped.push_back(std::move(it->second));
        entries_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (const FdEntry& e : dropped) Dropped(e);
}

std::unique_ptr<FdTable> FdTable::Fork() const {
  auto t = std::make_unique<FdTable>(limit());
  t->locks_ = locks_;
  absl::MutexLock l(&mu_);
  absl::MutexLock l2(&t->mu_);
  t->entries_ = entries_;
  return t;
}

std::vector<int> FdTable::Fds() const {
  std::vector<int> out;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [fd, e] : entries_) out.push_back(fd);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sentry::kernel
