// `runsc boot`: the sentry. Builds the kernel from the pieces (memory file,
// platform, gofer connection, VFS, stdio) and runs the app.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "base/unique_fd.h"
#include "fs/devpts.h"
#include "fs/host_file.h"
#include "fs/tty_console.h"
#include "fs/vfs.h"
#include "gofer/client.h"
#include "platform/platform.h"
#include "runsc/commands.h"
#include "runsc/control.h"
#include "runsc/sandbox.h"
#include "runsc/seccomp_filter.h"
#include "runsc/spawn.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_file.h"

namespace runsc {
namespace {

// SIGWINCH from the host terminal resizes the sandbox's console.
constexpr int kConsoleResize = SIGWINCH;

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// The console: a pty of the sandbox's devpts whose replica replaces every
// stdio fd that is the host terminal on fd 0, with pid 1's session (sid 1,
// the first process's) as its controlling session, as runc's console is.
base::Result<std::unique_ptr<fs::TtyConsole>> SetUpConsole(sentry::kernel::Kernel& kernel, fs::Vfs& vfs,
                                                           sentry::kernel::FdTable& fds) {
  struct stat host_tty {};
  if (fstat(0, &host_tty) != 0 || !S_ISCHR(host_tty.st_mode)) return base::Errno::kENOTTY;
  static const sentry::kernel::Credentials root{};
  const fs::Caller caller{.creds = &root, .kernel = &kernel};
  std::shared_ptr<fs::FsContext> ctx = TRY(vfs.NewFsContext("/"));
  std::shared_ptr<fs::FileDescription> master = TRY(vfs.Open(caller, *ctx, vfs.root(), "/dev/ptmx", O_RDWR | O_NOCTTY, 0));
  fs::Tty* tty = fs::TtyOfFile(*master);
  if (tty == nullptr) return base::Errno::kENOTTY;
  tty->set_locked(false);
  std::shared_ptr<fs::FileDescription> replica =
      TRY(vfs.Open(caller, *ctx, vfs.root(), fmt::format("/dev/pts/{}", tty->index()), O_RDWR | O_NOCTTY, 0));
  tty->SetSession(1, 1);
  int out_fd = -1;
  for (int fd : {0, 1, 2}) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != host_tty.st_rdev) continue;
    (void)fds.InstallAt(fd, replica, false);
    const int acc = fcntl(fd, F_GETFL) & O_ACCMODE;
    if (out_fd < 0 && (acc == O_WRONLY || acc == O_RDWR)) out_fd = fd;
  }
  base::UniqueFd in(fcntl(0, F_DUPFD_CLOEXEC, 3));
  base::UniqueFd out(fcntl(out_fd >= 0 ? out_fd : 0, F_DUPFD_CLOEXEC, 3));
  if (!in.valid() || !out.valid()) return base::FromHost(errno);
  return fs::TtyConsole::Start(std::move(master), std::move(in), std::move(out));
}

int Fail(std::string_view what) {
  fmt::print(stderr, "runsc: {}\n", what);
  logging::Error("{}", what);
  return 1;
}

}  // namespace

int Boot(const Config& c, const BootOptions& o) {
  // abseil's lock-order (deadlock) detection serialises every Mutex
  // acquisition through one global graph lock: ~4% of the sentry's samples
  // on a stat loop. It is a debugging aid, so only --debug pays for it.
  absl::SetMutexDeadlockDetectionMode(c.debug ? absl::OnDeadlockCycle::kAbort : absl::OnDeadlockCycle::kIgnore);
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : kForwardedSignals) sigaddset(&fwd, s);
  sigaddset(&fwd, kConsoleResize);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);

  bool console = false;
  base::UniqueFd spec_fd(o.spec_fd), gofer_fd(o.gofer_fd), control_fd(o.control_fd), ready_fd(o.ready_fd);
  sentry::kernel::ExecSpec spec;
  fs::VfsOptions vfs_opts;
  std::string hostname;
  std::map<std::string, std::string> sysctls;
  std::vector<base::UniqueFd> mount_fds;  // owned until connected below
  try {
    const auto j = nlohmann::json::parse(ReadAll(spec_fd.get()));
    spec.path = j.at("path").get<std::string>();
    spec.argv = j.at("argv").get<std::vector<std::string>>();
    spec.envp = j.at("env").get<std::vector<std::string>>();
    spec.cwd = j.at("cwd").get<std::string>();
    (void)j.at("uid").get<uint32_t>();  // required
    CredsFromJson(j, spec);
    if (j.contains("umask")) spec.umask = j.at("umask").get<uint32_t>();
    for (const auto& r : j.value("rlimits", nlohmann::json::array())) {
      spec.rlimits.push_back({r.at(0).get<int>(), r.at(1).get<uint64_t>(), r.at(2).get<uint64_t>()});
    }
    hostname = j.value("hostname", "");
    sysctls = j.value("sysctl", std::map<std::string, std::string>{});  // OCI linux.sysctl
    vfs_opts.overlay_root = !j.value("root_readonly", false);
    if (RootfsWritableThroughGofer(c)) {  // --overlay2=none
      vfs_opts.root_writable = vfs_opts.overlay_root;
      vfs_opts.overlay_root = false;
    }
    for (const auto& m : j.value("mounts", nlohmann::json::array())) {
      if (m.value("type", "") == "devpts") {  // options of the sandbox's /dev/pts
        auto parsed = fs::DevptsOptions::Parse(m.value("data", ""));
        if (!parsed.ok()) return Fail(fmt::format("boot: devpts options \"{}\": invalid", m.value("data", "")));
        vfs_opts.devpts = parsed.value();
        continue;
      }
      fs::VfsOptions::ExtraMount em;
      em.destination = m.at("destination").get<std::string>();
      em.type = m.at("type").get<std::string>();
      em.read_only = m.value("ro", false);
      em.noexec = m.value("noexec", false);
      em.mode = m.value("mode", 01777u);
      em.file = m.value("file", false);
      mount_fds.emplace_back(m.value("fd", -1));
      vfs_opts.mounts.push_back(std::move(em));
    }
    console = j.value("console", false);
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("boot: bad spec from runsc do: {}", e.what()));
  }
  spec_fd.Reset();

  // Where a --debug seccomp violation is reported, besides stderr (opened
  // before the pivot; kept for the life of the process).
  const std::string& log_path = !c.debug_log.empty() ? c.debug_log : c.log;
  const int report_fd =
      c.debug && !log_path.empty() ? ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
  // Confinement, first part (docs/security.md): from here on the sentry can
  // name no host path, holds no capability, and can never gain privileges.
  // Capabilities are per thread: this must happen before any thread starts.
  // runsc do passes the defaults as flags (from the host's pid namespace);
  // this is the fallback for a boot started otherwise.
  const sandbox::ResourceDefaults defaults = sandbox::HostResourceDefaults();  // reads /proc
  if (auto s = sandbox::PivotToEmptyRoot(); !s.ok()) {
    return Fail(fmt::format("boot: pivoting to an empty root: {}", s.ToString()));
  }
  if (auto s = sandbox::DropCapabilities({}); !s.ok()) {
    return Fail(fmt::format("boot: dropping capabilities: {}", s.ToString()));
  }
  if (auto s = sandbox::SetNoNewPrivs(); !s.ok()) return Fail(fmt::format("boot: {}", s.ToString()));

  sentry::kernel::KernelConfig kc;
  kc.strace = c.strace;
  if (!hostname.empty()) kc.hostname = hostname;
  kc.memory_file_capacity = c.total_memory != 0 ? c.total_memory : defaults.total_memory;
  kc.max_tasks = c.max_tasks != 0 ? c.max_tasks : defaults.max_tasks;
  logging::Debug("boot: limits: {} tasks{}, {} MiB of memory{}", kc.max_tasks, c.max_tasks != 0 ? "" : " (default)",
                 kc.memory_file_capacity >> 20, c.total_memory != 0 ? "" : " (default)");
  kc.max_fds = c.max_fds;
  // 64 TiB of offsets (half the app's 128 TiB address space; less if the
  // host cannot map that much): lazily committed reservations
  // (MAP_NORESERVE, big heaps, thread stacks) take offsets, and only
  // touched pages count against --total-memory.
  auto mf = sentry::mm::MemoryFile::Create(kc.memory_file_capacity, sentry::mm::kMemoryFileOffsetSpace);
  if (!mf.ok()) return Fail(fmt::format("creating the memory file: {}", base::ErrnoText(mf.error())));
  std::string why;
  auto plat = platform::New(c.platform, mf.value()->fd(), &why);
  if (!plat.ok()) return Fail(why.empty() ? std::string(base::ErrnoText(plat.error())) : why);
  // Confinement, second part: the host syscall allowlist, for every thread,
  // before the sentry touches app data (the image's files through the
  // gofer, the app's binary) and before any app code runs. The platform
  // comes first: its stub factory is forked outside this filter.
  if (c.seccomp) {
    const auto policy = seccomp::SentryPolicy({.memory_fd = mf.value()->fd()});
    const auto mode = c.debug ? seccomp::OnViolation::kTrapAndLog : seccomp::OnViolation::kKillProcess;
    if (auto s = seccomp::Install(policy, mode, report_fd); !s.ok()) {
      fmt::print(stderr, "runsc: boot: installing the seccomp filter: {}\n", s.ToString());
      _exit(1);
    }
  } else {
    logging::Warn("boot: --seccomp=false: the sentry runs without a host syscall filter (weaker isolation)");
  }
  // tests/security checks that this line follows the filter's in the log.
  logging::Debug("boot: connecting to the gofer (first contact with app data)");
  auto client = gofer::Client::Connect(std::move(gofer_fd));
  if (!client.ok()) return Fail(fmt::format("connecting to the gofer: {}", base::ErrnoText(client.error())));
  for (size_t i = 0; i < mount_fds.size(); ++i) {
    if (!mount_fds[i].valid()) continue;
    auto mc = gofer::Client::Connect(std::move(mount_fds[i]));
    if (!mc.ok()) {
      return Fail(fmt::format("connecting to the gofer of {}: {}", vfs_opts.mounts[i].destination,
                              base::ErrnoText(mc.error())));
    }
    vfs_opts.mounts[i].client = std::move(mc).value();
  }
  vfs_opts.memory_file = mf.value().get();
  auto vfs = fs::Vfs::Create(std::move(client).value(), vfs_opts);
  if (!vfs.ok()) return Fail(fmt::format("mounting the root filesystem: {}", base::ErrnoText(vfs.error())));
  const std::shared_ptr<fs::Vfs> vfs_ref = vfs.value();

  // stdio: the host fds runsc do was given, donated to the sandbox as host
  // files; the sentry does its own I/O on them.
  spec.fds = std::make_shared<sentry::kernel::FdTable>(c.max_fds != 0 ? c.max_fds : 1024);
  // A write to a host pipe whose reader left must fail with EPIPE (the app
  // gets its SIGPIPE from the sentry), not kill the sentry.
  signal(SIGPIPE, SIG_IGN);
  auto poller = fs::HostPoller::Create();
  if (!poller.ok()) return Fail(fmt::format("host fd poller: {}", base::ErrnoText(poller.error())));
  for (int fd = 0; fd <= 2; ++fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0) continue;  // closed in the caller: closed in the app too
    base::UniqueFd dup(fcntl(fd, F_DUPFD_CLOEXEC, 3));
    if (!dup.valid()) return Fail(fmt::format("dup of stdio fd {}: {}", fd, strerror(errno)));
    (void)spec.fds->InstallAt(fd, fs::NewHostFile(std::move(dup), flags, poller.value()), false);
  }

  sentry::kernel::Kernel kernel(kc, std::move(mf).value(), std::move(plat).value(), std::move(vfs).value());
  for (const auto& [key, value] : sysctls) kernel.SetSysctl(key, value);
  if (control_fd.valid()) StartControlServer(kernel, poller.value(), std::move(control_fd));
  // A host terminal on stdin (runsc do put it in raw mode): the app's
  // terminal is the sandbox's own /dev/pts/0, bridged to it.
  std::unique_ptr<fs::TtyConsole> tty_console;
  if (console) {
    auto made = SetUpConsole(kernel, *vfs_ref, *spec.fds);
    if (!made.ok()) return Fail(fmt::format("console: {}", base::ErrnoText(made.error())));
    tty_console = std::move(made).value();
  }
  std::thread forwarder([&kernel, &tty_console, fwd] {
    while (true) {
      int sig = 0;
      if (sigwait(&fwd, &sig) != 0) continue;
      if (sig == kConsoleResize) {
        if (tty_console != nullptr) tty_console->Resize();
        continue;
      }
      // A signal that comes before the first process exists (runsc kill
      // right after start) waits for it: runc's init exists from create
      // on, so engines expect it to be there.
      while (kernel.Pids().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      kernel.SignalInit(sig);
    }
  });
  forwarder.detach();  // lives until the process exits

  if (ready_fd.valid()) {
    // OCI create (runc's exec fifo): the first process is set up (mounts,
    // credentials, sysctls, its image exec'd) and holds before its first
    // instruction; `runsc create` returns once we say so, and control op
    // "start" lets it run.
    HoldForStart("");
    spec.before_run = [&ready_fd](int32_t) {
      if (::write(ready_fd.get(), "r", 1) != 1) logging::Warn("boot: telling create we are ready: {}", strerror(errno));
      ready_fd.Reset();
      WaitForStart("");
    };
  }
  auto status = kernel.Run(spec, &why);
  if (!status.ok()) {
    fmt::print(stderr, "runsc: {}\n", why);
    logging::Warn("{}", why);
    const base::Errno e = status.error();
    // Like a shell: 127 for "not found", 126 for "found but cannot run".
    _exit(e == base::Errno::kENOENT || e == base::Errno::kENOTDIR ? 127 : 126);
  }
  // Stores made through shared mappings of writable gofer files that no
  // unmap wrote back yet (a task's address space may outlive it).
  if (base::Result<void> r = vfs_ref->SyncAll(); !r.ok()) {
    logging::Warn("boot: writing back shared mappings at exit: {}", base::ErrnoText(r.error()));
  }
    if (tty_console != nullptr) tty_console->Finish();  // the app's last output
  // _exit: the forwarder thread and task threads may still be parked.
  _exit(ExitCodeOf(status.value()));
}

}  // namespace runsc
