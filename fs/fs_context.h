// FsContext: a task's root and working directory (CLONE_FS shares it) and
// umask. Owned by fs/; the task holds it by shared_ptr. Any thread may call
// these (mu_ guards the fields; CLONE_FS makes it shared across tasks).
#ifndef FS_FS_CONTEXT_H_
#define FS_FS_CONTEXT_H_

#include <cstdint>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "fs/inode.h"

namespace fs {

class Vfs;

class FsContext {
 public:
  FsContext(Path root, Path cwd, uint32_t umask) : root_(std::move(root)), cwd_(std::move(cwd)), umask_(umask) {}

  Path root() const {
    absl::MutexLock l(&mu_);
    return root_;
  }
  Path cwd() const {
    absl::MutexLock l(&mu_);
    return cwd_;
  }
  // chdir/fchdir: the caller has checked it is a searchable directory.
  void SetCwd(Path p) {
    absl::MutexLock l(&mu_);
    cwd_ = std::move(p);
  }
  // chroot (later).
  void SetRoot(Path p) {
    absl::MutexLock l(&mu_);
    root_ = std::move(p);
  }
  uint32_t umask() const {
    absl::MutexLock l(&mu_);
    return umask_;
  }
  // umask(2): sets mask & 0777 and returns the old one.
  uint32_t SwapUmask(uint32_t mask) {
    absl::MutexLock l(&mu_);
    return std::exchange(umask_, mask & 0777);
  }
  // For clone without CLONE_FS: an independent copy.
  std::shared_ptr<FsContext> Fork() const {
    absl::MutexLock l(&mu_);
    return std::make_shared<FsContext>(root_, cwd_, umask_);
  }

 private:
  mutable absl::Mutex mu_;
  Path root_ ABSL_GUARDED_BY(mu_);
  Path cwd_ ABSL_GUARDED_BY(mu_);
  uint32_t umask_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fs

#endif  // FS_FS_CONTEXT_H_
