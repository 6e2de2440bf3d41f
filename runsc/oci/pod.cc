// Pods: a container whose CRI annotations name another container's
// sandbox joins that sandbox (one sentry) with its own rootfs, served by a
// gofer of its own, and its own process; the sandbox's /dev/shm is shared.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "fmt/format.h"
#include "runsc/commands.h"
#include "runsc/control.h"
#include "runsc/oci/apply.h"
#include "runsc/oci/commands.h"
#include "runsc/oci/pod.h"
#include "runsc/sandbox.h"
#include "runsc/spawn.h"

namespace runsc::oci {

std::optional<std::string> PodSandboxId(const Spec& spec, const std::string& id) {
  // containerd's CRI plugin, then CRI-O's names.
  static const std::pair<const char*, const char*> kKeys[] = {
      {"io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},
      {"io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"}};
  for (const auto& [type_key, sandbox_key] : kKeys) {
    auto type = spec.annotations.find(type_key);
    auto sandbox = spec.annotations.find(sandbox_key);
    if (type != spec.annotations.end() && type->second == "container" && sandbox != spec.annotations.end() &&
        sandbox->second != id) {
      return sandbox->second;
    }
  }
  return std::nullopt;
}

int RunInPod(const Config& c, const std::string& id, const std::string& sandbox_id, const Spec& spec, int ready_fd) {
  base::UniqueFd ready(ready_fd);
  auto fail = [](std::string_view msg) {
    fmt::print(stderr, "runsc: {}\n", msg);
    logging::Error("{}", msg);
    return 1;
  };
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return fail("socketpair failed");
  base::UniqueFd gofer_end(sp[0]), sentry_end(sp[1]);
  std::vector<std::string> gargs = {"runsc-gofer"};
  for (auto& f : ToFlags(c)) gargs.push_back(f);
  gargs.insert(gargs.end(), {"gofer", "--fd=3", "--root-path=" + spec.root_path});
  auto gofer = SpawnSelf(gargs, {{gofer_end.get(), 3}}, sandbox::kGoferNamespaces);
  if (!gofer.ok()) return fail(fmt::format("starting the gofer: {}", gofer.status().ToString()));
  gofer_end.Reset();
  Config probe = c;
  auto opts = ToDoOptions(spec, probe);
  if (!opts.ok()) return fail(std::string(opts.status().message()));
  std::vector<base::UniqueFd> mount_ends;
  nlohmann::json mounts = nlohmann::json::array();
  for (const MountSpec& m : opts->mounts) {
    if (m.type == "devpts") continue;  // the pod shares its sandbox's /dev/pts (the first container's options)
    nlohmann::json jm = {{"destination", m.destination}, {"type", m.type}, {"ro", m.read_only}, {"mode", m.mode},
                         {"noexec", m.noexec}};
    if (m.type == "bind") {
      if (mount_ends.size() + 4 >= kMaxControlFds) return fail("pod container: too many bind mounts");
      auto mg = SpawnMountGofer(c, m);  // dies with this supervisor (PDEATHSIG)
      if (!mg.ok()) return fail(fmt::format("gofer for {}: {}", m.destination, mg.status().ToString()));
      jm["fd"] = 4 + static_cast<int>(mount_ends.size());
      jm["file"] = mg->is_file;
      mount_ends.push_back(std::move(mg->sentry_end));
    }
    mounts.push_back(std::move(jm));
  }
  auto sock = ConnectControl(c.root_dir + "/" + sandbox_id);
  if (!sock.ok()) return fail(fmt::format("joining sandbox \"{}\": {}", sandbox_id, std::string(sock.status().message())));
  nlohmann::json req = {{"op", "container"}, {"id", id}, {"argv", spec.args}, {"env", spec.env},
                        {"cwd", spec.cwd},   {"uid", spec.uid},   {"gid", spec.gid},
                        {"groups", spec.additional_gids}, {"root_readonly", spec.root_readonly}};
  if (spec.umask.has_value()) req["umask"] = *spec.umask;
  if (spec.oom_score_adj.has_value()) req["oom_score_adj"] = *spec.oom_score_adj;
  // Held before its first instruction until `runsc start` (control op
  // "start"); the pod's sysctls must be the ones it asks for.
  req["hold"] = ready.valid();
  if (!opts->sysctls.empty()) req["sysctl"] = opts->sysctls;
  req["mounts"] = mounts;
  std::vector<int> fds = {0, 1, 2, sentry_end.get()};
  for (const auto& e : mount_ends) fds.push_back(e.get());
  if (auto s = SendControl(sock->get(), req, fds); !s.ok()) return fail(std::string(s.message()));
  sentry_end.Reset();
  mount_ends.clear();
  auto started = RecvControl(sock->get());
  if (!started.ok()) return fail(std::string(started.status().message()));
  if (started->contains("error")) return fail(started->value("error", ""));
  if (ready.valid()) {
    // runsc create returns now (runsc/oci/commands.cc Create).
    if (::write(ready.get(), "r", 1) != 1) logging::Warn("pod: telling create we are ready: {}", strerror(errno));
    ready.Reset();
  }
  // runsc kill signals this process: pass the signal on to the container's.
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH}) sigaddset(&fwd, s);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);
  const int fd = sock->get();
  std::thread([fd, fwd] {
    while (true) {
      int sig = 0;
      if (sigwait(&fwd, &sig) != 0) continue;
      (void)SendControl(fd, {{"signal", sig}});
    }
  }).detach();
  auto done = RecvControl(fd);
  if (!done.ok()) return 128 + SIGKILL;  // the sandbox went away
  return ExitCodeOf(done->value("status", 0));
}

}  // namespace runsc::oci
