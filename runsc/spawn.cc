#include "runsc/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace runsc {

absl::StatusOr<pid_t> SpawnSelf(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& fds,
                                int namespaces, bool detach, bool keep_signal_mask) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int max_dst = 2;
  for (const auto& [src, dst] : fds) max_dst = std::max(max_dst, dst);
  const pid_t parent = getpid();
  // Raw clone (no atfork handlers), like fork() but with new namespaces: the
  // child runs only async-signal-safe code until execv.
  const pid_t pid = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD | namespaces, nullptr, nullptr, nullptr, 0));
  if (pid < 0) return absl::ErrnoToStatus(errno, namespaces != 0 ? "clone with new namespaces" : "fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only. Die with the parent.
    if (detach) {
      setsid();
    } else {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // In a new pid namespace the parent is outside it and getppid() is 0.
      if ((namespaces & CLONE_NEWPID) == 0 && getppid() != parent) _exit(127);
    }
    if (!keep_signal_mask) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
    }
    // Move sources out of the way first so a dst never clobbers a src.
    int tmp[64];
    size_t n = 0;
    for (const auto& [src, dst] : fds) {
      if (n >= 64) _exit(127);
      tmp[n++] = fcntl(src, F_DUPFD_CLOEXEC, max_dst + 1);
    }
    n = 0;
    for (const auto& [src, dst] : fds) {
      if (dup2(tmp[n++], dst) < 0) _exit(127);
    }
    for (int fd = 3; fd <= max_dst; ++fd) {
      bool keep = false;
      for (const auto& [src, dst] : fds) keep = keep || dst == fd;
      if (!keep) close(fd);
    }
    syscall(SYS_close_range, max_dst + 1, ~0u, 0);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

absl::StatusOr<int> Wait(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, __WALL) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, fmt::format("waitpid({})", pid));
  }
  return status;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace runsc
