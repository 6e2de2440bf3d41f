#include "platform/ptrace/stub_process.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "base/logging.h"

namespace platform::ptrace {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

Result<int> WaitStop(pid_t tid, const WaitPolicy& policy) {
  int status = 0;
  if (policy.spin_ns > 0) {
    // A stop on another CPU is often only microseconds away; polling avoids
    // the tracer's own sleep/wakeup (see README.md for numbers).
    const int64_t deadline = NowNs() + policy.spin_ns;
    do {
      const pid_t r = wait4(tid, &status, __WALL | WNOHANG, nullptr);
      if (r == tid) return status;
      if (r < 0 && errno != EINTR) {
        const Errno e = base::FromHost(errno);
        logging::Warn("ptrace: wait4({}, WNOHANG) failed: {}", tid, base::ErrnoName(e));
        return e;
      }
    } while (NowNs() < deadline);
  }
  for (;;) {
    const pid_t r = wait4(tid, &status, __WALL, nullptr);
    if (r == tid) return status;
    if (r < 0 && errno == EINTR) continue;
    const Errno e = base::FromHost(errno);
    logging::Warn("ptrace: wait4({}) failed: {}", tid, base::ErrnoName(e));
    return e;
  }
}

Result<std::shared_ptr<StubProcess>> StubProcess::Create(int memory_fd) {
  NewStub s = TRY(ForkStub(memory_fd));
  // No make_shared: the constructor is private.
  return std::shared_ptr<StubProcess>(new StubProcess(s.pid, CurrentTid(), s.init_regs));
}

StubProcess::StubProcess(pid_t pid, pid_t tracer, const user_regs_struct& init_regs)
    : pid_(pid), tracer_(tracer), init_regs_(init_regs) {
  main_.tid = pid;
  // The stub sits at its SIGSTOP with exactly these registers.
  main_.regs = init_regs;
  main_.regs_valid = true;
}

StubProcess::~StubProcess() { Kill(); }

bool StubProcess::OnTracerThread() const { return CurrentTid() == tracer_; }

void StubProcess::Kill() {
  if (reaped_) return;  // The pid may already belong to someone else.
  reaped_ = true;
  main_.dead = true;
  if (::kill(pid_, SIGKILL) != 0 && errno != ESRCH) {
    logging::Warn("ptrace: kill({}, SIGKILL) failed: {}", pid_, base::ErrnoName(base::FromHost(errno)));
  }
  int status;
  while (waitpid(pid_, &status, __WALL) < 0) {
    if (errno == EINTR) continue;
    logging::Debug("ptrace: reaping stub {}: {}", pid_, base::ErrnoName(base::FromHost(errno)));
    break;
  }
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

Result<StubThread*> StubProcess::ClaimThread(const void* owner) {
  if (main_owner_ == owner) return &main_;
  if (main_owner_ != nullptr) {
    logging::Warn("ptrace: stub {}: a second context needs its own stub thread (not yet supported)", pid_);
    return Errno::kEAGAIN;  // TODO(#5): one stub thread per Context.
  }
  main_owner_ = owner;
  return &main_;
}

void StubProcess::ReleaseThread(const void* owner) {
  if (main_owner_ == owner) main_owner_ = nullptr;
}

Result<int64_t> StubProcess::Inject(int64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                    uint64_t a5, uint64_t a6) {
  if (main_.dead) return Errno::kESRCH;
  if (!OnTracerThread()) {
    logging::Warn("ptrace: stub {} used from thread {}, but its tracer is {}", pid_, CurrentTid(), tracer_);
    return Errno::kEPERM;
  }
  user_regs_struct r = init_regs_;
  r.rip = StubSyscallAddr();
  r.rax = static_cast<uint64_t>(nr);
  r.orig_rax = ~0ULL;  // Not in a syscall: no kernel restart logic applies.
  r.rdi = a1;
  r.rsi = a2;
  r.rdx = a3;
  r.r10 = a4;
  r.r8 = a5;
  r.r9 = a6;
  const pid_t tid = main_.tid;
  main_.regs_valid = false;
  auto gone = [&](const char* what) -> Errno {
    const Errno e = base::FromHost(errno);
    if (e == Errno::kESRCH) {
      // Killed from outside while stopped: collect the exit.
      logging::Debug("ptrace: stub {} vanished during {}", pid_, what);
      Kill();
    } else {
      logging::Warn("ptrace: {} on stub {} failed: {}", what, pid_, base::ErrnoName(e));
    }
    return e;
  };
  if (::ptrace(PTRACE_SETREGS, tid, 0, &r) != 0) return gone("PTRACE_SETREGS");
  int sig = 0;
  for (;;) {
    if (::ptrace(PTRACE_CONT, tid, 0, sig) != 0) return gone("PTRACE_CONT");
    const int status = TRY(WaitStop(tid, WaitPolicy{}));
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      logging::Debug("ptrace: stub {} died during syscall injection (status {:#x})", pid_, status);
      MarkDead(main_);
      return Errno::kESRCH;
    }
    if (!WIFSTOPPED(status)) continue;
    if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) break;
    // Any other signal: drop it. Interrupts live on in their Context flag.
    sig = 0;
  }
  if (::ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) return gone("PTRACE_GETREGS");
  if (r.rip != StubSyscallAddr() + 3) {  // after `syscall` (2 bytes) and `int3` (1)
    logging::Warn("ptrace: stub {} trapped at {:#x} during syscall injection", pid_, r.rip);
    return Errno::kEIO;
  }
  main_.regs = r;
  main_.regs_valid = true;
  return static_cast<int64_t>(r.rax);
}

}  // namespace platform::ptrace
