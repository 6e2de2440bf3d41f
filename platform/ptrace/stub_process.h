// StubProcess: one traced stub process (one per AddressSpace) and its
// threads. Internal to platform/ptrace/.
//
// Threading: every method except Kill() must be called on the tracer thread
// (the sentry thread that created the stub); ptrace(2) only accepts requests
// from the tracer. Kill() may run on any thread, but not while the tracer
// thread is inside a method of this stub.
#ifndef PLATFORM_PTRACE_STUB_PROCESS_H_
#define PLATFORM_PTRACE_STUB_PROCESS_H_

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>

#include "base/result.h"
#include "platform/ptrace/stub.h"

namespace platform::ptrace {

// How the tracer waits for a stop: spin with WNOHANG for up to `spin_ns`,
// then block. 0 = block at once.
struct WaitPolicy {
  int64_t spin_ns = 0;
};

// One host thread of a stub, traced by `tracer`.
struct StubThread {
  pid_t tid = -1;
  // What the kernel holds for this thread, when known: lets Switch skip
  // PTRACE_SETREGS if the sentry did not change the registers. Any resume
  // other than a Context's own invalidates it.
  user_regs_struct regs{};
  bool regs_valid = false;
  // Set once a wait reported the thread's exit; no ptrace request after it.
  bool dead = false;
  // The fault probe misbehaved once; access types are guessed from then on.
  bool probe_broken = false;
};

// A wait status, or the fact that the thread is gone.
Result<int> WaitStop(pid_t tid, const WaitPolicy& policy);

class StubProcess {
 public:
  static Result<std::shared_ptr<StubProcess>> Create(int memory_fd);
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  pid_t pid() const { return pid_; }
  pid_t tracer() const { return tracer_; }
  bool OnTracerThread() const;

  // Runs one syscall in the stub's main thread (which must be in a
  // ptrace-stop, as it is whenever no Switch is running) and returns its raw
  // result (-errno on failure). Host signals arriving meanwhile are dropped:
  // an Interrupt() stays pending in its Context flag.
  Result<int64_t> Inject(int64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                         uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

  // The main thread goes to the first Context that asks; later Contexts need
  // threads of their own. TODO(#5): clone another stub thread (injected
  // clone(CLONE_VM|CLONE_THREAD|...)) traced by the asking sentry thread.
  Result<StubThread*> ClaimThread(const void* owner);
  void ReleaseThread(const void* owner);

  // Marks `t` dead after a wait reported its exit (the main thread's exit
  // also reaps the process).
  void MarkDead(StubThread& t);

  // SIGKILLs and reaps the stub unless already reaped. Idempotent.
  void Kill();

 private:
  StubProcess(pid_t pid, pid_t tracer, const user_regs_struct& init_regs);

  const pid_t pid_;
  const pid_t tracer_;
  const user_regs_struct init_regs_;
  StubThread main_;
  const void* main_owner_ = nullptr;
  bool reaped_ = false;
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_PROCESS_H_
