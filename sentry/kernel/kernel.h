// Kernel: the sandbox's one kernel instance. Owns the memory file, the
// platform, the VFS and the task registry. Passed explicitly (no globals).
#ifndef SENTRY_KERNEL_KERNEL_H_
#define SENTRY_KERNEL_KERNEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/result.h"
#include "fs/fs_context.h"
#include "platform/platform.h"
#include "sentry/kernel/clone_args.h"
#include "sentry/kernel/futex.h"
#include "sentry/mm/memory_file.h"

namespace sentry::kernel {

class Task;

struct KernelConfig {
  bool strace = false;
  std::string hostname = "runsc";
  uint64_t memory_file_capacity = 64ull << 30;
};

class FdTable;
struct Credentials;

struct ExecSpec {  // the first process
  std::string path;  // as given; resolved through $PATH like execvp
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::shared_ptr<FdTable> fds;  // stdio, donated by the CLI
};

class Kernel {
 public:
  Kernel(KernelConfig config, std::unique_ptr<mm::MemoryFile> mf, std::unique_ptr<platform::Platform> p,
         std::shared_ptr<fs::Vfs> vfs);
  ~Kernel();

  const KernelConfig& config() const { return config_; }
  mm::MemoryFile& memory_file() { return *mf_; }
  platform::Platform& platform() { return *platform_; }
  fs::Vfs& vfs() { return *vfs_; }
  absl::Time boot_time() const { return boot_time_; }
  FutexTable& futexes() { return futexes_; }

  // Starts pid 1 and runs until the last task exits. Returns the Linux wait
  // status of pid 1 (exit code << 8, or the terminating signal). An exec
  // failure of pid 1 is returned as an error with a message in *why.
  base::Result<int> Run(const ExecSpec& spec, std::string* why);

  int32_t AllocateTid();

  // execve(2) for `t`: loads `path` into a fresh address space and, once
  // nothing can fail any more, replaces t's memory, registers and
  // close-on-exec fds. On error `t` is unchanged; *why says what was wrong.
  base::Result<void> Exec(Task& t, const std::string& path, std::vector<std::string> argv,
                          std::vector<std::string> envp, std::string* why);

  // Forwards a host signal (SIGINT/SIGTERM sent to runsc) to pid 1. Any thread.
  void SignalInit(int signo);

  // clone(CLONE_THREAD): a new thread in parent's group sharing its memory,
  // signal handlers, and (per flags) fds and fs; it starts on its own sentry
  // thread with parent's registers, rax = 0, rsp = args.stack, fs_base =
  // args.tls (CLONE_SETTLS). Returns the new tid. Parent's task thread.
  // (sentry/kernel/thread.cc)
  base::Result<int32_t> CloneThread(Task& parent, const CloneArgs& args);

 private:
  // The task thread's loop: runs app code and dispatches its syscalls until
  // the task exits. Returns the Linux wait status.
  int RunTask(Task& t);

 private:
  KernelConfig config_;
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
  std::shared_ptr<fs::Vfs> vfs_;
  absl::Time boot_time_;
  FutexTable futexes_;
  absl::Mutex mu_;
  int32_t next_tid_ ABSL_GUARDED_BY(mu_) = 1;
  Task* init_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_KERNEL_H_
