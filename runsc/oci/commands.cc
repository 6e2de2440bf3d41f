#include "runsc/oci/commands.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "base/logging.h"
#include "fmt/format.h"
#include "runsc/commands.h"
#include "runsc/control.h"
#include "runsc/oci/apply.h"
#include "runsc/oci/cgroup.h"
#include "runsc/oci/console.h"
#include "runsc/oci/hooks.h"
#include "runsc/oci/pod.h"
#include "runsc/oci/seccomp.h"
#include "runsc/oci/spec.h"
#include "runsc/oci/state.h"
#include "runsc/spawn.h"

namespace runsc::oci {
namespace {

std::string Now() {
  char buf[64];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09}Z", buf, ts.tv_nsec);
}

std::string Absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return absl::OkStatus();
  // Written atomically like runc: readers never see a partial pid.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f.good()) return absl::ErrnoToStatus(errno, fmt::format("cannot write pid file {}", path));
    f << pid;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return absl::ErrnoToStatus(errno, "rename pid file");
  return absl::OkStatus();
}

// Loads a container's state under its lock; refreshes a dead process to stopped.
absl::StatusOr<std::pair<StateDir, oci::State>> LoadContainer(const Config& c, const std::string& id) {
  auto dir = StateDir::Open(c.root_dir, id, false);
  if (!dir.ok()) return dir.status();
  auto st = dir->Load();
  if (!st.ok()) return st.status();
  oci::State s = *st;
  Refresh(s);
  return std::make_pair(std::move(*dir), s);
}

// runc's "owner" of a container: its state directory's owner, by name.
std::string OwnerOf(const std::string& state_dir) {
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0) return "";
  if (const passwd* pw = ::getpwuid(st.st_uid); pw != nullptr) return pw->pw_name;
  return std::to_string(st.st_uid);
}

bool errors_to_log = false;  // written once by main() before any thread starts

}  // namespace

void SetErrorsToLog(bool on) { errors_to_log = on; }
bool ErrorsToLog() { return errors_to_log; }

int Fail(std::string_view msg) {
  fmt::print(stderr, "runsc: {}\n", msg);
  if (ErrorsToLog()) logging::Error("{}", msg);  // engines report the log's last error line
  return 1;
}

int Fail(const absl::Status& s) { return Fail(std::string(s.message())); }

int ParseSignal(const std::string& in) {
  int n = 0;
  if (absl::SimpleAtoi(in, &n)) return (n > 0 && n <= 64) ? n : 0;
  std::string name = in;
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev != nullptr && name == abbrev) return s;
  }
  return 0;
}

int WriteSpec(const std::string& bundle) {
  const std::string path = bundle + "/config.json";
  if (::access(path.c_str(), F_OK) == 0) {
    return Fail(fmt::format("File {} exists. Remove it first", path));
  }
  std::ofstream f(path);
  if (!f.good()) return Fail(fmt::format("cannot write {}: {}", path, strerror(errno)));
  f << DefaultSpecJson();
  return 0;
}

int Create(const Config& c, const std::string& id, const CreateOptions& o) {
  const std::string bundle = Absolute(o.bundle);
  auto spec = LoadSpec(bundle);
  if (!spec.ok()) return Fail(spec.status());
  if (spec->terminal && o.console_socket.empty()) {
    return Fail("process.terminal is true but no --console-socket was given");
  }
  if (spec->args.empty()) return Fail("config.json: process.args: must not be empty");
  {
    Config probe = c;
    if (auto o = ToDoOptions(*spec, probe); !o.ok()) return Fail(o.status());
  }
  struct stat st {};
  if (::stat(spec->root_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(fmt::format("config.json: root.path: {} is not a directory", spec->root_path));
  }
  std::string why;
  if (!Validate(c, &why)) return Fail(why);
  if (auto sandbox = PodSandboxId(*spec, id)) {
    // Joining a pod: its sandbox must be running (it serves the join).
    auto sdir = StateDir::Open(c.root_dir, *sandbox, false);
    if (!sdir.ok()) return Fail(fmt::format("pod sandbox \"{}\": {}", *sandbox, std::string(sdir.status().message())));
    auto sst = sdir->Load();
    if (!sst.ok()) return Fail(sst.status());
    Refresh(*sst);
    if (sst->status != "running" && sst->status != "created") {
      return Fail(fmt::format("pod sandbox \"{}\" is {}", *sandbox, sst->status));
    }
  }

  auto dir = StateDir::Open(c.root_dir, id, true);
  if (!dir.ok()) return Fail(dir.status());
  oci::State s;
  s.id = id;
  s.status = "creating";
  s.bundle = bundle;
  s.created = Now();
  s.annotations = spec->annotations;
  // Nothing is left behind on failure: the supervisor (once started) and
  // its cgroup go, and the state directory too.
  pid_t supervisor = 0;
  auto cleanup = [&](std::string_view msg) {
    if (supervisor > 0) {
      ::kill(supervisor, SIGKILL);
      (void)::waitpid(supervisor, nullptr, 0);
    }
    if (!s.cgroup.empty()) DestroyCgroup(s.cgroup, s.cgroup_owned);
    (void)dir->Remove();
    return Fail(msg);
  };
  // Two pipes to the supervisor (fds 3 and 4 there): "go" once it is in
  // its cgroup, and "ready" back from the sandbox once the container's
  // process is set up and held before its first instruction (EOF: failed).
  int go[2], ready[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return cleanup(fmt::format("pipe: {}", strerror(errno)));
  base::UniqueFd go_r(go[0]), go_w(go[1]);
  if (::pipe2(ready, O_CLOEXEC) != 0) return cleanup(fmt::format("pipe: {}", strerror(errno)));
  base::UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  std::vector<std::string> args = {"runsc-container"};
  for (auto& f : ToFlags(c)) args.push_back(f);
  args.insert(args.end(), {"container-supervisor", "--bundle=" + bundle, id});
  // process.terminal: the console's master goes to the engine now (before
  // create returns, as runc does); its replica is the container's stdio.
  std::vector<std::pair<int, int>> stdio;
  base::UniqueFd console;
  if (spec->terminal) {
    auto made = NewConsole(o.console_socket, spec->console_height, spec->console_width);
    if (!made.ok()) return cleanup(std::string(made.status().message()));
    console = std::move(made).value();
    stdio = {{console.get(), 0}, {console.get(), 1}, {console.get(), 2}};
  }
  stdio.insert(stdio.end(), {{go_r.get(), 3}, {ready_w.get(), 4}});
  auto pid = SpawnSelf(args, stdio, /*namespaces=*/0, /*detach=*/true);
  console.Reset();
  go_r.Reset();
  ready_w.Reset();
  if (!pid.ok()) return cleanup(fmt::format("starting the container: {}", pid.status().ToString()));
  supervisor = *pid;
  s.pid = *pid;
  s.status = "created";
  // The host cgroup (runsc/oci/cgroup.h): the supervisor goes in before it
  // starts the gofers and the sentry (it waits for "go").
  if (const std::string cg = CgroupPathFor(*spec, id, c.systemd_cgroup); cg.empty()) {
    return cleanup(fmt::format("linux.cgroupsPath: \"{}\" is not a usable cgroup path", spec->cgroups_path));
  } else if (auto made = CreateCgroup(cg, *spec, *pid, &s.cgroup_owned); !made.ok()) {
    if (spec->cpu_shares.has_value() || spec->cpu_quota.has_value() || !spec->cgroups_path.empty()) {
      s.cgroup = cg;
      return cleanup(fmt::format("cgroup {}: {}", cg, std::string(made.message())));
    }
    // No limits asked for: the sandbox runs without a cgroup of its own
    // (pause falls back to stopping its tasks).
    logging::Warn("cgroup {}: {}; continuing without one", cg, made.ToString());
    DestroyCgroup(cg, s.cgroup_owned);
  } else {
    s.cgroup = cg;
  }
  if (auto st2 = dir->Save(s); !st2.ok()) return cleanup(std::string(st2.message()));
  if (auto p = WritePidFile(o.pid_file, *pid); !p.ok()) {
    (void)::unlink(o.pid_file.c_str());
    return cleanup(std::string(p.message()));
  }
  // The sandbox boots now, as runc's and gVisor's do at create: gofers,
  // sentry, mounts, sysctls, credentials, the process exec'd and held
  // before its first instruction (or, in a pod, joined to its sandbox).
  // Its errors went to our stderr (the supervisor shares it).
  // A supervisor gone already is an error to report, not our SIGPIPE.
  auto* const old_pipe = ::signal(SIGPIPE, SIG_IGN);
  const bool went = ::write(go_w.get(), "g", 1) == 1;
  ::signal(SIGPIPE, old_pipe);
  if (!went) return cleanup(fmt::format("starting the container: {}", strerror(errno)));
  go_w.Reset();
  char r = 0;
  ssize_t got;
  while ((got = ::read(ready_r.get(), &r, 1)) < 0 && errno == EINTR) {
  }
  if (got != 1) {
    if (!o.pid_file.empty()) (void)::unlink(o.pid_file.c_str());
    return cleanup(fmt::format("create \"{}\": the sandbox failed to set up the container's process", id));
  }
  ready_r.Reset();
  // createRuntime and createContainer hooks run now; prestart is their
  // deprecated alias and runs first (runtime-spec config.md "Hooks"). They
  // see the state "creating", as runc passes it (the container becomes
  // "created" once they succeed); a failing one fails the create.
  oci::State creating = s;
  creating.status = "creating";
  for (const auto* hooks : {&spec->hooks.prestart, &spec->hooks.create_runtime, &spec->hooks.create_container}) {
    if (auto h = RunHooks(*hooks, StateJson(creating)); !h.ok()) {
      if (!o.pid_file.empty()) (void)::unlink(o.pid_file.c_str());
      return cleanup(fmt::format("create \"{}\": {}", id, std::string(h.message())));
    }
  }
  return 0;
}

namespace {

// The control socket that serves container `id` (its pod's sandbox's for a
// pod's further container) and the request field naming it there.
struct ControlTarget {
  std::string dir;
  std::optional<std::string> container;
};

ControlTarget TargetOf(const Config& c, const std::string& id, const oci::State& s) {
  if (auto spec = LoadSpec(s.bundle); spec.ok()) {
    if (auto sandbox = PodSandboxId(*spec, id)) return {c.root_dir + "/" + *sandbox, id};
  }
  return {c.root_dir + "/" + id, std::nullopt};
}

// One request and its reply on the control socket of `t`.
absl::StatusOr<nlohmann::json> Ask(const ControlTarget& t, nlohmann::json req) {
  if (t.container.has_value()) req["container"] = *t.container;
  auto sock = ConnectControl(t.dir);
  if (!sock.ok()) return sock.status();
  if (auto r = SendControl(sock->get(), req); !r.ok()) return r;
  auto reply = RecvControl(sock->get());
  if (!reply.ok()) return reply.status();
  if (reply->contains("error")) return absl::FailedPreconditionError(reply->value("error", ""));
  return reply;
}

}  // namespace

int Start(const Config& c, const std::string& id) {
  oci::State s;
  {
    auto loaded = LoadContainer(c, id);  // the lock: until the checks are done
    if (!loaded.ok()) return Fail(loaded.status());
    s = loaded->second;
  }
  if (s.status != "created") return Fail(fmt::format("cannot start a container in state \"{}\"", s.status));
  auto spec = LoadSpec(s.bundle);
  if (!spec.ok()) return Fail(spec.status());
  const ControlTarget target = TargetOf(c, id, s);
  oci::State running = s;
  running.status = "running";
  // runtime-spec: startContainer hooks run before the process does; a
  // failing one stops the container before its process runs (the sandbox
  // kills it where it waits, so the supervisor records the stop and runs
  // the poststop hooks).
  if (auto h = RunHooks(spec->hooks.start_container, StateJson(running)); !h.ok()) {
    if (auto k = Ask(target, {{"op", "signal"}, {"signal", SIGKILL}}); absl::IsNotFound(k.status())) {
      ::kill(s.pid, SIGKILL);
    }
    while (ProcessAlive(s.pid)) {
      if (::waitpid(s.pid, nullptr, WNOHANG) == s.pid) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Fail(fmt::format("start \"{}\": startContainer: {}; the container's process did not run", id,
                            std::string(h.message())));
  }
  if (auto r = Ask(target, {{"op", "start"}}); !r.ok()) {
    return Fail(fmt::format("starting \"{}\": {}", id, std::string(r.status().message())));
  }
  {
    // The process may have run and exited already (the supervisor then
    // wrote "stopped"): only a container still "created" becomes running.
    auto loaded = LoadContainer(c, id);
    if (!loaded.ok()) return Fail(loaded.status());
    auto& [dir, now] = *loaded;
    if (now.status == "created") {
      now.status = "running";
      if (auto st = dir.Save(now); !st.ok()) return Fail(st);
    }
  }
  // poststart: after the process started, before start returns; a failure
  // is a warning (runtime-spec).
  if (auto h = RunHooks(spec->hooks.poststart, StateJson(running)); !h.ok()) {
    logging::Warn("poststart: {}", std::string(h.message()));
  }
  return 0;
}

int Supervise(const Config& c, const std::string& id, const std::string& bundle) {
  // fd 3: "go" from create once we are in the container's cgroup; fd 4:
  // the "ready" pipe back to create (DoOptions::ready_fd).
  base::UniqueFd go(3);
  // The signals Do and RunInPod pass on to the container: pending, not
  // fatal, until they do.
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&fwd, s);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);
  auto spec = LoadSpec(bundle);
  if (!spec.ok()) return Fail(spec.status());
  std::string dirpath = c.root_dir + "/" + id;
  char b = 0;
  if (::read(go.get(), &b, 1) != 1) return 1;  // create failed before
  go.Reset();
  if (spec->terminal) {
    // We lead a new session (SpawnSelf detach): the console becomes our
    // controlling terminal, with us in its foreground, so runsc do treats
    // it like a user's terminal (raw mode, the sandbox's /dev/pts/0).
    if (auto s = AcquireConsole(STDIN_FILENO); !s.ok()) logging::Warn("console: {}", s.ToString());
  }
  if (spec->oom_score_adj.has_value()) {
    // process.oomScoreAdj: for the whole sandbox on the host (the gofers and
    // the sentry inherit it from us), as runc sets it on the container.
    std::ofstream f("/proc/self/oom_score_adj");
    f << *spec->oom_score_adj;
    f.flush();
    if (!f.good()) logging::Warn("process.oomScoreAdj: writing /proc/self/oom_score_adj failed");
  }
  int code = 0;
  if (auto sandbox = PodSandboxId(*spec, id)) {
    code = RunInPod(c, id, *sandbox, *spec, /*ready_fd=*/4);
  } else {
    Config cfg = c;
    auto o = ToDoOptions(*spec, cfg);
    if (!o.ok()) return Fail(o.status());
    o->control_dir = dirpath;
    o->ready_fd = 4;  // Do closes it
    code = Do(cfg, *o);
  }
  auto dir = StateDir::Open(c.root_dir, id, false);
  if (dir.ok()) {
    if (auto s = dir->Load(); s.ok()) {
      s->status = "stopped";
      s->exit_status = code;
      (void)dir->Save(*s);
      if (auto h = RunHooks(spec->hooks.poststop, StateJson(*s)); !h.ok()) {
        logging::Warn("poststop: {}", std::string(h.message()));
      }
    }
  }
  return code;
}

int Run(const Config& c, const std::string& id, const CreateOptions& o) {
  if (int r = Create(c, id, o); r != 0) return r;
  if (int r = Start(c, id); r != 0) return r;
  if (o.detach) return 0;
  return Wait(c, id);
}

int Wait(const Config& c, const std::string& id) {
  pid_t pid = 0;
  {
    auto loaded = LoadContainer(c, id);
    if (!loaded.ok()) return Fail(loaded.status());
    pid = loaded->second.pid;
  }
  // The supervisor is usually not our child: poll for its exit.
  while (ProcessAlive(pid)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto loaded = LoadContainer(c, id);
  if (!loaded.ok()) return Fail(loaded.status());
  return loaded->second.exit_status < 0 ? 1 : loaded->second.exit_status;
}

int PrintState(const Config& c, const std::string& id) {
  auto loaded = LoadContainer(c, id);
  if (!loaded.ok()) return Fail(loaded.status());
  // runc's `state`: the OCI state plus rootfs and owner; no pid once
  // stopped (the OCI pid is required only while created or running).
  const oci::State& s = loaded->second;
  nlohmann::json j = nlohmann::json::parse(StateJson(s));
  if (s.status == "stopped") j["pid"] = 0;
  j["rootfs"] = "";
  if (auto spec = LoadSpec(s.bundle); spec.ok()) j["rootfs"] = spec->root_path;
  j["owner"] = OwnerOf(loaded->first.path());
  fmt::print("{}\n", j.dump(2));
  return 0;
}

int Kill(const Config& c, const std::string& id, const std::string& signal, bool all) {
  const int sig = ParseSignal(signal.empty() ? "TERM" : signal);
  if (sig == 0) return Fail(fmt::format("unknown signal \"{}\"", signal));
  auto loaded = LoadContainer(c, id);
  if (!loaded.ok()) return Fail(loaded.status());
  const auto& s = loaded->second;
  if (s.status != "created" && s.status != "running" && s.status != "paused") {
    return Fail(fmt::format("cannot kill container \"{}\" in state \"{}\"", id, s.status));
  }
  // The sentry signals the container's init (with --all: every process
  // of the container) and replies once the signal is queued, so a kill
  // after `start` returned always reaches the process (before its handler
  // is installed the default action applies, as on Linux). A created
  // container's process waits before its first instruction: the signal
  // stays pending until it runs (SIGKILL ends it at once). A frozen
  // (paused) sentry cannot answer: the supervisor gets the signal and
  // passes it on once thawed.
  if (s.status != "paused") {
    const ControlTarget target = TargetOf(c, id, s);
    auto reply = Ask(target, {{"op", "signal"}, {"signal", sig}, {"all", all}});
    // Unavailable: the request went, the reply did not (the signal ended
    // the sandbox first).
    if (reply.ok() || absl::IsUnavailable(reply.status())) return 0;
    if (!absl::IsNotFound(reply.status())) return Fail(fmt::format("kill \"{}\": {}", id, std::string(reply.status().message())));
    // No sandbox serves it (it is exiting): the supervisor's.
  }
  if (::kill(s.pid, sig) != 0) return Fail(fmt::format("kill {}: {}", s.pid, strerror(errno)));
  // A frozen sandbox would not act on the signal until thawed; SIGKILL
  // thaws it so it dies now (runc does the same).
  if (sig == SIGKILL && s.status == "paused") {
    if (!s.cgroup.empty()) {
      (void)FreezeCgroup(s.cgroup, false);
    } else {
      ::kill(s.pid, SIGCONT);
    }
  }
  return 0;
}

int Delete(const Config& c, const std::string& id, bool force) {
  auto loaded = LoadContainer(c, id);
  if (!loaded.ok()) {
    if (force && absl::IsNotFound(loaded.status())) return 0;
    return Fail(loaded.status());
  }
  auto& [dir, s] = *loaded;
  if ((s.status == "running" || s.status == "paused") && !force) {
    return Fail(fmt::format("cannot delete container \"{}\" that is running (use --force)", id));
  }
  if (s.status != "stopped") {
    // A frozen supervisor would not die of SIGKILL until thawed.
    if (s.status == "paused" && !s.cgroup.empty()) (void)FreezeCgroup(s.cgroup, false);
    ::kill(s.pid, SIGKILL);
    for (int i = 0; i < 1000 && ProcessAlive(s.pid); ++i) {
      ::waitpid(s.pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  if (!s.cgroup.empty()) DestroyCgroup(s.cgroup, s.cgroup_owned);
  if (auto r = dir.Remove(); !r.ok()) return Fail(r);
  return 0;
}

int List(const Config& c, const std::string& format) {
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::array<std::string, 6>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (const std::string& id : ListIds(c.root_dir)) {
    auto loaded = LoadContainer(c, id);
    if (!loaded.ok()) continue;
    const auto& s = loaded->second;
    const std::string owner = OwnerOf(loaded->first.path());
    out.push_back({{"ociVersion", "1.0.2"}, {"id", s.id}, {"pid", s.status == "stopped" ? 0 : s.pid},
                   {"status", s.status}, {"bundle", s.bundle}, {"rootfs", ""}, {"created", s.created},
                   {"annotations", s.annotations}, {"owner", owner}});
    if (auto spec = LoadSpec(s.bundle); spec.ok()) out.back()["rootfs"] = spec->root_path;
    rows.push_back({s.id, std::to_string(s.status == "stopped" ? 0 : s.pid), s.status, s.bundle, s.created, owner});
  }
  if (format == "json") {
    fmt::print("{}\n", out.dump());
    return 0;
  }
  // A table like runc's (tabwriter: columns padded to the widest cell + 6).
  std::array<size_t, 6> width{};
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += i + 1 < r.size() ? fmt::format("{:<{}}", r[i], width[i] + 6) : r[i];
    }
    fmt::print("{}\n", line);
  }
  return 0;
}

int Features() {
  // runc's `features` document (runtime-spec features.md). What the
  // sandbox does not do is stated as disabled rather than left out:
  // AppArmor and SELinux labels and Intel RDT are not applied (the
  // sandbox's own host filter always is, docs/security.md). The OCI
  // seccomp profile is the process's own filter in the sandbox.
  nlohmann::json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.0.2"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "mode"}},
      {"linux",
       {{"namespaces", {"pid", "network", "ipc", "uts", "mount"}},
        {"capabilities", CapabilityNames()},
        {"cgroup", {{"v1", true}, {"v2", false}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", SeccompActions()},
          {"operators", SeccompOperators()},
          {"archs", SeccompArchs()},
          {"knownFlags", SeccompFlags()},
          {"supportedFlags", SeccompFlags()}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations",
       {{"org.opencontainers.runc.version", "runsc-cpp 0.1.0"},
        {"org.opencontainers.runc.checkpoint.enabled", "false"}}}};
  fmt::print("{}\n", f.dump(4));
  return 0;
}

int NotSupported(const std::string& command) {
  return Fail(fmt::format("\"{}\" is not supported yet by this runtime (#8)", command));
}

}  // namespace runsc::oci
