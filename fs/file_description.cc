#include "fs/file_description.h"

#include <fcntl.h>
#include <sys/epoll.h>

#include <algorithm>

#include "fs/inotify.h"
#include "fs/locks.h"
#include "sentry/kernel/task.h"

namespace fs {

Result<size_t> FileDescription::Read(std::span<uint8_t>) { return Errno::kEINVAL; }
Result<size_t> FileDescription::Write(std::span<const uint8_t>) { return Errno::kEINVAL; }
Result<size_t> FileDescription::PRead(std::span<uint8_t>, uint64_t) { return Errno::kESPIPE; }
Result<size_t> FileDescription::PWrite(std::span<const uint8_t>, uint64_t) { return Errno::kESPIPE; }
Result<uint64_t> FileDescription::Seek(int64_t, int) { return Errno::kESPIPE; }
Result<size_t> FileDescription::Getdents64(std::span<uint8_t>) { return Errno::kENOTDIR; }
Result<uint64_t> FileDescription::Ioctl(sentry::mm::MemoryManager&, uint64_t, uint64_t) { return Errno::kENOTTY; }
Result<uint64_t> FileDescription::TaskIoctl(sentry::kernel::Task& t, uint64_t cmd, uint64_t arg) {
  return Ioctl(t.mm(), cmd, arg);
}
Result<size_t> FileDescription::TaskRead(sentry::kernel::Task&, std::span<uint8_t> buf) { return Read(buf); }
Result<size_t> FileDescription::TaskWrite(sentry::kernel::Task&, std::span<const uint8_t> buf) { return Write(buf); }
Result<std::shared_ptr<sentry::mm::MappableFile>> FileDescription::Mappable() { return Errno::kENODEV; }
Result<size_t> FileDescription::ReadApp(sentry::mm::MemoryManager&, uint64_t, size_t, const uint64_t*) {
  return Errno::kEINVAL;
}
Result<size_t> FileDescription::WriteApp(sentry::mm::MemoryManager&, uint64_t, size_t, const uint64_t*, bool) {
  return Errno::kEINVAL;
}

FileDescription::~FileDescription() {
  if (inotify_dentry != nullptr) inotify::Closed(inotify_dentry, writable());
  {
    absl::MutexLock l(&locks_mu_);
    if (lock_table_ != nullptr) lock_table_->ReleaseDescription(lock_key_, this);
  }
  std::vector<std::shared_ptr<FileWatch>> watches;
  {
    absl::MutexLock l(&watch_mu_);
    watches.swap(watches_);
  }
  for (const auto& w : watches) {
    queue_.Remove(w->waiter());
    w->Released();
  }
}

uint64_t FileDescription::Readiness(uint64_t mask) {
  return mask & (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM);
}

void FileDescription::NoteLocks(std::shared_ptr<LockTable> table, const void* key) {
  absl::MutexLock l(&locks_mu_);
  if (lock_table_ == nullptr) {
    lock_table_ = std::move(table);
    lock_key_ = key;
  }
}

void FileDescription::EventRegister(sentry::kernel::Waiter* w) { queue_.Add(w); }
void FileDescription::EventUnregister(sentry::kernel::Waiter* w) { queue_.Remove(w); }

void FileDescription::AddWatch(std::shared_ptr<FileWatch> w) {
  EventRegister(w->waiter());
  absl::MutexLock l(&watch_mu_);
  watches_.push_back(std::move(w));
}

void FileDescription::RemoveWatch(FileWatch* w) {
  std::shared_ptr<FileWatch> keep;  // dropped after the lock
  {
    absl::MutexLock l(&watch_mu_);
    auto it = std::find_if(watches_.begin(), watches_.end(), [w](const auto& p) { return p.get() == w; });
    if (it == watches_.end()) return;
    keep = std::move(*it);
    watches_.erase(it);
  }
  EventUnregister(w->waiter());
}

bool FileDescription::readable() const {
  if (flags() & O_PATH) return false;
  const int acc = flags() & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}
bool FileDescription::writable() const {
  if (flags() & O_PATH) return false;
  const int acc = flags() & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

struct stat AnonInodeStat() {
  struct stat st {};
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}

}  // namespace fs
