#include "platform/ptrace/context.h"

#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "absl/container/inlined_vector.h"

#include "base/logging.h"
#include "platform/ptrace/address_space.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kTrapPageFault = 14;  // X86_TRAP_PF

// Kernel-generated memory-access signals carry si_addr; anything else (a
// general protection fault is SIGSEGV with SI_KERNEL, no address) is a plain
// signal for the sentry.
bool IsPageFaultSignal(int sig, int code) {
  if (sig == SIGSEGV) return code == SEGV_MAPERR || code == SEGV_ACCERR || code == SEGV_PKUERR;
  if (sig == SIGBUS) return code == BUS_ADRERR || code == BUS_OBJERR;
  return false;
}

// Without the probe (it failed once for this thread): an address inside the
// instruction at rip means an instruction fetch, anything else is reported
// as a read. The sentry then maps with the VMA's protection, and a write to
// a page it made read-only faults again with SEGV_ACCERR on a readable page.
int GuessAccess(uint64_t addr, uint64_t rip) {
  return (addr >= rip && addr < rip + 16) ? kProtExec : kProtRead;
}

pid_t SentryPid() {
  static const pid_t pid = getpid();
  return pid;
}

}  // namespace

CpuPlacer::CpuPlacer(std::vector<int> cpus)
    : cpus_(std::move(cpus)), bound_(std::make_unique<std::atomic<int>[]>(cpus_.size())) {}

std::shared_ptr<CpuPlacer> CpuPlacer::ForAllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  return std::make_shared<CpuPlacer>(std::move(cpus));
}

bool CpuPlacer::Pin(int cpu, pid_t also) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    logging::Warn("ptrace: sched_setaffinity(cpu {}) failed: {}", cpu, base::ErrnoName(base::FromHost(errno)));
    return false;
  }
  if (also != 0 && sched_setaffinity(also, sizeof(set), &set) != 0) {
    // The stub thread stays where it was: the pair may switch across CPUs.
    logging::Warn("ptrace: sched_setaffinity(stub thread {}, cpu {}) failed: {}", also, cpu,
                  base::ErrnoName(base::FromHost(errno)));
  }
  logging::Debug("ptrace: tracer thread {} (stub thread {}) pinned to cpu {}", CurrentTid(), also, cpu);
  return true;
}

size_t CpuPlacer::LeastLoaded() const {
  // Racy minimum: two contexts binding at once may pick the same CPU; the
  // counts stay exact, only the placement is approximate. The counts are
  // this sandbox's pairs only: the host's other load and other sandboxes
  // are invisible to them. So among the CPUs with the fewest pairs, take
  // the one the host scheduler already runs this thread on (it balanced
  // the host's load), else one chosen by thread id: a host full of
  // one-task sandboxes does not pile every pair onto the first CPU.
  int fewest = bound_[0].load(std::memory_order_relaxed);
  for (size_t i = 1; i < cpus_.size(); ++i) fewest = std::min(fewest, bound_[i].load(std::memory_order_relaxed));
  absl::InlinedVector<size_t, 16> ties;
  const int here = sched_getcpu();
  for (size_t i = 0; i < cpus_.size(); ++i) {
    if (bound_[i].load(std::memory_order_relaxed) != fewest) continue;
    if (cpus_[i] == here) return i;
    ties.push_back(i);
  }
  if (ties.empty()) return 0;  // the counts moved under us
  return ties[static_cast<size_t>(CurrentTid()) % ties.size()];
}

bool CpuPlacer::CallerPinned() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1;
}

bool CpuPlacer::PinLeastLoaded() {
  if (cpus_.empty()) return false;
  return CallerPinned() || Pin(cpus_[LeastLoaded()], 0);
}

int CpuPlacer::Place(pid_t stub_tid) {
  if (cpus_.empty()) return -1;
  const size_t best = LeastLoaded();
  if (!Pin(cpus_[best], stub_tid)) return -1;
  bound_[best].fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(best);
}

int CpuPlacer::Move(int slot, pid_t stub_tid) {
  if (slot < 0 || cpus_.size() < 2) return slot;
  const size_t from = static_cast<size_t>(slot);
  // The next CPU after this one with the fewest pairs (rotating, so pairs
  // leaving one busy CPU do not all land on the same other).
  size_t best = (from + 1) % cpus_.size();
  for (size_t k = 2; k < cpus_.size(); ++k) {
    const size_t i = (from + k) % cpus_.size();
    if (bound_[i].load(std::memory_order_relaxed) < bound_[best].load(std::memory_order_relaxed)) best = i;
  }
  // After the move `best` holds one more: never more than `from` holds now
  // (a CPU crowded with this sandbox's own pairs is not left for a worse one).
  if (bound_[best].load(std::memory_order_relaxed) + 1 > bound_[from].load(std::memory_order_relaxed)) return slot;
  if (!Pin(cpus_[best], stub_tid)) return slot;
  bound_[from].fetch_sub(1, std::memory_order_relaxed);
  bound_[best].fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(best);
}

void CpuPlacer::Release(int slot) {
  if (slot >= 0) bound_[static_cast<size_t>(slot)].fetch_sub(1, std::memory_order_relaxed);
}

PtraceContext::~PtraceContext() { Unbind(); }

void PtraceContext::Unbind() {
  target_.store(0);
  if (stub_ != nullptr) stub_->ReleaseThread(this);
  stub_.reset();
  thread_ = nullptr;
  as_id_ = 0;
  if (placer_ != nullptr) placer_->Release(placed_);
  placed_ = -1;
  preemptions_seen_ = -1;
  next_contention_check_ns_ = 0;
}

Result<StubThread*> PtraceContext::Bind(AddressSpace& as) {
  auto* pas = dynamic_cast<PtraceAddressSpace*>(&as);
  if (pas == nullptr) return Errno::kEINVAL;
  if (thread_ != nullptr && pas->id() == as_id_) return thread_;
  TRY(pas->Activate());  // Maps queued while the address space was fresh
  const std::shared_ptr<StubProcess>& stub = pas->stub();
  if (stub == nullptr) return Errno::kEPERM;  // a replacement, first switched to off its tracer thread
  // ClaimThread checks the calling thread: the stub's tracer for the main
  // thread, or the first to claim a thread made by AddContext.
  StubThread* t = TRY(stub->ClaimThread(this));
  Unbind();
  stub_ = stub;
  thread_ = t;
  as_id_ = pas->id();
  // Each bound pair (this sentry thread, its stub thread) goes together to
  // the CPU with the fewest bound pairs: the threads and processes of the
  // sandbox spread over the CPUs while every stop stays a same-CPU switch
  // (README.md, "CPU placement"). A pair that already shares one CPU (a
  // forked task's sentry thread and stub inherited their parent's, a clone'd
  // thread's too, an exec keeps its stub) moves only once it has lived
  // kPlaceAfterStops stops or kPlaceAfterNs (Switch): migrating a
  // short-lived one costs more than it saves (fork+exec of /bin/true paid
  // ~300 us for the move and the wakeups across CPUs). An unpinned thread
  // (a new process's first) is placed now.
  unplaced_stops_ = 0;
  bound_ns_ = MonotonicNowNs();
  if (placer_ != nullptr && t->tid == stub->pid() && !CpuPlacer::CallerPinned()) placed_ = placer_->Place(t->tid);
  // Published before Switch reads interrupt_pending_ (both seq_cst): an
  // Interrupt() either sets the flag before that read or sees this target.
  target_.store(static_cast<uint64_t>(stub_->pid()) << 32 | static_cast<uint32_t>(t->tid));
  if (pending_fp_.has_value()) {
    iovec iov{pending_fp_->bytes, pending_fp_->size};
    if (::ptrace(PTRACE_SETREGSET, t->tid, NT_X86_XSTATE, &iov) != 0) {
      const Errno e = base::FromHost(errno);
      logging::Warn("ptrace: PTRACE_SETREGSET(NT_X86_XSTATE, {} bytes) on {} failed: {}", pending_fp_->size,
                    t->tid, base::ErrnoName(e));
      return e;
    }
    pending_fp_.reset();
  }
  return t;
}

void PtraceContext::Interrupt() {
  interrupt_pending_.store(true);
  const uint64_t target = target_.load();
  if (target == 0) return;  // Not bound: the next Switch sees the flag.
  const auto tgid = static_cast<pid_t>(target >> 32);
  const auto tid = static_cast<pid_t>(target & 0xffffffff);
  if (tgkill(tgid, tid, kInterruptSignal) != 0) {
    logging::Debug("ptrace: tgkill({}, {}) for an interrupt: {}", tgid, tid,
                   base::ErrnoName(base::FromHost(errno)));
  }
}

Result<StopInfo> PtraceContext::Died(StubThread& t, int status) {
  logging::Debug("ptrace: stub thread {} died (status {:#x})", t.tid, status);
  stub_->MarkDead(t);
  StopInfo info;
  info.reason = StopReason::kDied;
  info.signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return info;
}

Result<StopInfo> PtraceContext::Gone(StubThread& t, const char* what) {
  const Errno e = base::FromHost(errno);
  if (e != Errno::kESRCH) {
    logging::Warn("ptrace: {} on stub thread {} failed: {}", what, t.tid, base::ErrnoName(e));
    return e;
  }
  // ESRCH on a thread we keep stopped means it was killed: collect the exit.
  logging::Debug("ptrace: stub thread {} vanished during {}", t.tid, what);
  const int status = TRY(WaitStop(t.tid, WaitPolicy{}));
  if (WIFEXITED(status) || WIFSIGNALED(status)) return Died(t, status);
  return Errno::kESRCH;
}

namespace {

// Whether `now` differs from what the stub thread holds only in rax, by a
// value the host kernel would never take for a restart request (-ERESTARTSYS
// .. -ERESTART_RESTARTBLOCK, 512..516).
bool OnlyResultDiffers(const user_regs_struct& held, const user_regs_struct& now) {
  if (held.rax == now.rax) return false;
  const int64_t rax = static_cast<int64_t>(now.rax);
  if (rax >= -516 && rax <= -512) return false;
  user_regs_struct same = now;
  same.rax = held.rax;
  return std::memcmp(&held, &same, sizeof(same)) == 0;
}

}  // namespace

void PtraceContext::CheckContention(pid_t tid, int64_t now) {
  next_contention_check_ns_ = now + kContendedCheckNs;
  struct rusage self {};
  if (getrusage(RUSAGE_THREAD, &self) != 0) return;
  // The stub's count is its process's (wait4's rusage at the last stop):
  // exact for a one-thread stub, an over-count for others, which at worst
  // moves a pair once more.
  const long seen = self.ru_nivcsw + (have_ru_ ? stop_ru_.ru_nivcsw : 0);
  const long before = preemptions_seen_;
  preemptions_seen_ = seen;
  if (before < 0 || seen - before < kContendedPreemptions) return;
  const int moved = placer_->Move(placed_, tid);
  if (moved != placed_) {
    logging::Debug("ptrace: stub thread {}: {} preemptions in {} ms: moved to another CPU", tid, seen - before,
                   kContendedCheckNs / 1'000'000);
    placed_ = moved;
  }
}

Result<StopInfo> PtraceContext::Switch(AddressSpace& as, Registers& regs) {
  const int64_t start = MonotonicNowNs();
  switch_start_ns_ = start;
  have_ru_ = false;
  shared_ = false;
  spun_ns_ = 0;
  auto r = Run(as, regs);
  if (r.ok() && have_ru_ && stub_ != nullptr && thread_ != nullptr) {
    const int64_t wall = MonotonicNowNs() - start;
    StubThread& t = *thread_;
    if (!shared_) {
      // Only this thread ran app code: the process's growth is its own.
      r.value().usage = stub_->TakeUsage(t, stop_ru_, wall);
    } else {
      // Other threads ran too, maybe on this CPU: ask the host for this
      // thread's own time once enough such runs piled up (one more stop),
      // crediting nothing until then.
      t.shared_ns += wall;
      std::optional<ThreadCpu> exact;
      if (t.shared_ns >= kMeasureAfterSharedNs && !t.dead && !pending_fault_.has_value() &&
          r.value().reason != StopReason::kDied) {
        auto m = stub_->MeasureCpu(t);
        if (m.ok()) {
          exact = m.value();
          t.shared_ns = 0;
        } else {
          logging::Debug("ptrace: stub thread {}: measuring its CPU time failed: {}", t.tid,
                         base::ErrnoName(m.error()));
        }
      }
      r.value().usage = stub_->TakeUsage(t, stop_ru_, -1, exact ? &*exact : nullptr);
    }
  }
  if (r.ok()) r.value().usage.tracer_spin_ns = spun_ns_;
  return r;
}

Result<StopInfo> PtraceContext::Run(AddressSpace& as, Registers& regs) {
  pending_fault_.reset();
  StubThread* t = TRY(Bind(as));
  if (t->dead) return Errno::kESRCH;
  if (interrupt_pending_.exchange(false)) {
    StopInfo info;
    info.reason = StopReason::kInterrupted;
    return info;
  }
  const pid_t tid = t->tid;
  if (placed_ < 0 && placer_ != nullptr && unplaced_stops_ <= kPlaceAfterStops &&
      (++unplaced_stops_ == kPlaceAfterStops || MonotonicNowNs() - bound_ns_ >= kPlaceAfterNs)) {
    unplaced_stops_ = kPlaceAfterStops + 1;  // once
    placed_ = placer_->Place(tid);
  }
  if (placed_ >= 0 && switch_start_ns_ >= next_contention_check_ns_) CheckContention(tid, switch_start_ns_);
  if (t->regs_valid && OnlyResultDiffers(t->regs, regs.regs)) {
    // The common case after a syscall: the sentry only wrote the result.
    // One register costs a fraction of PTRACE_SETREGS (which copies and
    // checks all 27). The kernel still holds the syscall's orig_rax, so a
    // host signal arriving now could make it restart the call, but only
    // for rax = -ERESTART*, which OnlyResultDiffers leaves to SETREGS.
    if (::ptrace(PTRACE_POKEUSER, tid, offsetof(user_regs_struct, rax), regs.regs.rax) != 0) {
      return Gone(*t, "PTRACE_POKEUSER");
    }
    t->regs.rax = regs.regs.rax;
  } else if (!t->regs_valid || std::memcmp(&t->regs, &regs.regs, sizeof(regs.regs)) != 0) {
    // orig_rax = -1 tells the kernel we are not in a syscall, so it never
    // restarts one behind the sentry's back (rax = -ERESTARTSYS etc.): the
    // sentry owns restart logic. The app cannot observe orig_rax.
    user_regs_struct k = regs.regs;
    k.orig_rax = ~0ULL;
    if (::ptrace(PTRACE_SETREGS, tid, 0, &k) != 0) return Gone(*t, "PTRACE_SETREGS");
    t->regs = regs.regs;
    t->regs_valid = true;
  }
  for (;;) {
    // Signal 0: whatever stopped the thread last (a fault, an interrupt, the
    // injection int3) is suppressed, never delivered to the stub.
    const int64_t resumed_ns = MonotonicNowNs();
    const uint64_t app_run = stub_->EnterApp();
    if (::ptrace(PTRACE_SYSEMU, tid, 0, 0) != 0) {
      stub_->LeaveApp(app_run);
      return Gone(*t, "PTRACE_SYSEMU");
    }
    t->regs_valid = false;
    auto waited = WaitStop(tid, wait_, &stop_ru_, &spun_ns_, resumed_ns);
    if (stub_->LeaveApp(app_run)) shared_ = true;
    const int status = TRY(std::move(waited));
    have_ru_ = true;
    if (WIFEXITED(status) || WIFSIGNALED(status)) return Died(*t, status);
    if (!WIFSTOPPED(status) || (status >> 16) != 0) continue;  // No PTRACE_EVENTs are enabled.
    const int sig = WSTOPSIG(status);
    if (sig == (SIGTRAP | 0x80)) {  // syscall-enter-stop (PTRACE_O_TRACESYSGOOD)
      if (::ptrace(PTRACE_GETREGS, tid, 0, &regs.regs) != 0) return Gone(*t, "PTRACE_GETREGS");
      t->regs = regs.regs;
      t->regs_valid = true;
      return StopInfo{};
    }
    StopInfo info;
    if (::ptrace(PTRACE_GETSIGINFO, tid, 0, &info.siginfo) != 0) return Gone(*t, "PTRACE_GETSIGINFO");
    if (sig == kInterruptSignal && info.siginfo.si_code == SI_TKILL && info.siginfo.si_pid == SentryPid() &&
        !interrupt_pending_.exchange(false)) {
      continue;  // Stale: its Interrupt() was already reported.
    }
    if (::ptrace(PTRACE_GETREGS, tid, 0, &regs.regs) != 0) return Gone(*t, "PTRACE_GETREGS");
    t->regs = regs.regs;
    t->regs_valid = true;
    info.signo = sig;
    if (sig == kInterruptSignal && info.siginfo.si_code == SI_TKILL && info.siginfo.si_pid == SentryPid()) {
      info.reason = StopReason::kInterrupted;
      return info;
    }
    if (IsPageFaultSignal(sig, info.siginfo.si_code)) {
      info.reason = StopReason::kFault;
      info.fault_addr = reinterpret_cast<uint64_t>(info.siginfo.si_addr);
      if (lazy_fault_access_ && !t->probe_broken) {
        pending_fault_ = PendingFault{sig, regs.regs, info};
        return info;  // fault_access 0: FaultAccess() probes on request
      }
      return ProbeFault(*t, sig, regs.regs, info);
    }
    info.reason = StopReason::kSignal;
    return info;
  }
}

// x86 reports read/write/exec only in the page-fault error code, which
// reaches user space in the signal frame (uc_mcontext.err), not through
// ptrace. So the signal is delivered, once, to the stub's probe handler: it
// runs on the stub's own sigaltstack (no app memory is touched), copies err,
// trapno and cr2 into rax, rbx, rcx and hits int3. The tracer then puts back
// the app's registers and XSAVE state (signal delivery reset the FPU), so for
// the app the fault never happened. SA_NODEFER with an empty sa_mask leaves
// the signal mask unchanged. Cost: one more stop and four ptrace requests.
Result<StopInfo> PtraceContext::ProbeFault(StubThread& t, int sig, const user_regs_struct& app_regs,
                                           StopInfo& info) {
  if (t.probe_broken) {
    info.fault_access = GuessAccess(info.fault_addr, app_regs.rip);
    return info;
  }
  const pid_t tid = t.tid;
  iovec fp{scratch_fp_->bytes, sizeof(scratch_fp_->bytes)};
  if (::ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &fp) != 0) return Gone(t, "PTRACE_GETREGSET");
  if (::ptrace(PTRACE_CONT, tid, 0, sig) != 0) return Gone(t, "PTRACE_CONT");
  t.regs_valid = false;
  user_regs_struct probe{};
  bool probed = false;
  for (;;) {
    const int status = TRY(WaitStop(tid, wait_));
    if (WIFEXITED(status) || WIFSIGNALED(status)) return Died(t, status);
    if (!WIFSTOPPED(status) || (status >> 16) != 0) {
      if (::ptrace(PTRACE_CONT, tid, 0, 0) != 0) return Gone(t, "PTRACE_CONT");
      continue;
    }
    const int s = WSTOPSIG(status);
    if (s == SIGTRAP || s == SIGSEGV || s == SIGBUS) {
      if (::ptrace(PTRACE_GETREGS, tid, 0, &probe) != 0) return Gone(t, "PTRACE_GETREGS");
      probed = s == SIGTRAP && probe.rip == StubProbeTrapAddr();
      break;
    }
    // Another signal (an interrupt) got in first: drop it; its flag stays set.
    if (::ptrace(PTRACE_CONT, tid, 0, 0) != 0) return Gone(t, "PTRACE_CONT");
  }
  if (::ptrace(PTRACE_SETREGS, tid, 0, &app_regs) != 0) return Gone(t, "PTRACE_SETREGS");
  if (::ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &fp) != 0) return Gone(t, "PTRACE_SETREGSET");
  t.regs = app_regs;
  t.regs_valid = true;
  if (!probed) {
    logging::Warn("ptrace: fault probe failed in stub thread {} (stopped at {:#x}); guessing access types",
                  tid, probe.rip);
    t.probe_broken = true;
    info.fault_access = GuessAccess(info.fault_addr, app_regs.rip);
    return info;
  }
  const uint64_t err = probe.rax;
  if (probe.rbx != kTrapPageFault) {
    info.reason = StopReason::kSignal;
    return info;
  }
  info.fault_access = (err & kPfInstr) ? kProtExec : (err & kPfWrite) ? kProtWrite : kProtRead;
  return info;
}

Result<int> PtraceContext::FaultAccess() {
  if (!pending_fault_.has_value() || thread_ == nullptr || thread_->dead) return Errno::kEINVAL;
  PendingFault f = *pending_fault_;
  pending_fault_.reset();
  // The thread must not have run since the stop (an injection would have
  // discarded the signal): its registers are still the fault's.
  if (!thread_->regs_valid || std::memcmp(&thread_->regs, &f.regs, sizeof(f.regs)) != 0) return Errno::kEINVAL;
  StopInfo out = TRY(ProbeFault(*thread_, f.sig, f.regs, f.info));
  if (out.reason != StopReason::kFault || out.fault_access == 0) return Errno::kEINVAL;
  return out.fault_access;
}

Result<void> PtraceContext::GetFpState(FpState& out) {
  if (thread_ == nullptr) {
    if (!pending_fp_.has_value()) return Errno::kESRCH;
    out = *pending_fp_;
    return {};
  }
  if (thread_->dead) return Errno::kESRCH;
  if (thread_->tracer != CurrentTid()) return Errno::kEPERM;
  iovec iov{out.bytes, sizeof(out.bytes)};
  if (::ptrace(PTRACE_GETREGSET, thread_->tid, NT_X86_XSTATE, &iov) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: PTRACE_GETREGSET(NT_X86_XSTATE) on {} failed: {}", thread_->tid, base::ErrnoName(e));
    return e;
  }
  out.size = iov.iov_len;
  return {};
}

Result<void> PtraceContext::SetFpState(const FpState& in) {
  if (in.size == 0 || in.size > sizeof(in.bytes)) return Errno::kEINVAL;
  if (thread_ == nullptr) {
    pending_fp_ = in;
    return {};
  }
  if (thread_->dead) return Errno::kESRCH;
  if (thread_->tracer != CurrentTid()) return Errno::kEPERM;
  // The kernel wants exactly its full XSAVE size (EFAULT otherwise), which
  // is what GetFpState returned.
  iovec iov{const_cast<uint8_t*>(in.bytes), in.size};
  if (::ptrace(PTRACE_SETREGSET, thread_->tid, NT_X86_XSTATE, &iov) != 0) {
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: PTRACE_SETREGSET(NT_X86_XSTATE, {} bytes) on {} failed: {}", in.size, thread_->tid,
                  base::ErrnoName(e));
    return e;
  }
  return {};
}

}  // namespace platform::ptrace
