// The decoded arguments of clone(2)/clone3(2) (struct kernel_clone_args in
// Linux), shared by the processes code (syscalls/clone.cc parses them) and
// the threads code (Kernel::CloneThread in sentry/kernel/thread.cc).
#ifndef SENTRY_KERNEL_CLONE_ARGS_H_
#define SENTRY_KERNEL_CLONE_ARGS_H_

#include <cstdint>
#include <memory>

namespace sentry::kernel {

struct ThreadGroup;

struct CloneArgs {
  uint64_t flags = 0;        // CLONE_* (the low byte is not the exit signal here)
  uint64_t stack = 0;        // new rsp; 0 = the parent's
  uint64_t tls = 0;          // CLONE_SETTLS: the new fs_base
  uint64_t parent_tid = 0;   // CLONE_PARENT_SETTID: where the new tid goes (parent's memory)
  uint64_t child_tid = 0;    // CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID
  int32_t exit_signal = 0;   // for a new process; 0 for threads
  uint64_t pidfd = 0;        // CLONE_PIDFD: where the fd number goes
  // If set, Kernel::Clone stores the new process here once it is
  // registered (CLONE_PIDFD makes its pidfd from it).
  std::shared_ptr<ThreadGroup>* new_process = nullptr;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_CLONE_ARGS_H_
