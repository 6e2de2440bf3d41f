// fork, vfork, clone, clone3: argument decoding and copy_process()'s flag
// checks (kernel/fork.c); the work is Kernel::Clone (sentry/kernel/fork.cc).
#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/pidfd.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::CloneArgs;

constexpr uint64_t kCsignal = 0xff;
constexpr uint64_t kNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                 CLONE_NEWPID | CLONE_NEWNET | 0x80 /* CLONE_NEWTIME */;

// copy_process()'s EINVAL combinations, in its order.
Result<void> CheckFlags(Task& t, uint64_t flags) {
  if ((flags & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS)) return Errno::kEINVAL;
  if ((flags & (CLONE_NEWUSER | CLONE_FS)) == (CLONE_NEWUSER | CLONE_FS)) return Errno::kEINVAL;
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return Errno::kEINVAL;
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return Errno::kEINVAL;
  // The sandbox's init cannot make siblings (SIGNAL_UNKILLABLE).
  if ((flags & CLONE_PARENT) && t.pid() == 1) return Errno::kEINVAL;
  if ((flags & CLONE_THREAD) && (flags & (CLONE_NEWUSER | CLONE_NEWPID))) return Errno::kEINVAL;
  if ((flags & CLONE_PIDFD) && (flags & CLONE_THREAD)) return Errno::kEINVAL;
  // copy_namespaces(): SEM_UNDO cannot be shared across IPC namespaces.
  if ((flags & CLONE_NEWIPC) && (flags & CLONE_SYSVSEM)) return Errno::kEINVAL;
  // New namespaces need CAP_SYS_ADMIN; IPC and UTS ones are offered
  // (sentry/kernel/namespaces.h).
  // TODO(#5): mount, pid, network, user, cgroup and time namespaces.
  if ((flags & kNamespaces) && !t.creds().HasCap(CAP_SYS_ADMIN)) return Errno::kEPERM;
  if (flags & kNamespaces & ~static_cast<uint64_t>(CLONE_NEWIPC | CLONE_NEWUTS)) return Errno::kEPERM;
  return base::Ok();
}

Result<uint64_t> DoClone(Task& t, const CloneArgs& args) {
  TRY(CheckFlags(t, args.flags));
  CloneArgs a = args;
  std::shared_ptr<sentry::kernel::ThreadGroup> child;
  if (a.flags & CLONE_PIDFD) {
    // Linux stores the pidfd before the child runs; a bad address fails
    // the whole clone. Probe it first, then fill it in.
    TRY(t.mm().CopyOut(UserPtr<int32_t>(a.pidfd), int32_t{-1}));
    a.new_process = &child;
  }
  const int32_t pid = TRY(t.kernel().Clone(t, a));
  if (child != nullptr) {
    auto f = std::make_shared<sentry::kernel::PidFd>(std::move(child), 0);
    // TODO(#5): reserve the fd before the child exists, as Linux does.
    auto fd = t.fds().Install(std::move(f), /*cloexec=*/true);
    if (fd.ok()) (void)t.mm().CopyOut(UserPtr<int32_t>(a.pidfd), static_cast<int32_t>(fd.value()));
  }
  return static_cast<uint64_t>(pid);
}

}  // namespace

Result<uint64_t> Fork(Task& t, const SyscallArgs&) {
  CloneArgs a;
  a.exit_signal = SIGCHLD;
  return DoClone(t, a);
}

Result<uint64_t> Vfork(Task& t, const SyscallArgs&) {
  CloneArgs a;
  a.flags = CLONE_VFORK | CLONE_VM;
  a.exit_signal = SIGCHLD;
  return DoClone(t, a);
}

// x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
Result<uint64_t> Clone(Task& t, const SyscallArgs& args) {
  const uint64_t flags = args.U64(0);
  CloneArgs a;
  a.flags = flags & ~kCsignal;
  a.exit_signal = static_cast<int>(flags & kCsignal);
  a.stack = args.U64(1);
  a.parent_tid = args.U64(2);
  a.child_tid = args.U64(3);
  a.tls = args.U64(4);
  // The legacy clone has no room for pidfd and parent_tid both.
  if ((a.flags & CLONE_PIDFD) && (a.flags & CLONE_PARENT_SETTID)) return Errno::kEINVAL;
  a.pidfd = a.parent_tid;
  // CLONE_DETACHED is ignored by clone(2) (legacy); clone3 rejects it.
  a.flags &= ~static_cast<uint64_t>(CLONE_DETACHED);
  return DoClone(t, a);
}

Result<uint64_t> Clone3(Task& t, const SyscallArgs& args) {
  // copy_clone_args_from_user(): CLONE_ARGS_SIZE_VER0 = 64; bigger structs
  // from newer headers are fine if the unknown tail is zero.
  constexpr uint64_t kVer0 = 64, kVer2 = 88;
  const uint64_t size = args.U64(1);
  if (size > sentry::mm::kPageSize) return Errno::kE2BIG;
  if (size < kVer0) return Errno::kEINVAL;
  uint64_t raw[11] = {};
  const uint64_t known = std::min(size, kVer2);
  TRY(t.mm().CopyInBytes(args.U64(0), {reinterpret_cast<uint8_t*>(raw), known}));
  if (size > kVer2) {
    std::vector<uint8_t> tail(size - kVer2);
    TRY(t.mm().CopyInBytes(args.U64(0) + kVer2, tail));
    for (uint8_t b : tail) {
      if (b != 0) return Errno::kE2BIG;
    }
  }
  // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal,
  // stack, stack_size, tls, set_tid, set_tid_size, cgroup.
  const uint64_t flags = raw[0], exit_signal = raw[4], stack = raw[5], stack_size = raw[6];
  if (raw[9] > 32 /* MAX_PID_NS_LEVEL */) return Errno::kEINVAL;
  if (raw[8] == 0 && raw[9] > 0) return Errno::kEINVAL;
  if (raw[8] != 0 && raw[9] == 0) return Errno::kEINVAL;
  if ((exit_signal & ~kCsignal) || exit_signal > 64) return Errno::kEINVAL;
  if (flags & (kCsignal | CLONE_DETACHED)) return Errno::kEINVAL;
  if ((flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND)) == (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND)) {
    return Errno::kEINVAL;
  }
  if ((stack == 0) != (stack_size == 0)) return Errno::kEINVAL;
  // set_tid needs CAP_SYS_ADMIN over the pid namespace.
  if (raw[9] > 0) return Errno::kEPERM;
  if (flags & CLONE_INTO_CGROUP) return Errno::kEINVAL;  // TODO(#5): cgroups
  CloneArgs a;
  a.flags = flags;
  a.pidfd = raw[1];
  a.child_tid = raw[2];
  a.parent_tid = raw[3];
  a.exit_signal = static_cast<int>(exit_signal);
  a.stack = stack == 0 ? 0 : stack + stack_size;  // the stack grows down from its top
  a.tls = raw[7];
  return DoClone(t, a);
}

Result<uint64_t> Unshare(Task& t, const SyscallArgs& args) {
  TRY(sentry::kernel::Unshare(t, args.U64(0)));
  return 0;
}

}  // namespace syscalls
