#include "runsc/oci/hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fmt/format.h"

namespace runsc::oci {
namespace {

absl::Status RunHook(const Hook& h, const std::string& state_json) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = h.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    dup2(in[0], 0);
    execve(h.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  // The state goes on stdin; a hook that does not read it is fine.
  signal(SIGPIPE, SIG_IGN);
  (void)!write(in[1], state_json.data(), state_json.size());
  close(in[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout.value_or(INT32_MAX / 2));
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError(fmt::format("hook {} timed out after {}s", h.path, *h.timeout));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(fmt::format("hook {} failed (status {:#x})", h.path, status));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHooks(const std::vector<Hook>& hooks, const std::string& state_json) {
  for (const Hook& h : hooks) {
    if (absl::Status s = RunHook(h, state_json); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace runsc::oci
