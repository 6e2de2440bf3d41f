// `runsc do`: start a gofer and a sentry for one command, forward signals,
// and exit with the app's status.
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <climits>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "base/logging.h"
#include "base/unique_fd.h"
#include "runsc/commands.h"
#include "runsc/control.h"
#include "runsc/sandbox.h"
#include "runsc/spawn.h"

extern char** environ;

namespace runsc {
namespace {


bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// `--volume HOST:SANDBOX[:ro|:rw]` -> a bind MountSpec (docker's -v
// spelling; gVisor's `runsc do` has no such flag).
absl::StatusOr<MountSpec> ParseVolume(const std::string& v) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || v[i] == ':') {
      parts.push_back(v.substr(start, i - start));
      start = i + 1;
    }
  }
  MountSpec m;
  m.type = "bind";
  if (parts.size() == 3) {
    if (parts[2] == "ro") {
      m.read_only = true;
    } else if (parts[2] != "rw") {
      return absl::InvalidArgumentError(fmt::format("--volume \"{}\": the mode must be ro or rw", v));
    }
  } else if (parts.size() != 2) {
    return absl::InvalidArgumentError(fmt::format("--volume \"{}\": expected HOST:SANDBOX[:ro|:rw]", v));
  }
  char buf[PATH_MAX];
  if (parts[0].empty() || realpath(parts[0].c_str(), buf) == nullptr) {
    return absl::InvalidArgumentError(fmt::format("--volume \"{}\": host path: {}", v, strerror(errno)));
  }
  struct stat st {};
  if (::stat(buf, &st) != 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
    return absl::InvalidArgumentError(fmt::format("--volume \"{}\": not a directory or regular file", v));
  }
  m.source = buf;
  if (parts[1].empty() || parts[1][0] != '/') {
    return absl::InvalidArgumentError(fmt::format("--volume \"{}\": the sandbox path must be absolute", v));
  }
  m.destination = parts[1];
  return m;
}

}  // namespace

absl::StatusOr<MountGofer> SpawnMountGofer(const Config& c, const MountSpec& m) {
  int msp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, msp) != 0) return absl::ErrnoToStatus(errno, "socketpair");
  base::UniqueFd g_end(msp[0]);
  MountGofer out;
  out.sentry_end.Reset(msp[1]);
  struct stat st {};
  out.is_file = ::stat(m.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
  std::vector<std::string> margs = {"runsc-gofer"};
  for (auto& f : ToFlags(c)) margs.push_back(f);
  margs.insert(margs.end(), {"gofer", "--fd=3", "--root-path=" + m.source,
                             std::string("--read-only=") + (m.read_only ? "true" : "false")});
  auto pid = SpawnSelf(margs, {{g_end.get(), 3}}, sandbox::kGoferNamespaces);
  if (!pid.ok()) return pid.status();
  out.pid = *pid;
  return out;
}

int Do(const Config& c, const DoOptions& o) {
  if (o.command.empty()) {
    fmt::print(stderr, "runsc do: missing command\nUsage: runsc [flags] do [--cwd DIR] [--] CMD [ARGS...]\n");
    return 2;
  }
  std::string why;
  if (!Validate(c, &why)) {
    fmt::print(stderr, "runsc: {}\n", why);
    return 2;
  }
  std::vector<MountSpec> all_mounts = o.mounts;
  for (const std::string& v : o.volumes) {
    auto m = ParseVolume(v);
    if (!m.ok()) {
      fmt::print(stderr, "runsc do: {}\n", std::string(m.status().message()));
      return 2;
    }
    all_mounts.push_back(*m);
  }
  if (c.network == "sandbox" || c.network == "host") {
    // TODO(#9): the netstack. Until then the only honest mode is none, and
    // `runsc do` (like gVisor's with a broken host network) should still run.
    logging::Info("--network={} is not implemented yet; running with --network=none", c.network);
  }
  std::string cwd = o.cwd;
  if (cwd.empty() && o.rootfs != "/") cwd = "/";  // the host's cwd means nothing in another root
  if (cwd.empty()) {
    char buf[PATH_MAX];
    cwd = getcwd(buf, sizeof(buf)) != nullptr ? buf : "/";
  }
  if (cwd.empty() || cwd[0] != '/') {
    fmt::print(stderr, "runsc do: --cwd must be an absolute path, got \"{}\"\n", cwd);
    return 2;
  }

  char rootfs_buf[PATH_MAX];
  if (realpath(o.rootfs.c_str(), rootfs_buf) == nullptr) {
    fmt::print(stderr, "runsc do: --root \"{}\": {}\n", o.rootfs, strerror(errno));
    return 2;
  }
  const std::string rootfs = rootfs_buf;
  // Each role gets namespaces of its own (docs/security.md). That takes
  // CAP_SYS_ADMIN; there is no unconfined fallback.
  if (!sandbox::CanCreateNamespaces()) {
    fmt::print(stderr,
               "runsc do: creating the sandbox's namespaces needs root (CAP_SYS_ADMIN); run runsc as root\n");
    return 1;
  }

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    fmt::print(stderr, "runsc: socketpair: {}\n", strerror(errno));
    return 1;
  }
  base::UniqueFd gofer_end(sp[0]), sentry_end(sp[1]);
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) != 0) {
    fmt::print(stderr, "runsc: pipe: {}\n", strerror(errno));
    return 1;
  }
  base::UniqueFd spec_r(pp[0]), spec_w(pp[1]);

  // Signals we forward are blocked here and collected by one thread, so the
  // children never see a half-set-up state (the gofers unblock them; the
  // sentry keeps them blocked and collects them itself).
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : kForwardedSignals) sigaddset(&fwd, s);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);

  std::vector<std::string> gargs = {"runsc-gofer"};
  for (auto& f : ToFlags(c)) gargs.push_back(f);
  gargs.insert(gargs.end(), {"gofer", "--fd=3", "--root-path=" + rootfs});
  // --overlay2=none: the rootfs itself is written through its gofer (unless
  // config.json's root.readonly).
  if (RootfsWritableThroughGofer(c) && !o.root_readonly) gargs.push_back("--read-only=false");
  auto gofer = SpawnSelf(gargs, {{gofer_end.get(), 3}}, sandbox::kGoferNamespaces);
  if (!gofer.ok()) {
    fmt::print(stderr, "runsc: starting the gofer: {}\n", gofer.status().ToString());
    return 1;
  }
  gofer_end.Reset();

  // Each bind mount gets a gofer of its own, confined to its source (a
  // file source is staged alone in an otherwise empty directory), so one
  // gofer's root never reaches another's files.
  std::vector<pid_t> gofers = {*gofer};
  auto stop_gofers = [&gofers] {
    for (pid_t g : gofers) kill(g, SIGKILL);
    for (pid_t g : gofers) (void)Wait(g);
  };
  std::vector<base::UniqueFd> mount_ends;  // the sentry's ends, fd 5 onwards in boot
  nlohmann::json mounts = nlohmann::json::array();
  for (const MountSpec& m : all_mounts) {
    nlohmann::json jm = {{"destination", m.destination}, {"type", m.type}, {"ro", m.read_only}, {"mode", m.mode},
                         {"noexec", m.noexec}};
    if (m.type == "devpts") jm["data"] = m.data;
    if (m.type == "bind") {
      auto mg = SpawnMountGofer(c, m);
      if (!mg.ok()) {
        fmt::print(stderr, "runsc: starting the gofer for {}: {}\n", m.destination, mg.status().ToString());
        stop_gofers();
        return 1;
      }
      gofers.push_back(mg->pid);
      mount_ends.push_back(std::move(mg->sentry_end));
      jm["fd"] = 4 + static_cast<int>(mount_ends.size());
      jm["file"] = mg->is_file;
    }
    mounts.push_back(std::move(jm));
  }

  std::vector<std::string> bargs = {"runsc-sandbox"};
  for (auto& f : ToFlags(c)) bargs.push_back(f);
  // Resource bounds without flags (runsc/sandbox.h), resolved here: the
  // sentry's own pid namespace shows a pid_max that is not the host's.
  const sandbox::ResourceDefaults defaults = sandbox::HostResourceDefaults();
  if (c.max_tasks == 0) bargs.push_back(fmt::format("--max-tasks={}", defaults.max_tasks));
  if (c.total_memory == 0) bargs.push_back(fmt::format("--total-memory={}", defaults.total_memory));
  bargs.insert(bargs.end(), {"boot", "--gofer-fd=3", "--spec-fd=4"});
  std::vector<std::pair<int, int>> boot_fds = {{sentry_end.get(), 3}, {spec_r.get(), 4}};
  for (size_t i = 0; i < mount_ends.size(); ++i) boot_fds.emplace_back(mount_ends[i].get(), 5 + static_cast<int>(i));
  base::UniqueFd control;
  if (!o.control_dir.empty()) {
    // The control socket (runsc exec, ps) is bound here, in the container's
    // state directory, and served by the sentry: it cannot bind after its
    // pivot to an empty root.
    auto ctl = ListenControl(o.control_dir);
    if (!ctl.ok()) {
      fmt::print(stderr, "runsc: control socket: {}\n", ctl.status().ToString());
      stop_gofers();
      return 1;
    }
    control = std::move(*ctl);
    boot_fds.emplace_back(control.get(), 5 + static_cast<int>(mount_ends.size()));
    bargs.push_back("--control-fd=" + std::to_string(5 + mount_ends.size()));
  }
  // OCI create: the sentry holds the first process until `runsc start`
  // and says when it does (DoOptions::ready_fd); ours is closed below, so
  // the reader sees EOF if the sentry fails.
  base::UniqueFd ready(o.ready_fd);
  if (ready.valid()) {
    const int n = static_cast<int>(boot_fds.size()) + 3;
    boot_fds.emplace_back(ready.get(), n);
    bargs.push_back("--ready-fd=" + std::to_string(n));
  }
  // The sentry is pid 1 of its pid namespace: a forwarded signal that came
  // before it blocks them itself would be dropped (runsc kill right after
  // start), so it starts with them blocked, as here, and finds them pending.
  auto boot = SpawnSelf(bargs, boot_fds, sandbox::kSentryNamespaces, /*detach=*/false, /*keep_signal_mask=*/true);
  if (!boot.ok()) {
    fmt::print(stderr, "runsc: starting the sentry: {}\n", boot.status().ToString());
    stop_gofers();
    return 1;
  }
  sentry_end.Reset();
  spec_r.Reset();
  mount_ends.clear();
  control.Reset();
  ready.Reset();

  nlohmann::json spec;
  spec["path"] = o.command[0];
  spec["argv"] = o.command;
  std::vector<std::string> env;
  if (o.env.has_value()) {
    env = *o.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  spec["env"] = env;
  spec["cwd"] = cwd;
  spec["uid"] = o.uid.value_or(getuid());
  spec["gid"] = o.gid.value_or(getgid());
  spec["groups"] = o.groups;
  if (o.umask.has_value()) spec["umask"] = *o.umask;
  nlohmann::json rl = nlohmann::json::array();
  for (const RlimitSpec& r : o.rlimits) rl.push_back({r.resource, r.soft, r.hard});
  spec["rlimits"] = rl;
  spec["mounts"] = mounts;
  spec["hostname"] = o.hostname;
  spec["root_readonly"] = o.root_readonly;
  if (o.caps.has_value()) {
    spec["caps"] = {{"bounding", o.caps->bounding}, {"effective", o.caps->effective}, {"permitted", o.caps->permitted},
                    {"inheritable", o.caps->inheritable}, {"ambient", o.caps->ambient}};
  }
  spec["no_new_privs"] = o.no_new_privs;
  if (!o.seccomp_bpf.empty()) spec["seccomp"] = {{"bpf", o.seccomp_bpf}, {"log", o.seccomp_log}};
  if (o.oom_score_adj.has_value()) spec["oom_score_adj"] = *o.oom_score_adj;
  if (!o.sysctls.empty()) spec["sysctl"] = o.sysctls;
  // A terminal on stdin with us in its foreground: the app gets the
  // sandbox's own pty as its terminal (fs/tty_console.h), so ^C, ^Z and
  // job control are the sandbox's; the host terminal passes raw bytes
  // until we exit (as ssh and `docker run -t` do).
  std::optional<struct termios> saved_termios;
  if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp()) {
    struct termios t {};
    if (tcgetattr(STDIN_FILENO, &t) == 0) {
      saved_termios = t;
      cfmakeraw(&t);
      if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
        spec["console"] = true;
      } else {
        saved_termios.reset();
      }
    }
  }
  absl::Cleanup restore_termios = [&] {
    if (saved_termios.has_value()) tcsetattr(STDIN_FILENO, TCSADRAIN, &*saved_termios);
  };
  if (!WriteAll(spec_w.get(), spec.dump())) logging::Warn("writing the spec to the sentry failed: {}", strerror(errno));
  spec_w.Reset();

  const pid_t boot_pid = *boot;
  std::thread forwarder([boot_pid, fwd] {
    while (true) {
      int sig = 0;
      if (sigwait(&fwd, &sig) != 0) continue;
      if (sig == SIGUSR2 && kill(boot_pid, 0) != 0) return;  // our own stop request
      logging::Debug("forwarding signal {} to the sandbox", sig);
      kill(boot_pid, sig);
    }
  });
  // The sentry's exit ends the sandbox. A gofer that dies first (killed,
  // or failed) leaves the sandbox without its files (every later access
  // fails): the sandbox is stopped then, so the engine sees it stop
  // (`runsc state`: stopped) rather than a container that runs on broken.
  absl::StatusOr<int> st = absl::InternalError("sentry not waited for");
  while (true) {
    int status = 0;
    const pid_t p = waitpid(-1, &status, __WALL);
    if (p < 0) {
      if (errno == EINTR) continue;
      st = absl::ErrnoToStatus(errno, fmt::format("waitpid({})", boot_pid));
      break;
    }
    if (p == boot_pid) {
      st = status;
      break;
    }
    if (auto g = std::find(gofers.begin(), gofers.end(), p); g != gofers.end()) {
      gofers.erase(g);
      // Exit 0: the sentry closed its connection (it is finishing).
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      logging::Error("the sandbox's gofer (pid {}) exited with status {:#x} while the sandbox ran: stopping it", p,
                     status);
      kill(boot_pid, SIGKILL);
    }
  }
  // Stop the forwarder: it only returns on SIGUSR2 once boot is gone.
  pthread_kill(forwarder.native_handle(), SIGUSR2);
  forwarder.join();
  // The gofers exit when the sentry's ends of their sockets close.
  for (pid_t g : gofers) {
    auto gst = Wait(g);
    if (gst.ok() && *gst != 0) logging::Debug("gofer {} exited with status {:#x}", g, *gst);
  }
  if (!st.ok()) {
    fmt::print(stderr, "runsc: {}\n", st.status().ToString());
    return 1;
  }
  return ExitCodeOf(*st);
}

}  // namespace runsc
