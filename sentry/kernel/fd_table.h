// FdTable: a task's file descriptors (CLONE_FILES shares one). Each entry is
// a shared FileDescription plus the per-fd close-on-exec flag.
#ifndef SENTRY_KERNEL_FD_TABLE_H_
#define SENTRY_KERNEL_FD_TABLE_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "fs/file_description.h"

namespace fs {
class LockTable;
}

namespace sentry::kernel {

using base::Errno;
using base::Result;

struct FdEntry {
  std::shared_ptr<fs::FileDescription> file;
  bool cloexec = false;
};

class FdTable {
 public:
  explicit FdTable(uint64_t limit = 1024) : limit_(limit) {}
  // Closes every fd (put_files_struct at exit or when the last sharer goes).
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;
  // Where this table's POSIX record locks live (the table is their owner,
  // as files_struct is in Linux). Every fd this table drops, by close,
  // dup2 over it, close_range, close-on-exec or the table's end, releases
  // the table's locks on that file (locks_remove_posix). Set once, before
  // the table is shared; Fork() passes it on.
  void set_locks(std::shared_ptr<fs::LockTable> locks) { locks_ = std::move(locks); }
  // The lowest free fd >= min_fd; EMFILE past the limit.
  Result<int> Install(std::shared_ptr<fs::FileDescription> file, bool cloexec, int min_fd = 0);
  // dup2/dup3: replaces whatever `fd` held (closing it after the lock).
  Result<int> InstallAt(int fd, std::shared_ptr<fs::FileDescription> file, bool cloexec);
  // EBADF for a negative or unused fd.
  Result<std::shared_ptr<fs::FileDescription>> Get(int fd) const;
  Result<FdEntry> GetEntry(int fd) const;
  Result<void> SetCloexec(int fd, bool cloexec);
  Result<void> Close(int fd);
  // close_range(2) with CLOSE_RANGE_CLOEXEC when `cloexec_only`.
  void CloseRange(unsigned first, unsigned last, bool cloexec_only);
  // execve: drops close-on-exec fds.
  void CloseOnExec();
  std::unique_ptr<FdTable> Fork() const;
  std::vector<int> Fds() const;  // sorted, for /proc/self/fd
  // RLIMIT_NOFILE: new fds must be below it (existing ones stay).
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void set_limit(uint64_t l) { limit_.store(l, std::memory_order_relaxed); }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, FdEntry> entries_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> limit_;
  std::shared_ptr<fs::LockTable> locks_;

  // Called for each dropped entry, without mu_ held.
  void Dropped(const FdEntry& e) const;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FD_TABLE_H_
