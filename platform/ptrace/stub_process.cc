#include "platform/ptrace/stub_process.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/prctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/prctl.h>

#include <elf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/logging.h"

namespace platform::ptrace {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int64_t MonotonicNowNs() { return NowNs(); }

Result<int> WaitStop(pid_t tid, const WaitPolicy& policy, struct rusage* ru, int64_t* overlap_ns,
                     int64_t resumed_ns) {
  int status = 0;
  auto overlapped_until = [&](int64_t now) {
    if (overlap_ns != nullptr) *overlap_ns += std::max<int64_t>(0, now - resumed_ns);
  };
  if (policy.spin_ns > 0) {
    // A stop on another CPU is often only microseconds away; polling avoids
    // the tracer's own sleep/wakeup (see README.md for numbers).
    int64_t now = NowNs();
    const int64_t deadline = now + policy.spin_ns;
    do {
      const pid_t r = wait4(tid, &status, __WALL | WNOHANG, ru);
      if (r == tid) {
        overlapped_until(NowNs());
        return status;
      }
      if (r < 0 && errno != EINTR) {
        const Errno e = base::FromHost(errno);
        logging::Warn("ptrace: wait4({}, WNOHANG) failed: {}", tid, base::ErrnoName(e));
        return e;
      }
      now = NowNs();
    } while (now < deadline);
    overlapped_until(now);
  } else if (overlap_ns != nullptr) {
    overlapped_until(NowNs());
  }
  for (;;) {
    const pid_t r = wait4(tid, &status, __WALL, ru);
    if (r == tid) return status;
    if (r < 0 && errno == EINTR) continue;
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: wait4({}) failed: {}", tid, base::ErrnoName(e));
    return e;
  }
}

Result<std::shared_ptr<StubProcess>> StubProcess::Create(StubFactory& factory, bool pin) {
  NewStub s = TRY(factory.Take(pin));
  // No make_shared: the constructor is private.
  std::shared_ptr<StubProcess> p(new StubProcess(s.pid, CurrentTid(), s.init_regs));
  {
    absl::MutexLock d(&p->dumpable_mu_);
    p->dumpable_ = true;  // the factory's stubs are, until seized
  }
  return p;
}

bool StubProcess::Recyclable() {
  if (reaped_ || main_.dead || !OnTracerThread()) return false;
  absl::MutexLock l(&mu_);
  return others_.empty() && unattached_ == 0;
}

Result<std::shared_ptr<StubProcess>> StubProcess::Recycle(StubProcess& old) {
  if (!old.Recyclable()) {
    old.Kill();
    return Errno::kESRCH;
  }
  std::shared_ptr<StubProcess> p(new StubProcess(old.pid_, old.tracer_, old.init_regs_));
  // The main thread sits in the old image's last stop (its execve): its
  // registers are set by the next injection or Switch.
  p->main_.regs_valid = false;
  p->main_.probe_broken = old.main_.probe_broken;
  {
    absl::MutexLock l(&old.usage_mu_);
    absl::MutexLock nl(&p->usage_mu_);
    p->taken_user_ns_ = old.taken_user_ns_;
    p->taken_sys_ns_ = old.taken_sys_ns_;
    p->taken_minflt_ = old.taken_minflt_;
    p->taken_majflt_ = old.taken_majflt_;
    p->taken_nivcsw_ = old.taken_nivcsw_;
  }
  {
    absl::MutexLock d(&old.dumpable_mu_);
    absl::MutexLock nd(&p->dumpable_mu_);
    p->dumpable_ = old.dumpable_;
  }
  // From now on the process is p's: old's Kill and its Contexts' requests
  // (kESRCH) leave it alone.
  old.reaped_ = true;
  old.main_.dead = true;
  auto fail = [&](Errno e) -> Errno {
    p->Kill();
    return e;
  };
  if (auto r = p->ResetFpState(); !r.ok()) return fail(r.error());
  // InjectBatch writes the batch with process_vm_writev, which needs the
  // stub dumpable (Activate makes it non-dumpable again at the batch's end).
  {
    absl::MutexLock d(&p->dumpable_mu_);
    if (!p->dumpable_) {
      auto r = p->Inject(SYS_prctl, PR_SET_DUMPABLE, 1);
      if (!r.ok()) return fail(r.error());
      if (r.value() != 0) return fail(Errno::kEIO);
      p->dumpable_ = true;
    }
  }
  return p;
}

Result<void> StubProcess::ResetFpState() {
  // The kernel wants exactly its XSAVE size: learn it from the current
  // state, then write the init state in that size (XSTATE_BV 0: every
  // component in its init state; x87 control word and MXCSR as execve
  // leaves them).
  auto fp = std::make_unique<FpState>();
  iovec iov{fp->bytes, sizeof(fp->bytes)};
  if (::ptrace(PTRACE_GETREGSET, main_.tid, NT_X86_XSTATE, &iov) != 0) return base::FromHost(errno);
  const size_t size = iov.iov_len;
  std::memset(fp->bytes, 0, sizeof(fp->bytes));
  const uint16_t fcw = 0x37f;
  const uint32_t mxcsr = 0x1f80;
  std::memcpy(fp->bytes + 0, &fcw, sizeof(fcw));
  std::memcpy(fp->bytes + 24, &mxcsr, sizeof(mxcsr));
  iov = {fp->bytes, size};
  if (::ptrace(PTRACE_SETREGSET, main_.tid, NT_X86_XSTATE, &iov) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: resetting the FP state of stub {} failed: {}", pid_, base::ErrnoName(e));
    return e;
  }
  return {};
}

StubProcess::StubProcess(pid_t pid, pid_t tracer, const user_regs_struct& init_regs)
    : pid_(pid), tracer_(tracer), init_regs_(init_regs) {
  main_.tid = pid;
  main_.tracer = tracer;
  // The stub sits at its SIGSTOP with exactly these registers.
  main_.regs = init_regs;
  main_.regs_valid = true;
}

StubProcess::~StubProcess() { Kill(); }

AppUsage StubProcess::TakeUsage(StubThread& t, const struct rusage& ru, int64_t cpu_room_ns,
                                const ThreadCpu* exact) {
  auto ns = [](const timeval& tv) { return static_cast<int64_t>(tv.tv_sec) * 1000000000 + tv.tv_usec * 1000; };
  auto grow = [](uint64_t now, uint64_t& taken) {
    const uint64_t d = now > taken ? now - taken : 0;
    taken = std::max(taken, now);
    return d;
  };
  AppUsage u;
  u.maxrss_kb = static_cast<uint64_t>(std::max<long>(ru.ru_maxrss, 0));
  if (exact != nullptr) {
    // What t used beyond its credit, split as the host split t's own time.
    const int64_t d = std::max<int64_t>(0, exact->user_ns + exact->sys_ns - t.credited_user_ns - t.credited_sys_ns);
    u.sys_ns = std::clamp<int64_t>(exact->sys_ns - t.credited_sys_ns, 0, d);
    u.user_ns = d - u.sys_ns;
  }
  absl::MutexLock l(&usage_mu_);
  if (exact == nullptr && cpu_room_ns >= 0) {
    // The host's user/system split (cputime_adjust) is monotonic per process.
    u.user_ns = std::clamp<int64_t>(ns(ru.ru_utime) - taken_user_ns_, 0, cpu_room_ns);
    u.sys_ns = std::clamp<int64_t>(ns(ru.ru_stime) - taken_sys_ns_, 0, cpu_room_ns - u.user_ns);
  }
  taken_user_ns_ += u.user_ns;
  taken_sys_ns_ += u.sys_ns;
  t.credited_user_ns += u.user_ns;
  t.credited_sys_ns += u.sys_ns;
  u.minflt = grow(static_cast<uint64_t>(ru.ru_minflt), taken_minflt_);
  u.majflt = grow(static_cast<uint64_t>(ru.ru_majflt), taken_majflt_);
  u.nivcsw = grow(static_cast<uint64_t>(ru.ru_nivcsw), taken_nivcsw_);
  return u;
}

uint64_t StubProcess::EnterApp() {
  const uint64_t old = app_state_.fetch_add((uint64_t{1} << kRunShift) + 1);
  const uint64_t run = (old >> kRunShift) + 1;
  const bool shared = (old & ((uint64_t{1} << kRunShift) - 1)) != 0;
  return run << 1 | (shared ? 1 : 0);
}

bool StubProcess::LeaveApp(uint64_t token) {
  const uint64_t old = app_state_.fetch_sub(1);
  // Shared if another thread was in app code when this one entered, or
  // entered since (the run count moved).
  return (token & 1) != 0 || (old >> kRunShift) != (token >> 1);
}

Result<ThreadCpu> StubProcess::MeasureCpu(StubThread& t) {
  // The bottom of t's own sigaltstack (the main thread's holds the batch
  // buffer there): no probe frame reaches it while t is stopped.
  const uint64_t buf =
      t.slot < 0 ? StubBatchBuffer() : StubEnd() + static_cast<uint64_t>(t.slot) * kThreadAltstackSize;
  user_regs_struct r = init_regs_;
  r.rip = StubSyscallLoadAddr();
  r.rax = SYS_getrusage;
  r.rdi = RUSAGE_THREAD;
  r.rsi = buf;
  const user_regs_struct out = TRY(Run(t, r, StubSyscallLoadTrapAddr()));
  if (out.rax != 0) {
    logging::Warn("ptrace: stub thread {}: injected getrusage failed: {}", t.tid,
                  base::ErrnoName(base::FromHost(static_cast<int>(-static_cast<int64_t>(out.rax)))));
    return Errno::kEIO;
  }
  // ru_utime and ru_stime: two timevals at the start of struct rusage.
  const auto w = [](uint64_t v) { return static_cast<int64_t>(v); };
  return ThreadCpu{.user_ns = w(out.rbx) * 1000000000 + w(out.rdx) * 1000,
                   .sys_ns = w(out.r8) * 1000000000 + w(out.r9) * 1000};
}

bool StubProcess::OnTracerThread() const { return CurrentTid() == tracer_; }

namespace {

// Stubs this thread killed and traces until it reaps them. A stub stays
// our zombie (its pid not reusable) until reaped here; if this thread
// ends first, the kernel detaches it and the factory, its parent, reaps
// it. So only the tracer thread may wait for these pids.
thread_local std::vector<pid_t> t_unreaped;

}  // namespace

void ReapKilledStubs(bool block) {
  std::erase_if(t_unreaped, [block](pid_t pid) {
    int status;
    pid_t r;
    do {
      r = waitpid(pid, &status, __WALL | (block ? 0 : WNOHANG));
    } while (block && r < 0 && errno == EINTR);
    return r == pid || (r < 0 && errno != EINTR);
  });
}

void StubProcess::Kill() {
  if (reaped_) return;  // The pid may already belong to someone else.
  if (OnTracerThread()) {
    // Dying takes the host a while (tearing down the address space); the
    // exiting task need not wait for it: reaped by a later Kill on this
    // thread, or by the factory once this thread is gone.
    reaped_ = true;
    main_.dead = true;
    if (::kill(pid_, SIGKILL) != 0 && errno != ESRCH) {
      logging::Warn("ptrace: kill({}, SIGKILL) failed: {}", pid_, base::ErrnoName(base::FromHost(errno)));
    }
    t_unreaped.push_back(pid_);
    ReapKilledStubs(/*block=*/false);
    return;
  }
  reaped_ = true;
  main_.dead = true;
  if (::kill(pid_, SIGKILL) != 0 && errno != ESRCH) {
    logging::Warn("ptrace: kill({}, SIGKILL) failed: {}", pid_, base::ErrnoName(base::FromHost(errno)));
  }
  // Bounded: from a thread that is not the tracer the wait can block for
  // good (seen with systrap stubs whose tracer thread had ended: a zombie
  // the factory reaps only at its next request). Unreaped, the pid stays
  // a zombie until the tracer thread ends or the factory reaps it.
  int status;
  for (int i = 0; i < 200; ++i) {
    const pid_t r = waitpid(pid_, &status, __WALL | WNOHANG);
    if (r == pid_) return;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      logging::Debug("ptrace: reaping stub {}: {}", pid_, base::ErrnoName(base::FromHost(errno)));
      return;
    }
    const timespec pause{0, 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  logging::Debug("ptrace: stub {} not reaped after 200 ms; left to its tracer or the factory", pid_);
}

void StubProcess::MarkDead(StubThread& t) {
  t.dead = true;
  if (&t == &main_) {
    // The wait that reported the leader's exit reaped the process. Kill what
    // may remain (other threads) through the tgid while it is still ours:
    // nothing, since a reaped leader means the whole group is gone.
    reaped_ = true;
  }
}

StubThread* StubProcess::Mine() {
  const pid_t me = CurrentTid();
  if (main_.tracer == me && !main_.dead) return &main_;
  absl::MutexLock l(&mu_);
  for (auto& t : others_) {
    if (t->attached && t->tracer == me && !t->dead) return t.get();
  }
  return nullptr;
}

Result<StubThread*> StubProcess::ClaimThread(const void* owner) {
  StubThread* t = nullptr;
  {
    absl::MutexLock l(&mu_);
    if (main_.owner == owner) return &main_;
    for (auto& o : others_) {
      if (o->owner == owner) t = o.get();
    }
    if (t == nullptr) {
      if (main_.owner == nullptr) {
        if (!OnTracerThread()) {
          logging::Warn("ptrace: stub {} switched to from thread {}, but its tracer is {}", pid_, CurrentTid(),
                        tracer_);
          return Errno::kEPERM;
        }
        main_.owner = owner;
        return &main_;
      }
      logging::Warn("ptrace: stub {}: a context without a stub thread (AddressSpace::AddContext first)", pid_);
      return Errno::kEAGAIN;
    }
    if (t->attached) {
      if (t->tracer != CurrentTid()) return Errno::kEPERM;
      return t;
    }
  }
  TRY(Attach(*t));
  {
    absl::MutexLock l(&mu_);
    t->attached = true;
    --unattached_;
  }
  // Non-dumpable again once nobody needs to attach (see CreateThread).
  (void)SyncDumpable();
  return t;
}

bool StubProcess::ClaimDumpableOff() {
  absl::MutexLock d(&dumpable_mu_);
  {
    absl::MutexLock l(&mu_);
    if (unattached_ > 0) return false;
  }
  if (!dumpable_) return false;
  dumpable_ = false;
  return true;
}

Result<void> StubProcess::SyncDumpable() {
  absl::MutexLock d(&dumpable_mu_);
  bool want;
  {
    absl::MutexLock l(&mu_);
    want = unattached_ > 0;
  }
  if (want == dumpable_) return {};
  auto r = Inject(SYS_prctl, PR_SET_DUMPABLE, want ? 1 : 0);
  if (!r.ok()) return r.error();
  if (r.value() != 0) return Errno::kEIO;
  dumpable_ = want;
  return {};
}

Result<void> StubProcess::Attach(StubThread& t) {
  // EXITKILL: if this sentry thread dies, the stub dies with it rather than
  // running app code untraced.
  if (::ptrace(PTRACE_SEIZE, t.tid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: PTRACE_SEIZE of stub thread {} failed: {}", t.tid, base::ErrnoName(e));
    return e;
  }
  if (::ptrace(PTRACE_INTERRUPT, t.tid, 0, 0) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: PTRACE_INTERRUPT of stub thread {} failed: {}", t.tid, base::ErrnoName(e));
    return e;
  }
  for (;;) {
    const int status = TRY(WaitStop(t.tid, WaitPolicy{}));
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      MarkDead(t);
      return Errno::kESRCH;
    }
    if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP) break;
    if (::ptrace(PTRACE_CONT, t.tid, 0, 0) != 0) return base::FromHost(errno);
  }
  t.tracer = CurrentTid();
  t.regs_valid = false;
  return {};
}

Result<void> StubProcess::CreateThread(const void* owner) {
  StubThread* me = Mine();
  if (me == nullptr) {
    logging::Warn("ptrace: stub {}: CreateThread from thread {}, which traces none of its threads", pid_,
                  CurrentTid());
    return Errno::kEPERM;
  }
  int slot = -1;
  {
    absl::MutexLock l(&mu_);
    const size_t max_slots = (kUserTop - StubEnd()) / kThreadAltstackSize;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i]) slot = static_cast<int>(i);
    }
    if (slot < 0) {
      if (slots_.size() >= max_slots) return Errno::kEAGAIN;
      slots_.push_back(false);
      slot = static_cast<int>(slots_.size() - 1);
    }
    slots_[static_cast<size_t>(slot)] = true;
    ++unattached_;
  }
  auto undo = [&] {
    {
      absl::MutexLock l(&mu_);
      slots_[static_cast<size_t>(slot)] = false;
      --unattached_;
    }
    (void)SyncDumpable();
  };
  // The stub is non-dumpable, and attaching to a non-dumpable process takes
  // CAP_SYS_PTRACE; it stays dumpable only until the new thread is seized.
  if (auto d = SyncDumpable(); !d.ok()) {
    undo();
    return d.error();
  }
  const uint64_t stack = StubEnd() + static_cast<uint64_t>(slot) * kThreadAltstackSize;
  auto m = Inject(SYS_mmap, stack, kThreadAltstackSize, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, ~0ull, 0);
  if (!m.ok() || m.value() != static_cast<int64_t>(stack)) {
    undo();
    return m.ok() ? Errno::kENOMEM : m.error();
  }
  user_regs_struct r = init_regs_;
  r.rip = StubCloneAddr();
  r.rax = SYS_clone;
  r.rdi = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  r.rsi = 0;  // same (unused) stack: the child touches no stack memory
  r.rdx = r.r10 = r.r8 = 0;
  r.r12 = stack;
  r.r13 = kThreadAltstackSize;
  auto res = Run(*me, r, StubCloneTrapAddr());
  if (!res.ok()) {
    undo();
    return res.error();
  }
  const auto tid = static_cast<int64_t>(res.value().rax);
  if (tid <= 0) {
    logging::Warn("ptrace: stub {}: injected clone failed: {}", pid_, base::ErrnoName(base::FromHost(-tid)));
    undo();
    return tid < 0 ? base::FromHost(static_cast<int>(-tid)) : Errno::kEIO;
  }
  auto t = std::make_unique<StubThread>();
  t->tid = static_cast<pid_t>(tid);
  t->owner = owner;
  t->attached = false;
  t->slot = slot;
  absl::MutexLock l(&mu_);
  others_.push_back(std::move(t));
  return {};
}

void StubProcess::ReleaseThread(const void* owner) {
  StubThread* t = nullptr;
  {
    absl::MutexLock l(&mu_);
    if (main_.owner == owner) {
      main_.owner = nullptr;
      return;
    }
    for (auto& o : others_) {
      if (o->owner == owner) t = o.get();
    }
    if (t == nullptr) return;
    if (!t->attached || t->tracer != CurrentTid()) {
      // Never seized (or released from a foreign thread): it stays parked
      // in pause() until the stub dies.
      t->owner = nullptr;
      return;
    }
  }
  if (!t->dead) {
    // exit(2) of just this host thread; the wait reaps it (ESRCH).
    user_regs_struct r = init_regs_;
    r.rip = StubSyscallAddr();
    r.rax = SYS_exit;
    r.rdi = 0;
    auto res = Run(*t, r, StubSyscallAddr() + 3);
    if (res.ok()) logging::Warn("ptrace: stub thread {} survived exit(2)", t->tid);
  }
  absl::MutexLock l(&mu_);
  if (t->dead) {
    if (t->slot >= 0) slots_[static_cast<size_t>(t->slot)] = false;
    others_.erase(std::remove_if(others_.begin(), others_.end(), [&](auto& o) { return o.get() == t; }),
                  others_.end());
  } else {
    t->owner = nullptr;
  }
}

Result<int64_t> StubProcess::Inject(int64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                    uint64_t a5, uint64_t a6) {
  StubThread* t = Mine();
  if (t == nullptr) {
    if (main_.dead) return Errno::kESRCH;
    logging::Warn("ptrace: stub {} used from thread {}, which traces none of its threads", pid_, CurrentTid());
    return Errno::kEPERM;
  }
  user_regs_struct r = init_regs_;
  r.rip = StubSyscallAddr();
  r.rax = static_cast<uint64_t>(nr);
  r.rdi = a1;
  r.rsi = a2;
  r.rdx = a3;
  r.r10 = a4;
  r.r8 = a5;
  r.r9 = a6;
  const user_regs_struct out = TRY(Run(*t, r, StubSyscallAddr() + 3));  // after `syscall; int3`
  return static_cast<int64_t>(out.rax);
}

Result<user_regs_struct> StubProcess::InjectCode(const user_regs_struct& r, uint64_t trap) {
  StubThread* t = Mine();
  if (t == nullptr) return main_.dead ? Errno::kESRCH : Errno::kEPERM;
  return Run(*t, r, trap);
}

Result<size_t> StubProcess::InjectBatch(const BatchEntry* entries, size_t n, int64_t* last) {
  if (n == 0 || n > kBatchMax) return Errno::kEINVAL;
  if (main_.dead) return Errno::kESRCH;
  if (Mine() != &main_) return Errno::kEPERM;
  iovec local{.iov_base = const_cast<BatchEntry*>(entries), .iov_len = n * sizeof(BatchEntry)};
  iovec remote{.iov_base = reinterpret_cast<void*>(StubBatchBuffer()), .iov_len = local.iov_len};
  const ssize_t w = process_vm_writev(pid_, &local, 1, &remote, 1, 0);
  if (w != static_cast<ssize_t>(local.iov_len)) {
    const Errno e = w < 0 ? base::FromHost(errno) : Errno::kEIO;
    logging::Warn("ptrace: stub {}: writing a syscall batch failed: {}", pid_, base::ErrnoName(e));
    return e;
  }
  user_regs_struct r = init_regs_;
  r.rip = StubBatchAddr();
  r.r12 = StubBatchBuffer();
  r.r13 = n;
  const user_regs_struct out = TRY(Run(main_, r, StubBatchTrapAddr()));
  *last = static_cast<int64_t>(out.rax);
  return std::min(static_cast<size_t>(out.r14), n);
}

Result<user_regs_struct> StubProcess::Run(StubThread& st, user_regs_struct r, uint64_t trap) {
  if (st.dead) return Errno::kESRCH;
  r.orig_rax = ~0ULL;  // Not in a syscall: no kernel restart logic applies.
  const pid_t tid = st.tid;
  st.regs_valid = false;
  auto gone = [&](const char* what) -> Errno {
    const Errno e = base::FromHost(errno);
    if (e == Errno::kESRCH) {
      // Killed from outside while stopped: collect the exit.
      logging::Debug("ptrace: stub thread {} vanished during {}", tid, what);
      if (&st == &main_) {
        Kill();
      } else {
        auto status = WaitStop(tid, WaitPolicy{});
        if (status.ok() && (WIFEXITED(status.value()) || WIFSIGNALED(status.value()))) MarkDead(st);
      }
    } else {
      logging::Warn("ptrace: {} on stub thread {} failed: {}", what, tid, base::ErrnoName(e));
    }
    return e;
  };
  if (::ptrace(PTRACE_SETREGS, tid, 0, &r) != 0) return gone("PTRACE_SETREGS");
  for (;;) {
    if (::ptrace(PTRACE_CONT, tid, 0, 0) != 0) return gone("PTRACE_CONT");
    const int status = TRY(WaitStop(tid, WaitPolicy{}));
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      logging::Debug("ptrace: stub thread {} ended during syscall injection (status {:#x})", tid, status);
      MarkDead(st);
      return Errno::kESRCH;
    }
    if (!WIFSTOPPED(status)) continue;
    if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) break;
    // Any other signal or event: drop it. Interrupts live on in their
    // Context flag.
  }
  if (::ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) return gone("PTRACE_GETREGS");
  if (r.rip != trap) {
    logging::Warn("ptrace: stub thread {} trapped at {:#x} during syscall injection", tid, r.rip);
    return Errno::kEIO;
  }
  st.regs = r;
  st.regs_valid = true;
  return r;
}

}  // namespace platform::ptrace
