#include "runsc/control.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/logging.h"
#include "fmt/format.h"
#include "fs/devpts.h"
#include "fs/host_file.h"
#include "fs/tty_console.h"
#include "fs/vfs.h"
#include "gofer/client.h"
#include "fs/poller.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"

namespace runsc {
namespace {

// A pod's further containers by id (the "container" op's "id"): their
// roots, for `runsc exec` into them (op "exec" with "container"), and
// their first process's pid (`runsc kill`), while that process lives.
class PodRoots {
 public:
  void Set(const std::string& id, const fs::Path& root, int32_t pid) {
    absl::MutexLock l(&mu_);
    roots_.insert_or_assign(id, Entry{root, pid});
  }
  std::optional<fs::Path> Get(const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = roots_.find(id);
    if (it == roots_.end()) return std::nullopt;
    return it->second.root;
  }
  std::optional<int32_t> Pid(const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = roots_.find(id);
    if (it == roots_.end()) return std::nullopt;
    return it->second.pid;
  }
  void Erase(const std::string& id) {
    absl::MutexLock l(&mu_);
    roots_.erase(id);
  }

 private:
  struct Entry {
    fs::Path root;
    int32_t pid = 0;
  };
  absl::Mutex mu_;  // a leaf
  absl::flat_hash_map<std::string, Entry> roots_ ABSL_GUARDED_BY(mu_);
};

// Created containers whose first process waits in ExecSpec::before_run
// (exec'd, registered, no instruction run) until `runsc start` (op
// "start"), as runc's init waits on its exec fifo. By container id, ""
// for the sandbox's first container.
class StartGates {
 public:
  void Hold(const std::string& id) {
    absl::MutexLock l(&mu_);
    gates_.insert_or_assign(id, std::make_shared<absl::Notification>());
  }
  // The process's own thread, before it runs. A host wait, not Task::Block:
  // the task has not started (no signal can interrupt what never ran; a
  // SIGKILL opens the gate, see Open).
  void Wait(const std::string& id) {
    std::shared_ptr<absl::Notification> gate;
    {
      absl::MutexLock l(&mu_);
      auto it = gates_.find(id);
      if (it == gates_.end()) return;
      gate = it->second;
    }
    gate->WaitForNotification();
  }
  // Lets the held process run; false if `id` is not held (never created
  // with a hold, or started already).
  bool Open(const std::string& id) {
    std::shared_ptr<absl::Notification> gate;
    {
      absl::MutexLock l(&mu_);
      auto it = gates_.find(id);
      if (it == gates_.end()) return false;
      gate = std::move(it->second);
      gates_.erase(it);
    }
    gate->Notify();
    return true;
  }
  bool Held(const std::string& id) {
    absl::MutexLock l(&mu_);
    return gates_.contains(id);
  }

 private:
  absl::Mutex mu_;  // a leaf
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Notification>> gates_ ABSL_GUARDED_BY(mu_);
};

StartGates& Gates() {
  static StartGates gates;
  return gates;
}

// A pod's sysctls (OCI linux.sysctl) are the sandbox's: its UTS, IPC and
// network namespaces and its /proc/sys are one per pod, as Kubernetes sets
// them on the pod's first container. The value the pod has for `key` (a
// Kernel::SetSysctl key, fs::SandboxSysctl's), defaults as fs/proc_sys.cc.
std::string PodSysctl(sentry::kernel::Kernel& k, const std::string& key) {
  if (key == "kernel/hostname") return k.hostname();
  if (key == "kernel/domainname") return k.domainname();
  if (key == "vm/overcommit_memory") return k.Sysctl(key, "0");
  if (key == "vm/overcommit_ratio") return k.Sysctl(key, "50");
  return k.Sysctl(key, "");
}

// The container's processes (ThreadGroup::container), live ones.
std::vector<int32_t> PidsOf(sentry::kernel::Kernel& k, const std::string& container) {
  std::vector<int32_t> pids;
  for (int32_t pid : k.Pids()) {
    auto info = k.GetProcessInfo(pid);
    if (info.has_value() && info->state != 'Z' && info->container == container) pids.push_back(pid);
  }
  return pids;
}

PodRoots& Roots() {
  static PodRoots roots;
  return roots;
}

// <dir>/ctl through an O_PATH fd of dir, so the state root may be longer
// than sun_path allows.
struct ControlAddress {
  base::UniqueFd dir;
  sockaddr_un addr{};
};

absl::StatusOr<ControlAddress> AddressOf(const std::string& dir) {
  ControlAddress a;
  a.dir.Reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!a.dir.valid()) return absl::ErrnoToStatus(errno, fmt::format("open {}", dir));
  a.addr.sun_family = AF_UNIX;
  fmt::format_to_n(a.addr.sun_path, sizeof(a.addr.sun_path) - 1, "/proc/self/fd/{}/ctl", a.dir.get());
  return a;
}

// `runsc exec -t`: a new pty of the sandbox's devpts, bridged to the host
// console `host` (the replica of the pty whose master the engine got over
// --console-socket), as the container's console is (fs/tty_console.h).
struct ExecConsole {
  std::shared_ptr<fs::FileDescription> replica;
  fs::Tty* tty = nullptr;  // owned by the bridge's master
  std::shared_ptr<fs::TtyConsole> bridge;
};

base::Result<ExecConsole> OpenExecConsole(sentry::kernel::Kernel& k, base::UniqueFd host) {
  static const sentry::kernel::Credentials root{};
  const fs::Caller caller{.creds = &root, .kernel = &k};
  fs::Vfs& vfs = k.vfs();
  std::shared_ptr<fs::FsContext> ctx = TRY(vfs.NewFsContext("/"));
  std::shared_ptr<fs::FileDescription> master =
      TRY(vfs.Open(caller, *ctx, vfs.root(), "/dev/ptmx", O_RDWR | O_NOCTTY, 0));
  ExecConsole c;
  c.tty = fs::TtyOfFile(*master);
  if (c.tty == nullptr) return base::Errno::kENOTTY;
  c.tty->set_locked(false);
  c.replica = TRY(vfs.Open(caller, *ctx, vfs.root(), fmt::format("/dev/pts/{}", c.tty->index()), O_RDWR | O_NOCTTY, 0));
  base::UniqueFd out(fcntl(host.get(), F_DUPFD_CLOEXEC, 3));
  if (!out.valid()) return base::FromHost(errno);
  c.bridge = TRY(fs::TtyConsole::Start(std::move(master), std::move(host), std::move(out)));
  return c;
}

// One connection: a request, then its reply (or replies).
void Serve(sentry::kernel::Kernel& k, const std::shared_ptr<fs::HostPoller>& poller,
           std::shared_ptr<base::UniqueFd> conn_ref) {
  const base::UniqueFd& conn = *conn_ref;
  std::vector<base::UniqueFd> fds;
  auto req = RecvControl(conn.get(), &fds);
  if (!req.ok()) {
    logging::Warn("control: bad request: {}", req.status().ToString());
    return;
  }
  const std::string op = req->value("op", "");
  // The container a request is about: a pod's further container by id,
  // "" for the sandbox's first.
  const std::string target = req->contains("container") && (*req)["container"].is_string()
                                 ? req->value("container", "")
                                 : std::string();
  if (op == "ps") {
    nlohmann::json procs = nlohmann::json::array();
    for (int32_t pid : k.Pids()) {
      auto info = k.GetProcessInfo(pid);
      if (!info.has_value() || info->container != target) continue;
      procs.push_back({{"pid", info->pid}, {"ppid", info->ppid}, {"uid", info->ruid}, {"state", std::string(1, info->state)},
                       {"comm", info->comm}, {"cmdline", info->cmdline}, {"threads", info->threads}});
    }
    (void)SendControl(conn.get(), {{"processes", procs}});
    return;
  }
  if (op == "pause" || op == "resume") {
    // Job-control stop of every process (SIGSTOP/SIGCONT through the
    // sentry's signals), not a freezer: a parent could notice.
    // TODO(#8): a kernel-wide freeze invisible to the app.
    for (int32_t pid : k.Pids()) k.SignalProcess(pid, op == "pause" ? SIGSTOP : SIGCONT);
    (void)SendControl(conn.get(), {{"ok", true}});
    return;
  }
  if (op == "start") {
    // runsc start: the created container's process runs from here on.
    // The reply goes first: a process that exits at once ends the sandbox
    // (and this connection) with it. A signal sent once the reply is in
    // is queued on the process all the same.
    if (!Gates().Held(target)) {
      (void)SendControl(conn.get(), {{"error", fmt::format("container \"{}\" is not waiting to start", target)}});
      return;
    }
    (void)SendControl(conn.get(), {{"ok", true}});
    (void)Gates().Open(target);
    return;
  }
  if (op == "signal") {
    // runsc kill: the container's init; with "all", every process of the
    // container (its init, their descendants, and what runsc exec started
    // in it: ThreadGroup::container), as runc signals every process of the
    // container's cgroup. Synchronous: the signal is queued on the
    // processes when the reply goes, so a kill after `start` is never lost.
    const int sig = req->value("signal", 0);
    if (sig < 1 || sig > 64) {
      (void)SendControl(conn.get(), {{"error", fmt::format("bad signal {}", sig)}});
      return;
    }
    int signalled = 0;
    if (req->value("all", false)) {
      for (int32_t pid : PidsOf(k, target)) {
        k.SignalProcess(pid, sig);
        ++signalled;
      }
    } else if (target.empty()) {
      k.SignalInit(sig);
      signalled = 1;
    } else if (auto pid = Roots().Pid(target)) {
      k.SignalProcess(*pid, sig);
      signalled = 1;
    }
    (void)SendControl(conn.get(), {{"ok", true}, {"signalled", signalled}});
    // A created container's process waits before its first instruction:
    // SIGKILL ends it now (as it ends runc's waiting init); other signals
    // stay pending until it starts. After the reply: its death may end
    // the sandbox.
    if (sig == SIGKILL) (void)Gates().Open(target);
    return;
  }
  if (op != "exec" && op != "container") {
    (void)SendControl(conn.get(), {{"error", fmt::format("unknown control request \"{}\"", op)}});
    return;
  }
  sentry::kernel::ExecSpec spec;
  try {
    spec.argv = req->at("argv").get<std::vector<std::string>>();
    spec.envp = req->at("env").get<std::vector<std::string>>();
    spec.cwd = req->value("cwd", "/");
    CredsFromJson(*req, spec);
    if (req->contains("umask")) spec.umask = req->at("umask").get<uint32_t>();
  } catch (const nlohmann::json::exception& e) {
    (void)SendControl(conn.get(), {{"error", fmt::format("malformed exec request: {}", e.what())}});
    return;
  }
  if (spec.argv.empty()) {
    (void)SendControl(conn.get(), {{"error", "exec: empty command"}});
    return;
  }
  spec.path = spec.argv[0];
  spec.fds = std::make_shared<sentry::kernel::FdTable>(k.config().max_fds != 0 ? k.config().max_fds : 1024);
  std::optional<ExecConsole> console;
  if (op == "exec" && req->value("console", false)) {
    if (fds.empty() || !fds[0].valid()) {
      (void)SendControl(conn.get(), {{"error", "exec: a console needs its terminal as fd 0"}});
      return;
    }
    auto made = OpenExecConsole(k, std::move(fds[0]));
    if (!made.ok()) {
      (void)SendControl(conn.get(), {{"error", fmt::format("exec: console: {}", base::ErrnoText(made.error()))}});
      return;
    }
    console = std::move(made).value();
    for (int fd = 0; fd <= 2; ++fd) (void)spec.fds->InstallAt(fd, console->replica, false);
    fds.clear();
    // The new process leads its own session (sid = pid): the pty is that
    // session's controlling terminal with it in the foreground, as runc's
    // setsid + TIOCSCTTY before the exec'd process's execve.
    spec.on_start = [tty = console->tty](int32_t pid) { tty->SetSession(pid, pid); };
    console->replica.reset();
  }
  for (size_t i = 0; i < fds.size() && i < 3; ++i) {
    const int flags = fcntl(fds[i].get(), F_GETFL);
    if (flags < 0) continue;
    (void)spec.fds->InstallAt(static_cast<int>(i), fs::NewHostFile(std::move(fds[i]), flags, poller), false);
  }
  if (op == "exec" && req->contains("container")) {
    const std::string cid = req->value("container", "");
    auto root = Roots().Get(cid);
    if (!root.has_value()) {
      (void)SendControl(conn.get(), {{"error", fmt::format("container \"{}\" has no process in this sandbox", cid)}});
      return;
    }
    spec.root = std::move(*root);
    spec.container = cid;
  }
  if (op == "container") {
    // linux.sysctl: the pod's (PodSysctl); a container may restate the
    // pod's value but not ask for another one, which it would not get.
    try {
      for (const auto& [key, value] : req->value("sysctl", std::map<std::string, std::string>{})) {
        std::string have = PodSysctl(k, key);
        while (!have.empty() && (have.back() == '\n' || have.back() == ' ')) have.pop_back();
        if (have != value) {
          std::string name = key;
          std::replace(name.begin(), name.end(), '/', '.');
          (void)SendControl(conn.get(), {{"error", fmt::format("linux.sysctl: {}: \"{}\" differs from the pod's \"{}\" "
                                                               "(sysctls are per pod: set them on its first container)",
                                                               name, value, have)}});
          return;
        }
      }
    } catch (const nlohmann::json::exception& e) {
      (void)SendControl(conn.get(), {{"error", fmt::format("container: bad sysctl: {}", e.what())}});
      return;
    }
    // A pod's further container: its rootfs comes from its own gofer (fd 3).
    if (fds.size() < 4) {
      (void)SendControl(conn.get(), {{"error", "container: no gofer connection"}});
      return;
    }
    auto client = gofer::Client::Connect(std::move(fds[3]));
    if (!client.ok()) {
      (void)SendControl(conn.get(), {{"error", fmt::format("container: gofer: {}", base::ErrnoText(client.error()))}});
      return;
    }
    auto root = k.vfs().NewContainerRoot(std::move(client).value(), !req->value("root_readonly", false));
    if (!root.ok()) {
      (void)SendControl(conn.get(), {{"error", fmt::format("container: rootfs: {}", base::ErrnoText(root.error()))}});
      return;
    }
    for (const auto& jm : req->value("mounts", nlohmann::json::array())) {
      fs::VfsOptions::ExtraMount em;
      try {
        em.destination = jm.at("destination").get<std::string>();
        em.type = jm.at("type").get<std::string>();
        em.read_only = jm.value("ro", false);
        em.noexec = jm.value("noexec", false);
        em.mode = jm.value("mode", 01777u);
        em.file = jm.value("file", false);
        const int idx = jm.value("fd", -1);
        if (idx >= 4 && static_cast<size_t>(idx) < fds.size() && fds[idx].valid()) {
          auto mc = gofer::Client::Connect(std::move(fds[idx]));
          if (mc.ok()) em.client = std::move(mc).value();
        }
      } catch (const nlohmann::json::exception& e) {
        (void)SendControl(conn.get(), {{"error", fmt::format("container: bad mount: {}", e.what())}});
        return;
      }
      if (auto r = k.vfs().MountExtraAt(root.value(), em); !r.ok()) {
        (void)SendControl(conn.get(), {{"error", fmt::format("container: mount {}: {}", em.destination,
                                                             base::ErrnoText(r.error()))}});
        return;
      }
    }
    spec.root = std::move(root).value();
    spec.container = req->value("id", "");
  }
  // runsc create: the container's process is held before its first
  // instruction until op "start".
  const bool hold = op == "container" && req->value("hold", false);
  if (hold) {
    Gates().Hold(spec.container);
    spec.before_run = [cid = spec.container](int32_t) { Gates().Wait(cid); };
  }
  std::string why;
  auto pid = k.StartProcess(spec, &why);
  if (!pid.ok() && hold) (void)Gates().Open(spec.container);
  if (!pid.ok()) {
    (void)SendControl(conn.get(), {{"error", why.empty() ? std::string(base::ErrnoText(pid.error())) : why},
                                   {"errno", static_cast<int>(pid.error())}});
    return;
  }
  spec.fds.reset();  // the process holds its own reference
  const std::string container_id = op == "container" ? req->value("id", "") : "";
  if (!container_id.empty()) Roots().Set(container_id, *spec.root, pid.value());
  (void)SendControl(conn.get(), {{"pid", pid.value()}});
  if (op == "container") {
    // The container's supervisor forwards signals as {"signal":N}; if it
    // goes away (runsc kill -9 of it, its engine died), so does the process.
    std::thread([&k, conn_ref, p = pid.value(), cid = container_id] {
      while (true) {
        auto msg = RecvControl(conn_ref->get());
        if (!msg.ok()) {
          k.SignalProcess(p, SIGKILL);
          (void)Gates().Open(cid);  // still created: it dies before running
          return;
        }
        const int sig = msg->value("signal", 0);
        if (sig > 0 && sig <= 64) k.SignalProcess(p, sig);
      }
    }).detach();
  }
  if (console.has_value()) {
    // The client sends {"resize":true} when the engine resized the console.
    std::thread([conn_ref, bridge = console->bridge] {
      while (true) {
        auto msg = RecvControl(conn_ref->get());
        if (!msg.ok()) return;
        if (msg->value("resize", false)) bridge->Resize();
      }
    }).detach();
  }
  const int status = k.WaitStartedProcess(pid.value());
  if (!container_id.empty()) Roots().Erase(container_id);
  if (console.has_value()) console->bridge->Finish();  // the process's last output
  (void)SendControl(conn.get(), {{"status", status}});
}

}  // namespace

void HoldForStart(const std::string& id) { Gates().Hold(id); }
void WaitForStart(const std::string& id) { Gates().Wait(id); }

void CredsFromJson(const nlohmann::json& j, sentry::kernel::ExecSpec& spec) {
  spec.uid = j.value("uid", 0u);
  spec.gid = j.value("gid", 0u);
  spec.groups = j.value("groups", std::vector<uint32_t>{});
  spec.no_new_privs = j.value("no_new_privs", false);
  if (j.contains("oom_score_adj")) spec.oom_score_adj = j.at("oom_score_adj").get<int>();
  if (!j.contains("caps") || !j["caps"].is_object()) return;
  // runc's order: bounding set, then the ids (keeping capabilities), then
  // capset and the ambient raises; its final execve is Kernel::Exec's.
  const nlohmann::json& c = j["caps"];
  const auto set = [&](const char* name) { return c.value(name, uint64_t{0}) & sentry::kernel::kAllCaps; };
  sentry::kernel::Credentials cr = sentry::kernel::Credentials::ForUser(spec.uid, spec.gid, spec.groups);
  cr.cap_bounding = set("bounding");
  cr.cap_permitted = set("permitted");
  cr.cap_effective = set("effective") & cr.cap_permitted;
  cr.cap_inheritable = set("inheritable");
  cr.cap_ambient = set("ambient") & cr.cap_permitted & cr.cap_inheritable;
  spec.creds = std::move(cr);
}

absl::StatusOr<base::UniqueFd> ListenControl(const std::string& dir) {
  auto a = AddressOf(dir);
  if (!a.ok()) return a.status();
  base::UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s.valid()) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  (void)::unlinkat(a->dir.get(), "ctl", 0);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&a->addr), sizeof(a->addr)) != 0) {
    return absl::ErrnoToStatus(errno, fmt::format("bind {}/ctl", dir));
  }
  (void)::fchmodat(a->dir.get(), "ctl", 0600, 0);
  if (::listen(s.get(), 16) != 0) return absl::ErrnoToStatus(errno, "listen");
  return s;
}

absl::StatusOr<base::UniqueFd> ConnectControl(const std::string& dir) {
  auto a = AddressOf(dir);
  if (!a.ok()) return a.status();
  base::UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s.valid()) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&a->addr), sizeof(a->addr)) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return absl::NotFoundError("the sandbox is not running");
    return absl::ErrnoToStatus(errno, fmt::format("connect {}/ctl", dir));
  }
  return s;
}

absl::Status SendControl(int sock, const nlohmann::json& msg, std::span<const int> fds) {
  const std::string text = msg.dump();
  if (text.size() > kMaxControlMessage || fds.size() > kMaxControlFds) return absl::InvalidArgumentError("control message too big");
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(kMaxControlFds * sizeof(int))] = {};
  if (!fds.empty()) {
    mh.msg_control = cbuf;
    mh.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  while (::sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "sendmsg (control)");
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> RecvControl(int sock, std::vector<base::UniqueFd>* fds) {
  std::string buf(kMaxControlMessage, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(kMaxControlFds * sizeof(int))] = {};
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof(cbuf);
  ssize_t n;
  while ((n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "recvmsg (control)");
  }
  // Take ownership of every donated fd first, so none leaks on an error.
  std::vector<base::UniqueFd> got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      got.emplace_back(fd);
    }
  }
  if (n == 0) return absl::UnavailableError("control connection closed");
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return absl::InvalidArgumentError("control message truncated");
  buf.resize(static_cast<size_t>(n));
  nlohmann::json j = nlohmann::json::parse(buf, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("control message is not a JSON object");
  if (fds != nullptr) *fds = std::move(got);
  return j;
}

void StartControlServer(sentry::kernel::Kernel& k, std::shared_ptr<fs::HostPoller> poller, base::UniqueFd listener) {
  std::thread([&k, poller = std::move(poller), l = std::move(listener)] {
    while (true) {
      base::UniqueFd conn(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        logging::Warn("control: accept4: {}", strerror(errno));
        return;
      }
      // exec replies when its process exits: one thread per connection.
      std::thread(Serve, std::ref(k), poller, std::make_shared<base::UniqueFd>(std::move(conn))).detach();
    }
  }).detach();
}

}  // namespace runsc
