// `runsc exec`, `ps` and `events`: the commands that talk to a running
// sandbox through its control socket (runsc/control.h).
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "fmt/format.h"
#include "runsc/control.h"
#include "runsc/oci/apply.h"
#include "runsc/oci/cgroup.h"
#include "runsc/oci/console.h"
#include "runsc/oci/pod.h"
#include "runsc/oci/commands.h"
#include "runsc/oci/spec.h"
#include "runsc/oci/state.h"
#include "runsc/spawn.h"

namespace runsc::oci {
namespace {

// The running container's state and its control directory.
absl::StatusOr<State> Running(const Config& c, const std::string& id) {
  auto dir = StateDir::Open(c.root_dir, id, false);
  if (!dir.ok()) return dir.status();
  auto st = dir->Load();
  if (!st.ok()) return st.status();
  Refresh(*st);
  if (st->status == "paused" && !st->cgroup.empty()) {
    // Frozen: the sentry cannot answer (runc refuses exec in a paused container too).
    return absl::FailedPreconditionError(fmt::format("container \"{}\" is paused", id));
  }
  if (st->status != "running" && st->status != "created" && st->status != "paused") {
    return absl::FailedPreconditionError(fmt::format("container \"{}\" is not running (state \"{}\")", id, st->status));
  }
  return *st;
}

// A request about container `id` to the sandbox that serves it (a pod's
// further container: its pod's, with "container" naming it).
absl::StatusOr<nlohmann::json> Request(const Config& c, const std::string& id, const State& st,
                                       nlohmann::json req) {
  std::string dir = c.root_dir + "/" + id;
  if (auto spec = LoadSpec(st.bundle); spec.ok()) {
    if (auto sandbox = PodSandboxId(*spec, id)) {
      dir = c.root_dir + "/" + *sandbox;
      req["container"] = id;
    }
  }
  auto sock = ConnectControl(dir);
  if (!sock.ok()) return sock.status();
  if (auto s = SendControl(sock->get(), req); !s.ok()) return s;
  auto reply = RecvControl(sock->get());
  if (!reply.ok()) return reply.status();
  if (reply->contains("error")) return absl::InternalError(reply->value("error", ""));
  return reply;
}

// The exec'd process's host-side stand-in when it has a console: holds the
// console's replica as its controlling terminal, so the engine's resizes
// (TIOCSWINSZ on the master) raise SIGWINCH here, and passes them on to
// the sentry until the process's status arrives. Returns the exit code.
int WatchConsole(int sock, int console) {
  (void)setsid();
  (void)ioctl(console, TIOCSCTTY, 0);
  signal(SIGHUP, SIG_IGN);  // the engine closing the master is not our exit
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  sigprocmask(SIG_BLOCK, &winch, nullptr);
  base::UniqueFd sfd(signalfd(-1, &winch, SFD_CLOEXEC));
  // A resize before we held the terminal raised no SIGWINCH: look once now.
  (void)SendControl(sock, {{"resize", true}});
  while (true) {
    struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    if (poll(p, sfd.valid() ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 255;
    }
    if (p[1].revents & POLLIN) {
      signalfd_siginfo si;
      (void)!read(sfd.get(), &si, sizeof(si));
      (void)SendControl(sock, {{"resize", true}});
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      auto done = RecvControl(sock);
      if (!done.ok()) return 255;
      return ExitCodeOf(done->value("status", 0));
    }
  }
}

}  // namespace

int Exec(const Config& c, const std::string& id, const ExecOptions& o) {
  auto st = Running(c, id);
  if (!st.ok()) return Fail(st.status());
  auto cspec = LoadSpec(st->bundle);
  if (!cspec.ok()) return Fail(cspec.status());
  // The process: --process F, else the container's process with CMD and
  // the flags over it (runc's rules).
  Spec p;
  if (!o.process_file.empty()) {
    std::ifstream f(o.process_file);
    if (!f.good()) return Fail(fmt::format("cannot open --process {}: {}", o.process_file, strerror(errno)));
    std::stringstream ss;
    ss << f.rdbuf();
    auto parsed = ParseProcessSpec(ss.str());
    if (!parsed.ok()) return Fail(parsed.status());
    p = std::move(*parsed);
  } else {
    if (o.command.empty()) return Fail("exec: a command or --process is required");
    p = *cspec;
    p.args = o.command;
    p.terminal = false;  // runc: only -t asks for one, whatever the container has
  }
  const bool tty = o.tty || p.terminal;
  if (tty && o.console_socket.empty()) return Fail("exec: a terminal (-t, process.terminal) needs --console-socket");
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos) return Fail(fmt::format("--env \"{}\": want KEY=VALUE", e));
    p.env.push_back(e);
  }
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    std::vector<std::string> ug = absl::StrSplit(o.user, ':');
    uint32_t uid = 0, gid = 0;
    if (ug.size() > 2 || !absl::SimpleAtoi(ug[0], &uid) || (ug.size() == 2 && !absl::SimpleAtoi(ug[1], &gid))) {
      return Fail(fmt::format("--user \"{}\": want UID[:GID] (numbers)", o.user));
    }
    p.uid = uid;
    p.gid = ug.size() == 2 ? gid : p.gid;
  }
  nlohmann::json req = {{"op", "exec"}, {"argv", p.args},  {"env", p.env},      {"cwd", p.cwd},
                        {"uid", p.uid}, {"gid", p.gid},    {"groups", p.additional_gids}};
  if (p.umask.has_value()) req["umask"] = *p.umask;
  // Capabilities: the process's own (the container's unless --process),
  // plus runc's --cap additions to every set but ambient.
  for (const auto& cap : o.caps) {
    if (CapabilityByName(cap) < 0) return Fail(fmt::format("--cap \"{}\": unknown capability", cap));
    for (const char* set : {"bounding", "effective", "permitted", "inheritable"}) p.capabilities[set].push_back(cap);
  }
  if (auto caps = CapsOf(p)) {
    req["caps"] = {{"bounding", caps->bounding}, {"effective", caps->effective}, {"permitted", caps->permitted},
                   {"inheritable", caps->inheritable}, {"ambient", caps->ambient}};
  }
  req["no_new_privs"] = p.no_new_privileges || o.no_new_privs;
  // The container's linux.seccomp holds for its exec'd processes too (runc).
  if (!cspec->seccomp_bpf.empty()) req["seccomp"] = {{"bpf", cspec->seccomp_bpf}, {"log", cspec->seccomp_log}};
  // The container's oomScoreAdj holds for its exec'd processes too (runc
  // writes it in every process it starts in the container).
  if (const auto adj = p.oom_score_adj.has_value() ? p.oom_score_adj : cspec->oom_score_adj) req["oom_score_adj"] = *adj;

  // A pod's further container runs in its pod's sandbox: exec there,
  // under the container's own root (control op "exec" with "container").
  std::string sandbox_dir = c.root_dir + "/" + id;
  if (auto sandbox = PodSandboxId(*cspec, id)) {
    sandbox_dir = c.root_dir + "/" + *sandbox;
    req["container"] = id;
  }
  auto sock = ConnectControl(sandbox_dir);
  if (!sock.ok()) return Fail(fmt::format("exec in \"{}\": {}", id, std::string(sock.status().message())));
  // -t: a host pty whose master goes to the engine (as for create); the
  // sentry bridges its replica to a new pty of the sandbox's devpts.
  base::UniqueFd console;
  if (tty) {
    auto made = NewConsole(o.console_socket, p.console_height, p.console_width);
    if (!made.ok()) return Fail(fmt::format("exec: {}", std::string(made.status().message())));
    console = std::move(made).value();
    // The host pty only carries bytes: echo, line editing and ONLCR are
    // the sandbox pty's (as runsc do does to a user's terminal).
    struct termios t {};
    if (tcgetattr(console.get(), &t) == 0) {
      cfmakeraw(&t);
      (void)tcsetattr(console.get(), TCSANOW, &t);
    }
    req["console"] = true;
  }
  const int stdio[3] = {0, 1, 2};
  const int console_fds[1] = {console.get()};
  if (auto s = tty ? SendControl(sock->get(), req, console_fds) : SendControl(sock->get(), req, stdio); !s.ok()) {
    return Fail(s);
  }
  auto started = RecvControl(sock->get());
  if (!started.ok()) return Fail(started.status());
  if (started->contains("error")) return Fail(fmt::format("exec: {}", started->value("error", "")));
  // The engine (conmon, the containerd shim) watches a host process for
  // the exec'd one: ours lives until it exits and exits with its status.
  const pid_t child = fork();
  if (child < 0) return Fail(fmt::format("fork: {}", strerror(errno)));
  if (child == 0) {
    if (o.detach) {
      // The app has its own copies of stdio: let the engine's pipes close
      // when the app is done with them.
      base::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
      for (int fd = 0; fd <= 2 && null.valid(); ++fd) ::dup2(null.get(), fd);
      setsid();
    }
    if (console.valid()) _exit(WatchConsole(sock->get(), console.get()));
    auto done = RecvControl(sock->get());
    if (!done.ok()) _exit(255);
    _exit(ExitCodeOf(done->value("status", 0)));
  }
  sock->Reset();
  if (!o.pid_file.empty()) {
    const std::string tmp = o.pid_file + ".tmp";
    std::ofstream(tmp) << child;
    if (::rename(tmp.c_str(), o.pid_file.c_str()) != 0) return Fail(fmt::format("pid file: {}", strerror(errno)));
  }
  if (o.detach) return 0;
  auto status = runsc::Wait(child);
  if (!status.ok()) return Fail(status.status());
  return ExitCodeOf(*status);
}

// The process list taken just before a freeze: a frozen sentry cannot
// answer, and nothing in the sandbox can change while it is frozen, so the
// list stays exact until resume (runc reads the frozen cgroup's tasks).
std::string PausedPsFile(const Config& c, const std::string& id) { return c.root_dir + "/" + id + "/paused-ps.json"; }

absl::StatusOr<std::vector<nlohmann::json>> SandboxProcesses(const Config& c, const std::string& id) {
  {
    auto dir = StateDir::Open(c.root_dir, id, false);
    if (!dir.ok()) return dir.status();
    auto st = dir->Load();
    if (!st.ok()) return st.status();
    Refresh(*st);
    if (st->status == "paused" && !st->cgroup.empty()) {
      std::ifstream f(PausedPsFile(c, id));
      auto j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
      if (!j.is_array()) return absl::UnavailableError(fmt::format("container \"{}\" is paused and its process list was not saved", id));
      return j.get<std::vector<nlohmann::json>>();
    }
  }
  auto st = Running(c, id);
  if (!st.ok()) return st.status();
  auto reply = Request(c, id, *st, {{"op", "ps"}});
  if (!reply.ok()) return reply.status();
  return reply->value("processes", std::vector<nlohmann::json>{});
}

int Ps(const Config& c, const std::string& id, const std::string& format) {
  auto procs = SandboxProcesses(c, id);
  if (!procs.ok()) return Fail(procs.status());
  if (format == "json") {
    // runc prints pids; ours are the sandbox's (its processes have no
    // host pids: the sentry runs them).
    nlohmann::json pids = nlohmann::json::array();
    for (const auto& p : *procs) pids.push_back(p.value("pid", 0));
    fmt::print("{}\n", pids.dump());
    return 0;
  }
  fmt::print("{:<8} {:<8} {:<8} {:<6} {}\n", "UID", "PID", "PPID", "STAT", "CMD");
  for (const auto& p : *procs) {
    std::string cmd = p.value("cmdline", "");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.empty()) cmd = "[" + p.value("comm", "") + "]";
    fmt::print("{:<8} {:<8} {:<8} {:<6} {}\n", p.value("uid", 0), p.value("pid", 0), p.value("ppid", 0),
               p.value("state", "?"), cmd);
  }
  return 0;
}

int Pause(const Config& c, const std::string& id, bool pause) {
  auto dir = StateDir::Open(c.root_dir, id, false);
  if (!dir.ok()) return Fail(dir.status());
  auto st = dir->Load();
  if (!st.ok()) return Fail(st.status());
  Refresh(*st);
  // runc: a created or running container can be paused; resume returns it
  // to the state it had (a created one still waits for `start`).
  const bool allowed = pause ? (st->status == "running" || st->status == "created") : st->status == "paused";
  if (!allowed) {
    return Fail(fmt::format("cannot {} container \"{}\" in state \"{}\"", pause ? "pause" : "resume", id, st->status));
  }
  const bool created = pause ? st->status == "created" : st->paused_from == "created";
  // The sandbox's cgroup freezer: every host task of the sandbox (sentry,
  // stubs, gofers) stops where it is, so no app instruction runs and
  // nothing in the sandbox can notice (clocks keep going, as with Linux's
  // freezer). Without a cgroup: a job-control stop of every process.
  if (!st->cgroup.empty()) {
    const std::string saved = PausedPsFile(c, id);
    if (pause) {
      // See PausedPsFile. Taken under the state lock, so no exec can start
      // a process between the list and the freeze. A created container's
      // sandbox runs too (its process waits before its first instruction).
      auto reply = Request(c, id, *st, {{"op", "ps"}});
      if (!reply.ok()) return Fail(fmt::format("pause \"{}\": listing its processes: {}", id,
                                std::string(reply.status().message())));
      const nlohmann::json procs = reply->value("processes", nlohmann::json::array());
      const std::string tmp = saved + ".tmp";
      std::ofstream(tmp) << procs.dump();
      if (::rename(tmp.c_str(), saved.c_str()) != 0) return Fail(fmt::format("pause: {}: {}", saved, strerror(errno)));
    }
    if (auto s = FreezeCgroup(st->cgroup, pause); !s.ok()) {
      if (pause) (void)::unlink(saved.c_str());
      return Fail(s);
    }
    if (!pause) (void)::unlink(saved.c_str());
  } else {
    auto sock = ConnectControl(c.root_dir + "/" + id);
    if (!sock.ok()) return Fail(sock.status());
    if (auto s = SendControl(sock->get(), {{"op", pause ? "pause" : "resume"}}); !s.ok()) return Fail(s);
    auto reply = RecvControl(sock->get());
    if (!reply.ok()) return Fail(reply.status());
  }
  if (pause) {
    st->paused_from = st->status;
    st->status = "paused";
  } else {
    st->status = created ? "created" : "running";
    st->paused_from.clear();
  }
  if (auto s = dir->Save(*st); !s.ok()) return Fail(s);
  return 0;
}

int Events(const Config& c, const std::string& id, bool stats_once, int interval_s) {
  // runc's format: {"type":"stats","id":ID,"data":{...}} per line, every
  // interval, until the container stops.
  while (true) {
    absl::StatusOr<State> st;
    {
      auto dir = StateDir::Open(c.root_dir, id, false);  // the lock is released at once
      if (!dir.ok()) return stats_once ? Fail(dir.status()) : 0;
      st = dir->Load();
    }
    if (!st.ok()) return stats_once ? Fail(st.status()) : 0;
    Refresh(*st);
    if (st->status == "stopped") return stats_once ? Fail(fmt::format("container \"{}\" is stopped", id)) : 0;
    // cpu and memory from the sandbox's cgroup; pids from the sentry (its
    // processes, which have no host pids), or the list saved at pause.
    nlohmann::json data = st->cgroup.empty() ? nlohmann::json::object() : CgroupStats(st->cgroup);
    // runc always has "pids"; 0 while the sentry is still booting.
    auto procs = SandboxProcesses(c, id);
    data["pids"] = {{"current", procs.ok() ? procs->size() : 0}};
    if (auto spec = LoadSpec(st->bundle); spec.ok() && spec->pids_limit.has_value() && *spec->pids_limit > 0) {
      data["pids"]["limit"] = *spec->pids_limit;
    }
    fmt::print("{}\n", nlohmann::json({{"type", "stats"}, {"id", id}, {"data", data}}).dump());
    std::fflush(stdout);
    if (stats_once) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(std::max(1, interval_s)));
  }
}

}  // namespace runsc::oci
