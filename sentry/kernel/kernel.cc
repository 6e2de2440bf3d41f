#include "sentry/kernel/kernel.h"

#include <sys/random.h>
#include <sys/resource.h>

#include <thread>

#include "base/logging.h"
#include "fs/vfs.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread.h"
#include "sentry/loader/loader.h"

namespace sentry::kernel {

Kernel::Kernel(KernelConfig config, std::unique_ptr<mm::MemoryFile> mf, std::unique_ptr<platform::Platform> p,
               std::shared_ptr<fs::Vfs> vfs)
    : config_(std::move(config)),
      mf_(std::move(mf)),
      ipc_(std::make_unique<ipc::IpcNamespace>(*mf_)),
      platform_(std::move(p)),
      vfs_(std::move(vfs)),
      boot_time_(absl::Now()) {
  auto v = vdso::Vdso::Create(*mf_);
  if (v.ok()) {
    vdso_ = std::move(v).value();
  } else {
    logging::Warn("vdso: cannot allocate its parameter page: {}; running without a vDSO", base::ErrnoName(v.error()));
  }
}

Kernel::~Kernel() = default;

namespace {
// The current task's UTS namespace's name for `key`, if it has its own
// namespace and key is a UTS name.
std::string* UtsField(UtsNamespace& ns, std::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns.mu) {
  if (key == "kernel/hostname") return &ns.hostname;
  if (key == "kernel/domainname") return &ns.domainname;
  return nullptr;
}
}  // namespace

ipc::IpcNamespace& Kernel::ipc() {
  Task* t = Task::Current();
  if (t != nullptr && t->ipc_ns != nullptr) return *t->ipc_ns;
  return *ipc_;
}

std::shared_ptr<ipc::IpcNamespace> Kernel::NewIpcNamespace() { return std::make_shared<ipc::IpcNamespace>(*mf_); }

std::string Kernel::Sysctl(std::string_view key, std::string_view dflt) const {
  if (Task* t = Task::Current(); t != nullptr && t->uts_ns != nullptr) {
    absl::MutexLock l(&t->uts_ns->mu);
    if (std::string* f = UtsField(*t->uts_ns, key)) return *f;
  }
  absl::MutexLock l(&sysctl_mu_);
  auto it = sysctls_.find(absl::string_view(key.data(), key.size()));
  return it != sysctls_.end() ? it->second : std::string(dflt);
}

void Kernel::SetSysctl(std::string_view key, std::string value) {
  if (Task* t = Task::Current(); t != nullptr && t->uts_ns != nullptr) {
    absl::MutexLock l(&t->uts_ns->mu);
    if (std::string* f = UtsField(*t->uts_ns, key)) {
      *f = std::move(value);
      return;
    }
  }
  absl::MutexLock l(&sysctl_mu_);
  sysctls_[std::string(key)] = std::move(value);
}

int32_t Kernel::AllocateTid() {
  absl::MutexLock l(&mu_);
  return next_tid_++;
}

base::Result<void> Kernel::ReserveTask() {
  absl::MutexLock l(&mu_);
  if (config_.max_tasks != 0 && live_tasks_ >= config_.max_tasks) return base::Errno::kEAGAIN;
  ++live_tasks_;
  return {};
}

void Kernel::ReleaseTask() {
  absl::MutexLock l(&mu_);
  if (live_tasks_ > 0) --live_tasks_;
}

namespace {

// Linux's defaults for a new init (include/asm-generic/resource.h), with
// NOFILE as most distributions set it.
void DefaultRlimits(ThreadGroup& tg, uint64_t max_fds) {
  constexpr uint64_t kInf = RLIM_INFINITY;
  absl::MutexLock l(&tg.mu);
  for (auto& r : tg.rlimits) r = {kInf, kInf};
  tg.rlimits[RLIMIT_STACK] = {8ull << 20, kInf};
  tg.rlimits[RLIMIT_CORE] = {0, kInf};
  tg.rlimits[RLIMIT_NOFILE] = {1024, 524288};
  if (max_fds != 0) tg.rlimits[RLIMIT_NOFILE] = {max_fds, max_fds};
  tg.rlimits[RLIMIT_NPROC] = {63704, 63704};
  tg.rlimits[RLIMIT_MEMLOCK] = {8ull << 20, 8ull << 20};
  tg.rlimits[RLIMIT_SIGPENDING] = {63704, 63704};
  tg.rlimits[RLIMIT_MSGQUEUE] = {819200, 819200};
  tg.rlimits[RLIMIT_NICE] = {0, 0};
  tg.rlimits[RLIMIT_RTPRIO] = {0, 0};
}

}  // namespace

base::Result<void> Kernel::Exec(Task& t, const std::string& path, std::vector<std::string> argv,
                                std::vector<std::string> envp, std::string* why, const PreOpened* file) {
  // The new image's address space may take over the old one's host
  // resources (ptrace: the stub process) once the old memory is released
  // below, if this thread drives it and nobody else holds it.
  platform::AddressSpace* old_as = t.mm_ptr() != nullptr ? t.mm().address_space() : nullptr;
  auto as = TRY(old_as != nullptr ? platform_->NewReplacementAddressSpace(*old_as) : platform_->NewAddressSpace());
  auto mm = std::make_shared<mm::MemoryManager>(*mf_, std::move(as));
  std::string cmdline;
  for (const auto& a : argv) {
    cmdline += a;
    cmdline += '\0';
  }
  std::string environ;
  for (const auto& e : envp) {
    environ += e;
    environ += '\0';
  }
  loader::LoadArgs args;
  args.path = path;
  args.path_inaccessible = file != nullptr && file->path_inaccessible;
  args.argv = std::move(argv);
  args.envp = std::move(envp);
  args.uid = t.creds().ruid;
  args.euid = t.creds().euid;
  args.gid = t.creds().rgid;
  args.egid = t.creds().egid;
  if (::getrandom(args.random.data(), args.random.size(), 0) != static_cast<ssize_t>(args.random.size())) {
    return base::Errno::kEAGAIN;
  }
  if (vdso_ != nullptr) args.sysinfo_ehdr = TRY(vdso_->Map(*mm));
  const Credentials creds = t.creds();
  fs::FsContext& fsctx = t.fs();
  bool first_open = true;
  loader::Opener open = [&](std::string_view p) -> base::Result<loader::ExecFile> {
    // The loader opens the program first, then interpreters by name.
    if (std::exchange(first_open, false) && file != nullptr) return loader::ExecFile{file->file, file->abs_path};
    auto [opened, abs] = TRY(vfs_->OpenForExec(fsctx, p, creds));
    return loader::ExecFile{std::move(opened), std::move(abs)};
  };
  loader::LoadResult lr = TRY(loader::Load(*mm, open, args, why));

  // fs/exec.c begin_new_exec(): first the other threads go (de_thread);
  // this one takes the leader's tid.
  const bool from_non_leader = t.tid() != t.pid();
  if (NeedsDeThread(t)) {
    if (!StartDeThread(t)) return base::Errno::kEAGAIN;  // a group exit is under way
    if (!WaitDeThread(t)) return base::Errno::kEINTR;    // SIGKILLed: the caller dies
  }
  // Point of no return. exec_mm_release(): the old memory's robust list and
  // clear_child_tid are done with (futex_exec_release, mm_release).
  ExecReleaseMm(t);
  {
    // /proc readers (GetProcessInfo) copy the pointer under signal_mu; the
    // old memory is released after the lock.
    // After an exec from a non-leader thread the old address space was driven
    // by the leader's (now gone) thread, and this task's platform context is
    // bound to it until its next Switch: the old memory is kept until then so
    // that it is released on this thread once nothing here is bound to it
    // (Task::retired_mm).
    std::shared_ptr<mm::MemoryManager> old = t.mm_ptr();
    if (from_non_leader) t.retired_mm = old;
    absl::MutexLock l(&t.thread_group().signal_mu);
    t.SetMm(std::move(mm));
  }
  {
    // set_mm_exe_file() and the new mm's arg/env ranges: in place before
    // close-on-exec, which another process may observe (a CLOEXEC pipe's
    // EOF) and then read /proc/<pid>/exe or cmdline.
    absl::MutexLock l(&mu_);
    t.thread_group().exe_path = lr.exe_path;
    t.thread_group().exe_file = lr.exe_file != nullptr ? fs::ExecTarget(*lr.exe_file) : std::nullopt;
    t.thread_group().cmdline = std::move(cmdline);
    t.thread_group().environ = std::move(environ);
  }
  // unshare_files(): a table shared with another process is copied first.
  if (t.fds_ptr().use_count() > 2) t.SetFds(std::shared_ptr<FdTable>(t.fds().Fork()));
  t.fds().CloseOnExec();
  t.thread_group().posix_timers.DeleteAll();  // exit_itimers() in begin_new_exec
  // Capabilities across execve (security/commoncap.c). Set-user-ID bits are
  // not honored yet: files run with the caller's ids, as on a nosuid mount.
  t.SetCreds(t.creds().AfterExec());
  {
    // unshare_sighand() and flush_signal_handlers(t, 0): handlers go back to
    // SIG_DFL, SIG_IGN stays, flags, masks and restorers are cleared.
    auto sh = std::make_shared<SignalHandlers>();
    {
      auto& old = t.sighand();
      absl::MutexLock l(&old.mu);
      absl::MutexLock nl(&sh->mu);
      for (size_t i = 0; i < sh->actions.size(); ++i) {
        sh->actions[i] = KSigaction{};
        if (old.actions[i].handler == 1 /* SIG_IGN */) sh->actions[i].handler = 1;
      }
    }
    std::shared_ptr<SignalHandlers> old = t.sighand_ptr();
    absl::MutexLock l(&t.thread_group().signal_mu);
    t.SetSighand(std::move(sh));
  }
  t.altstack_sp = 0;
  t.altstack_size = 0;
  t.altstack_flags = 2;  // SS_DISABLE
  t.thread_group().dumpable = 1;  // begin_new_exec(): SUID_DUMP_USER
  // begin_new_exec(): kbasename(bprm->filename), the path as passed
  // ("sh" for /bin/sh -> dash), not the file finally loaded.
  t.SetComm(file != nullptr && !file->comm.empty() ? file->comm : path.substr(path.rfind('/') + 1));
  // start_thread() in arch/x86/kernel/process_64.c.
  user_regs_struct& r = t.regs().regs;
  r = user_regs_struct{};
  r.rip = lr.entry;
  r.rsp = lr.stack_pointer;
  r.cs = 0x33;
  r.ss = 0x2b;
  r.eflags = 0x202;
  r.orig_rax = ~0ull;
  return {};
}

base::Result<std::unique_ptr<Task>> Kernel::NewProcessTask(const ExecSpec& spec, int32_t pid, std::string* why) {
  auto tg = std::make_shared<ThreadGroup>();
  tg->pid = pid;
  tg->pgid = tg->pid;
  tg->sid = tg->pid;
  tg->container = spec.container;
  DefaultRlimits(*tg, config_.max_fds);
  if (spec.oom_score_adj.has_value()) {
    tg->oom_score_adj = *spec.oom_score_adj;
    tg->oom_score_adj_min = *spec.oom_score_adj;
  }
  {
    absl::MutexLock l(&tg->mu);
    for (const ExecSpec::Rlimit& r : spec.rlimits) {
      if (r.resource >= 0 && static_cast<size_t>(r.resource) < tg->rlimits.size()) {
        tg->rlimits[r.resource] = {r.soft, r.hard};
      }
    }
  }
  auto task = std::make_unique<Task>(*this, tg, tg->pid);
  task->SetCreds(spec.creds.has_value() ? *spec.creds : Credentials::ForUser(spec.uid, spec.gid, spec.groups));
  task->no_new_privs = spec.no_new_privs;
  // OCI linux.seccomp: installed as by runc, after the credentials and
  // no_new_privs and before the execve (which it then outlives).
  if (spec.seccomp != nullptr) task->SetSeccomp(kSeccompModeFilter, spec.seccomp);
  if (spec.on_start) spec.on_start(pid);
  task->SetFds(spec.fds != nullptr ? spec.fds : std::make_shared<FdTable>());
  task->fds().set_locks(vfs_->locks_ptr());  // POSIX record locks are owned by the table
  auto fsctx = spec.root.has_value() ? vfs_->NewFsContextAt(*spec.root, spec.cwd) : vfs_->NewFsContext(spec.cwd);
  if (!fsctx.ok()) {
    *why = fmt::format("cannot use working directory \"{}\": {}", spec.cwd, base::ErrnoText(fsctx.error()));
    return fsctx.error();
  }
  if (spec.umask.has_value()) (void)fsctx.value()->SwapUmask(*spec.umask);
  task->SetFs(std::move(fsctx).value());
  auto ctx = platform_->NewContext();
  if (!ctx.ok()) {
    *why = fmt::format("platform context: {}", base::ErrnoText(ctx.error()));
    return ctx.error();
  }
  task->SetContext(std::move(ctx).value());

  std::string path = spec.path;
  if (path.find('/') == std::string::npos) {
    std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& e : spec.envp) {
      if (e.rfind("PATH=", 0) == 0) path_env = e.substr(5);
    }
    auto found = vfs_->LookPath(task->fs(), path, path_env);
    if (!found.ok()) {
      *why = fmt::format("executable file not found in $PATH: \"{}\"", path);
      return found.error();
    }
    path = std::move(found).value();
  }
  std::string exec_why;
  auto r = Exec(*task, path, spec.argv, spec.envp, &exec_why);
  if (!r.ok()) {
    *why = fmt::format("cannot execute \"{}\": {}{}{}", spec.path, base::ErrnoText(r.error()),
                       exec_why.empty() ? "" : ": ", exec_why);
    return r.error();
  }
  return task;
}

base::Result<int> Kernel::Run(const ExecSpec& spec, std::string* why) {
  base::Result<int> result = base::Errno::kENOSYS;
  bool started = false;
  // The task's own thread creates its address space and drives it
  // (platform/platform.h threading rule).
  std::thread th([&] {
    (void)ReserveTask();  // pid 1 counts; the limit is at least 1 in practice
    auto task = NewProcessTask(spec, AllocateTid(), why);
    if (!task.ok()) {
      result = task.error();
      return;
    }
    {
      absl::MutexLock l(&mu_);
      init_ = task.value().get();
      init_tg_ = &task.value()->thread_group();
      // The init of the sandbox's pid namespace (SIGNAL_UNKILLABLE).
      init_tg_->unkillable.store(true);
      ++live_threads_;
      RegisterProcessLocked(task.value()->thread_group_ptr(), task.value().get(), nullptr);
    }
    started = true;
    if (spec.before_run) spec.before_run(task.value()->pid());
    TaskMain(std::move(task).value());
  });
  th.join();
  if (!started) return result;
  // Every other task was sent SIGKILL when pid 1 died; wait for their threads.
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &live_threads_));
  }
  std::vector<std::thread> rest;
  {
    absl::MutexLock l(&mu_);
    for (auto& [tid, t] : threads_) rest.push_back(std::move(t));
    threads_.clear();
    finished_threads_.clear();
  }
  for (auto& t : rest) {
    if (t.joinable()) t.join();
  }
  // Every address space is gone: nothing may remain allocated but the
  // vDSO's parameter page and tmpfs/memfd file data, which lives on with the
  // filesystems (a leak of copy-on-write references would show).
  const uint64_t kept = (vdso_ != nullptr ? mm::kPageSize : 0) + mf_->file_data();
  if (const uint64_t left = mf_->allocated() - kept; left != 0) {
    logging::Warn("kernel: {} bytes of the memory file still allocated after the last task", left);
  }
  absl::MutexLock l(&mu_);
  return init_status_;
}

void Kernel::SignalInit(int signo) {
  absl::MutexLock l(&mu_);
  // A process-directed signal from outside the sandbox (SI_KERNEL, as from
  // pid 0 of the init's namespace).
  if (init_tg_ != nullptr) SendGroupSignalLocked(*init_tg_, KernelSignalInfo(signo));
}

}  // namespace sentry::kernel
