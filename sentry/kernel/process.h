// Processes: the task registry's process tree (parent/children, zombies,
// process groups and sessions), fork/clone, exit and wait. The Kernel's
// methods for these live in process.cc (tree, exit, signals to others),
// fork.cc (clone) and wait.cc (wait4/waitid); this header holds their
// argument types.
//
// Locking: Kernel::mu_ guards the registry and every ThreadGroup tree field
// (parent, children, zombie, exit state, pgid/sid/ppid writes). It is the
// outermost sentry lock: under it we may take ThreadGroup::signal_mu (the
// thread list, group exit, pending signals: signal.h), SignalHandlers::mu,
// Task::wake_mu_, WaiterQueue::mu_ and ThreadGroup::mu; never a
// MemoryManager or fd table lock, and no platform call. Full order in
// sentry/README.md.
#ifndef SENTRY_KERNEL_PROCESS_H_
#define SENTRY_KERNEL_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fs/inode.h"
#include "sentry/kernel/clone_args.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/waiter.h"

namespace sentry::mm {
class MemoryManager;
}

namespace sentry::kernel {

// Released when a CLONE_VFORK child execs or exits (mm_release()).
struct VforkDone {
  std::atomic<bool> done{false};
  WaiterQueue queue;
  void Release() {
    done.store(true, std::memory_order_release);
    queue.Notify();
  }
};

// Which children a wait looks at (waitid idtype / wait4 pid).
enum class WaitWho { kPid, kPgid, kAll };

struct WaitRequest {
  WaitWho who = WaitWho::kAll;
  int32_t id = 0;          // pid or pgid
  int options = 0;         // WNOHANG, WNOWAIT, WEXITED, WSTOPPED, WCONTINUED, __WALL, __WCLONE
};

struct WaitResult {
  int32_t pid = 0;         // 0: WNOHANG and nothing ready
  int status = 0;          // Linux wait status
  int32_t uid = 0;
  int code = 0;            // CLD_EXITED, CLD_KILLED, CLD_DUMPED
  int child_status = 0;    // exit code or signal number (si_status)
  // The child's CPU times with its reaped children's (wait4's rusage).
  int64_t utime_ns = 0, stime_ns = 0;
  uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0, maxrss_kb = 0;
};

// A copy of what /proc/<pid> shows of another process.
struct ProcessInfo {
  int32_t pid = 0, ppid = 0, pgid = 0, sid = 0;
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  char state = 'S';        // R, S, Z
  std::string comm;
  std::string exe_path;
  std::optional<fs::Path> exe_file;  // ThreadGroup::exe_file
  std::string cmdline;     // NUL-separated, as at execve
  std::string container;   // ThreadGroup::container
  int threads = 0;
  Credentials creds;       // the leader's (groups, capabilities)
  bool no_new_privs = false;
  int seccomp_mode = 0;     // the leader's kSeccompMode*
  int seccomp_filters = 0;  // filters in its chain
  // For /proc/<pid>/{environ,stat,status,limits,task,maps}.
  std::string environ;     // NUL-separated, as at execve
  int64_t start_ns = 0;    // since the sandbox's boot
  int64_t utime_ns = 0, stime_ns = 0;    // the process's CPU times
  int64_t cutime_ns = 0, cstime_ns = 0;  // of its reaped children
  uint64_t minflt = 0, majflt = 0, cminflt = 0, cmajflt = 0;
  // Per live thread (task/<tid>/stat and status), as `tids`.
  struct ThreadUsage {
    int64_t utime_ns = 0, stime_ns = 0;
    uint64_t minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  };
  std::vector<ThreadUsage> thread_usage;
  uint64_t maxrss_kb = 0;  // peak RSS
  std::vector<int32_t> tids;             // live threads, leader first
  std::vector<std::string> thread_comms;  // each thread's name, as `tids`
  std::vector<std::pair<uint64_t, uint64_t>> rlimits;  // {cur, max} by RLIMIT_*
  int nice = 0;
  uint64_t sig_pending = 0, sig_blocked = 0, sig_ignored = 0, sig_caught = 0;
  std::shared_ptr<mm::MemoryManager> mm;  // the leader's; null for a zombie
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_PROCESS_H_
