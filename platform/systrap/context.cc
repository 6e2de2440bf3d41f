#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/logging.h"
#include "platform/systrap/internal.h"

namespace platform::systrap {
namespace {

constexpr uint64_t kTrapPageFault = 14;  // X86_TRAP_PF
constexpr uint64_t kPfWrite = 1 << 1;
constexpr uint64_t kPfInstr = 1 << 4;
constexpr int kSysSeccomp = 1;  // SYS_SECCOMP si_code
constexpr uint64_t kUserAddressEnd = 1ULL << 47;

std::atomic_ref<uint32_t> State(AppThread& t) { return std::atomic_ref<uint32_t>(t.msg()->state); }

long Futex(uint32_t* addr, int op, uint32_t val, const timespec* timeout) {
  return syscall(SYS_futex, addr, op, val, timeout, nullptr, 0);
}

bool IsPageFaultSignal(int sig, int code) {
  if (sig == SIGSEGV) return code == SEGV_MAPERR || code == SEGV_ACCERR || code == SEGV_PKUERR;
  if (sig == SIGBUS) return code == BUS_ADRERR || code == BUS_OBJERR;
  return false;
}

pid_t SentryPid() {
  static const pid_t pid = getpid();
  return pid;
}

int64_t Ns(const timeval& tv) { return static_cast<int64_t>(tv.tv_sec) * 1000000000 + tv.tv_usec * 1000; }

uint64_t Grow(long now, long before) { return now > before ? static_cast<uint64_t>(now - before) : 0; }

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Gives stub thread `tid` the calling thread's affinity (one CPU: the
// caller is pinned). An app thread inherits the CPU of whoever cloned it
// (the syscall thread, pinned where the stub was made), not its sentry
// thread's: without this a clone'd task's every stop crossed CPUs.
void FollowCaller(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return;
  cpu_set_t now;
  CPU_ZERO(&now);
  if (sched_getaffinity(tid, sizeof(now), &now) == 0 && CPU_EQUAL(&set, &now)) return;
  if (sched_setaffinity(tid, sizeof(set), &set) != 0) {
    logging::Debug("systrap: sched_setaffinity(app thread {}) failed: {}", tid, base::ErrnoName(base::FromHost(errno)));
  }
}

}  // namespace

Result<void> WaitStopped(AppThread& t) {
  auto state = State(t);
  for (;;) {
    const uint32_t s = state.load(std::memory_order_acquire);
    if (s == kStateStopped) return {};
    // A dead stub never wakes us: look every 50 ms.
    const timespec timeout{0, 50 * 1000 * 1000};
    if (Futex(&t.msg()->state, FUTEX_WAIT, s, &timeout) != 0 && errno == ETIMEDOUT) {
      if (syscall(SYS_tgkill, t.pid, t.tid, 0) != 0 && errno == ESRCH) return Errno::kESRCH;
    }
  }
}

void Resume(AppThread& t) {
  State(t).store(kStateGo, std::memory_order_release);
  Futex(&t.msg()->state, FUTEX_WAKE, 1, nullptr);
}

SystrapContext::~SystrapContext() { Unbind(); }

void SystrapContext::Unbind() {
  target_.store(0);
  if (thread_ != nullptr) {
    AppThread& t = *thread_;
    // The app thread exits (its handler's exit(2)); its slots are reused
    // once it is gone. One that does not go soon keeps them.
    if (!t.dead) {
      t.msg()->exit = 1;
      Resume(t);
    }
    for (int i = 0; i < 2000; ++i) {
      if (syscall(SYS_tgkill, t.pid, t.tid, 0) != 0 && errno == ESRCH) {
        t.exited.store(true);
        break;
      }
      const timespec pause{0, 50 * 1000};
      nanosleep(&pause, nullptr);
    }
    t.owner.store(nullptr);
  }
  thread_.reset();
  as_id_ = 0;
  if (placer_ != nullptr) placer_->Release(placed_);
  placed_ = -1;
}

Result<AppThread*> SystrapContext::Bind(AddressSpace& as) {
  auto* sas = dynamic_cast<SystrapAddressSpace*>(&as);
  if (sas == nullptr) return Errno::kEINVAL;
  if (thread_ != nullptr && sas->id() == as_id_) return thread_.get();
  std::shared_ptr<AppThread> t = TRY(sas->Claim(this));
  Unbind();
  thread_ = std::move(t);
  as_id_ = sas->id();
  last_ru_ = thread_->msg()->ru;
  // The pair (this sentry thread, its app thread) shares a CPU: every stop
  // is a same-CPU switch (ptrace/README.md, "CPU placement"). An unpinned
  // sentry thread (a new process's first) is placed now; a pinned one (a
  // clone'd or forked task's inherits its parent's CPU) takes its app
  // thread to its CPU now and moves with it to the least-loaded CPU only
  // once the pair lived kPlaceAfterStops stops or kPlaceAfterNs (Switch).
  unplaced_stops_ = 0;
  bound_ns_ = MonotonicNowNs();
  if (placer_ != nullptr) {
    if (!ptrace::CpuPlacer::CallerPinned()) {
      placed_ = placer_->Place(thread_->tid);
    } else {
      FollowCaller(thread_->tid);
    }
  }
  target_.store(static_cast<uint64_t>(thread_->pid) << 32 | static_cast<uint32_t>(thread_->tid));
  if (pending_fp_.has_value()) {
    FpState fp = *pending_fp_;
    pending_fp_.reset();
    TRY(SetFpState(fp));
  }
  return thread_.get();
}

void SystrapContext::Interrupt() {
  interrupt_pending_.store(true);
  const uint64_t target = target_.load();
  if (target == 0) return;  // not bound: the next Switch sees the flag
  const auto pid = static_cast<pid_t>(target >> 32);
  const auto tid = static_cast<pid_t>(target & 0xffffffff);
  if (syscall(SYS_tgkill, pid, tid, ptrace::kInterruptSignal) != 0) {
    logging::Debug("systrap: tgkill({}, {}) for an interrupt: {}", pid, tid, base::ErrnoName(base::FromHost(errno)));
  }
}

Result<StopInfo> SystrapContext::Died() {
  logging::Debug("systrap: app thread {} of stub {} is gone", thread_->tid, thread_->pid);
  thread_->dead = true;
  StopInfo info;
  info.reason = StopReason::kDied;
  return info;
}

Result<StopInfo> SystrapContext::Switch(AddressSpace& as, Registers& regs) {
  AppThread* t = TRY(Bind(as));
  if (t->dead) return Errno::kESRCH;
  if (interrupt_pending_.exchange(false)) {
    StopInfo info;
    info.reason = StopReason::kInterrupted;
    return info;
  }
  if (placed_ < 0 && placer_ != nullptr && unplaced_stops_ <= kPlaceAfterStops &&
      (++unplaced_stops_ == kPlaceAfterStops || MonotonicNowNs() - bound_ns_ >= kPlaceAfterNs)) {
    unplaced_stops_ = kPlaceAfterStops + 1;  // once
    placed_ = placer_->Place(t->tid);
  }
  const user_regs_struct& r = regs.regs;
  if (r.fs_base >= kUserAddressEnd || r.gs_base >= kUserAddressEnd) return Errno::kEINVAL;  // as PTRACE_SETREGS
  Sysmsg* m = t->msg();
  uint64_t g[23];
  std::memcpy(g, m->gregs, sizeof(g));
  g[REG_R8] = r.r8;
  g[REG_R9] = r.r9;
  g[REG_R10] = r.r10;
  g[REG_R11] = r.r11;
  g[REG_R12] = r.r12;
  g[REG_R13] = r.r13;
  g[REG_R14] = r.r14;
  g[REG_R15] = r.r15;
  g[REG_RDI] = r.rdi;
  g[REG_RSI] = r.rsi;
  g[REG_RBP] = r.rbp;
  g[REG_RBX] = r.rbx;
  g[REG_RDX] = r.rdx;
  g[REG_RAX] = r.rax;
  g[REG_RCX] = r.rcx;
  g[REG_RSP] = r.rsp;
  g[REG_RIP] = r.rip;
  g[REG_EFL] = r.eflags;
  // cs, gs, fs, ss (sigcontext's __pad0 is ss with UC_STRICT_RESTORE_SS).
  g[REG_CSGSFS] = (r.cs & 0xffff) | (r.ss & 0xffff) << 48;
  std::memcpy(m->gregs, g, sizeof(g));
  m->fs_base = r.fs_base;
  m->gs_base = r.gs_base;
  m->exit = 0;
  for (;;) {
    Resume(*t);
    if (auto w = WaitStopped(*t); !w.ok()) return Died();
    // A snapshot: the app may change the page under us.
    Sysmsg s;
    std::memcpy(&s, m, sizeof(s));
    StopInfo info;
    std::memcpy(&info.siginfo, s.siginfo, sizeof(info.siginfo));
    info.signo = static_cast<int>(s.signo);
    const bool interrupt = info.signo == ptrace::kInterruptSignal && info.siginfo.si_code == SI_TKILL &&
                           info.siginfo.si_pid == SentryPid();
    if (interrupt && !interrupt_pending_.exchange(false)) continue;  // stale: already reported
    user_regs_struct& o = regs.regs;
    o.r8 = s.gregs[REG_R8];
    o.r9 = s.gregs[REG_R9];
    o.r10 = s.gregs[REG_R10];
    o.r11 = s.gregs[REG_R11];
    o.r12 = s.gregs[REG_R12];
    o.r13 = s.gregs[REG_R13];
    o.r14 = s.gregs[REG_R14];
    o.r15 = s.gregs[REG_R15];
    o.rdi = s.gregs[REG_RDI];
    o.rsi = s.gregs[REG_RSI];
    o.rbp = s.gregs[REG_RBP];
    o.rbx = s.gregs[REG_RBX];
    o.rdx = s.gregs[REG_RDX];
    o.rax = s.gregs[REG_RAX];
    o.rcx = s.gregs[REG_RCX];
    o.rsp = s.gregs[REG_RSP];
    o.rip = s.gregs[REG_RIP];
    o.eflags = s.gregs[REG_EFL];
    o.cs = s.gregs[REG_CSGSFS] & 0xffff;
    o.ss = (s.gregs[REG_CSGSFS] >> 48) & 0xffff;
    o.fs_base = s.fs_base;
    o.gs_base = s.gs_base;
    o.ds = o.es = o.fs = o.gs = 0;
    o.orig_rax = ~0ULL;
    // Usage: the thread's own clock and counters since the last stop.
    info.usage.user_ns = std::max<int64_t>(0, Ns(s.ru.ru_utime) - Ns(last_ru_.ru_utime));
    info.usage.sys_ns = std::max<int64_t>(0, Ns(s.ru.ru_stime) - Ns(last_ru_.ru_stime));
    info.usage.minflt = Grow(s.ru.ru_minflt, last_ru_.ru_minflt);
    info.usage.majflt = Grow(s.ru.ru_majflt, last_ru_.ru_majflt);
    info.usage.nivcsw = Grow(s.ru.ru_nivcsw, last_ru_.ru_nivcsw);
    info.usage.maxrss_kb = static_cast<uint64_t>(std::max<long>(s.ru.ru_maxrss, 0));
    last_ru_ = s.ru;
    if (interrupt) {
      info.reason = StopReason::kInterrupted;
      return info;
    }
    if (info.signo == SIGSYS && info.siginfo.si_code == kSysSeccomp) {
      // As a ptrace syscall-enter stop: orig_rax the number, rax -ENOSYS
      // (seccomp's trap showed the handler rax = the number).
      info.reason = StopReason::kSyscall;
      info.siginfo = {};  // as ptrace's: a syscall stop carries no signal
      info.signo = 0;
      o.orig_rax = s.gregs[REG_RAX];
      o.rax = static_cast<uint64_t>(-ENOSYS);
      return info;
    }
    if (IsPageFaultSignal(info.signo, info.siginfo.si_code) && s.gregs[REG_TRAPNO] == kTrapPageFault) {
      info.reason = StopReason::kFault;
      info.fault_addr = reinterpret_cast<uint64_t>(info.siginfo.si_addr);
      const uint64_t err = s.gregs[REG_ERR];
      info.fault_access = (err & kPfInstr) ? kProtExec : (err & kPfWrite) ? kProtWrite : kProtRead;
      return info;
    }
    info.reason = StopReason::kSignal;
    logging::Debug("systrap: app thread {}: signal {} (code {}) at {:#x}, trap {}, err {:#x}, cs {:#x}, eflags {:#x}",
                   t->tid, info.signo, info.siginfo.si_code, o.rip, s.gregs[REG_TRAPNO], s.gregs[REG_ERR], o.cs,
                   o.eflags);
    return info;
  }
}

uint8_t* SystrapContext::FrameFp() const {
  if (thread_ == nullptr || thread_->fp_size == 0) return nullptr;
  const uint8_t* uc = thread_->Stack(thread_->msg()->ucontext, sizeof(ucontext_t));
  if (uc == nullptr) return nullptr;
  uint64_t fpregs = 0;
  std::memcpy(&fpregs, uc + offsetof(ucontext_t, uc_mcontext.fpregs), sizeof(fpregs));
  return thread_->Stack(fpregs, thread_->fp_size + 4);
}

Result<void> SystrapContext::GetFpState(FpState& out) {
  if (thread_ == nullptr) {
    if (!pending_fp_.has_value()) return Errno::kESRCH;
    out = *pending_fp_;
    return {};
  }
  if (thread_->dead) return Errno::kESRCH;
  const uint8_t* fp = FrameFp();
  if (fp == nullptr) return Errno::kEFAULT;  // the app broke its frame
  std::memcpy(out.bytes, fp, thread_->fp_size);
  out.size = thread_->fp_size;
  return {};
}

Result<void> SystrapContext::SetFpState(const FpState& in) {
  if (in.size == 0 || in.size > sizeof(in.bytes)) return Errno::kEINVAL;
  if (thread_ == nullptr) {
    pending_fp_ = in;
    return {};
  }
  if (thread_->dead) return Errno::kESRCH;
  // What the kernel's XRSTOR at sigreturn would refuse (it would kill the
  // thread), refused here as PTRACE_SETREGSET refuses it.
  if (in.size != thread_->fp_size) return Errno::kEINVAL;
  uint32_t mxcsr, mask;
  std::memcpy(&mxcsr, in.bytes + 24, 4);
  std::memcpy(&mask, in.bytes + 28, 4);
  if (mask == 0) mask = 0xffbf;
  uint64_t header[8];
  std::memcpy(header, in.bytes + 512, sizeof(header));
  if ((mxcsr & ~mask) != 0 || (header[0] & ~thread_->fp_features) != 0 || header[1] != 0) return Errno::kEINVAL;
  for (int i = 2; i < 8; ++i) {
    if (header[i] != 0) return Errno::kEINVAL;
  }
  uint8_t* fp = FrameFp();
  if (fp == nullptr) return Errno::kEFAULT;
  // Keep the frame's software bytes (magic, sizes, features): sigreturn
  // checks them.
  uint8_t sw[48];
  std::memcpy(sw, fp + 464, sizeof(sw));
  std::memcpy(fp, in.bytes, in.size);
  std::memcpy(fp + 464, sw, sizeof(sw));
  return {};
}

}  // namespace platform::systrap
