// Process identity, limits and per-process state: the small syscalls every
// libc makes at start-up.
#include <asm/prctl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fs/fs_context.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

// The top of the canonical user half: fs/gs bases must be below it.
constexpr uint64_t kUserLimit = 0x7ffffffff000ull;

}  // namespace

Result<uint64_t> Exit(Task& t, const SyscallArgs& args) {
  t.RequestExit((args.I32(0) & 0xff) << 8, /*group=*/false);
  return 0;
}

Result<uint64_t> ExitGroup(Task& t, const SyscallArgs& args) {
  t.RequestExit((args.I32(0) & 0xff) << 8, /*group=*/true);
  return 0;
}

Result<uint64_t> Getpid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.pid()); }
Result<uint64_t> Getppid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.thread_group().ppid); }
Result<uint64_t> Gettid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.tid()); }
Result<uint64_t> Getuid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
Result<uint64_t> Geteuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
Result<uint64_t> Getgid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
Result<uint64_t> Getegid(Task& t, const SyscallArgs&) { return t.creds().egid; }
Result<uint64_t> Getpgrp(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.thread_group().pgid); }

Result<uint64_t> Getpgid(Task& t, const SyscallArgs& args) {
  return static_cast<uint64_t>(TRY(t.kernel().Getpgid(t, args.I32(0))));
}

Result<uint64_t> Getsid(Task& t, const SyscallArgs& args) {
  return static_cast<uint64_t>(TRY(t.kernel().Getsid(t, args.I32(0))));
}

Result<uint64_t> Getresuid(Task& t, const SyscallArgs& args) {
  const auto& c = t.creds();
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(0), c.ruid));
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(1), c.euid));
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(2), c.suid));
  return 0;
}

Result<uint64_t> Getresgid(Task& t, const SyscallArgs& args) {
  const auto& c = t.creds();
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(0), c.rgid));
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(1), c.egid));
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(2), c.sgid));
  return 0;
}

Result<uint64_t> Getgroups(Task& t, const SyscallArgs& args) {
  const int32_t size = args.I32(0);
  const auto& groups = t.creds().groups;
  if (size < 0) return Errno::kEINVAL;
  if (size == 0) return groups.size();
  if (static_cast<size_t>(size) < groups.size()) return Errno::kEINVAL;
  TRY(t.mm().CopyOut(args.Ptr<uint32_t>(1), std::span<const uint32_t>(groups)));
  return groups.size();
}

Result<uint64_t> SetTidAddress(Task& t, const SyscallArgs& args) {
  t.clear_child_tid = args.U64(0);
  return static_cast<uint64_t>(t.tid());
}

Result<uint64_t> SetRobustList(Task& t, const SyscallArgs& args) {
  // sizeof(struct robust_list_head) on x86-64 (kernel/futex/syscalls.c).
  if (args.U64(1) != 24) return Errno::kEINVAL;
  t.robust_list_head.store(args.U64(0));
  t.robust_list_len = args.U64(1);
  return 0;
}

// get_robust_list(2) (kernel/futex/syscalls.c): pid 0 is the caller; another
// task needs ptrace_may_access(PTRACE_MODE_READ_REALCREDS): the same
// process, or the caller's real ids equal to all of the target's and the
// target dumpable, or CAP_SYS_PTRACE. The length written is always
// sizeof(struct robust_list_head), before the head. An exited task's head
// is null (ExitRobustList clears it).
Result<uint64_t> GetRobustList(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  uint64_t head = 0;
  if (pid == 0) {
    head = t.robust_list_head.load();
  } else {
    bool allowed = false;
    const bool found = t.kernel().WithTask(pid, [&](Task& target) {
      head = target.robust_list_head.load();
      allowed = &target.thread_group() == &t.thread_group() ||
                sentry::kernel::MayPtraceRealCreds(t.creds(), *target.CredsSnapshot(),
                                                   target.thread_group().dumpable.load() == 1);
    });
    if (!found) {
      // An exited process not yet reaped: Linux still finds its task, whose
      // list exit_robust_list cleared (a null head). The sentry keeps no
      // credentials of a zombie, so no EPERM here (nothing to read anyway).
      if (t.kernel().FindProcess(pid) == nullptr) return Errno::kESRCH;
      allowed = true;
      head = 0;
    }
    if (!allowed) return Errno::kEPERM;
  }
  TRY(t.mm().CopyOut(args.Ptr<uint64_t>(2), uint64_t{24}));
  TRY(t.mm().CopyOut(args.Ptr<uint64_t>(1), head));
  return 0;
}

Result<uint64_t> ArchPrctl(Task& t, const SyscallArgs& args) {
  auto& r = t.regs().regs;
  const uint64_t addr = args.U64(1);
  switch (args.I32(0)) {
    case ARCH_SET_FS:
      if (addr >= kUserLimit) return Errno::kEPERM;
      r.fs_base = addr;
      return 0;
    case ARCH_SET_GS:
      if (addr >= kUserLimit) return Errno::kEPERM;
      r.gs_base = addr;
      return 0;
    case ARCH_GET_FS:
      TRY(t.mm().CopyOut(UserPtr<uint64_t>(addr), static_cast<uint64_t>(r.fs_base)));
      return 0;
    case ARCH_GET_GS:
      TRY(t.mm().CopyOut(UserPtr<uint64_t>(addr), static_cast<uint64_t>(r.gs_base)));
      return 0;
    default:
      return Errno::kEINVAL;
  }
}

namespace {

Result<void> DoPrlimit(Task& t, int resource, const struct rlimit* new_lim, struct rlimit* old_lim) {
  if (resource < 0 || resource >= RLIM_NLIMITS) return Errno::kEINVAL;
  auto& tg = t.thread_group();
  absl::MutexLock l(&tg.mu);
  auto& cur = tg.rlimits[static_cast<size_t>(resource)];
  if (old_lim != nullptr) *old_lim = {cur.cur, cur.max};
  if (new_lim != nullptr) {
    if (new_lim->rlim_cur > new_lim->rlim_max) return Errno::kEINVAL;
    // Raising the hard limit needs CAP_SYS_RESOURCE (kernel/sys.c).
    if (new_lim->rlim_max > cur.max && !t.creds().HasCap(CAP_SYS_RESOURCE)) return Errno::kEPERM;
    if (resource == RLIMIT_NOFILE && new_lim->rlim_max > 1048576) return Errno::kEPERM;  // nr_open
    cur = {new_lim->rlim_cur, new_lim->rlim_max};
    if (resource == RLIMIT_NOFILE) t.fds().set_limit(new_lim->rlim_cur);
  }
  return {};
}

}  // namespace

Result<uint64_t> Prlimit64(Task& t, const SyscallArgs& args) {
  const int32_t pid = args.I32(0);
  if (pid != 0 && pid != t.pid()) return Errno::kESRCH;  // TODO(#5): other processes.
  const auto new_ptr = args.Ptr<struct rlimit>(2);
  const auto old_ptr = args.Ptr<struct rlimit>(3);
  struct rlimit new_lim {};
  if (!new_ptr.null()) new_lim = TRY(t.mm().CopyIn(new_ptr));
  struct rlimit old_lim {};
  TRY(DoPrlimit(t, args.I32(1), new_ptr.null() ? nullptr : &new_lim, &old_lim));
  if (!old_ptr.null()) TRY(t.mm().CopyOut(old_ptr, old_lim));
  return 0;
}

Result<uint64_t> Getrlimit(Task& t, const SyscallArgs& args) {
  struct rlimit lim {};
  TRY(DoPrlimit(t, args.I32(0), nullptr, &lim));
  TRY(t.mm().CopyOut(args.Ptr<struct rlimit>(1), lim));
  return 0;
}

Result<uint64_t> Setrlimit(Task& t, const SyscallArgs& args) {
  struct rlimit lim = TRY(t.mm().CopyIn(args.Ptr<struct rlimit>(1)));
  TRY(DoPrlimit(t, args.I32(0), &lim, nullptr));
  return 0;
}

Result<uint64_t> Uname(Task& t, const SyscallArgs& args) {
  struct utsname u {};
  auto set = [](char* dst, std::string_view s) {
    const size_t n = std::min(s.size(), sizeof(u.sysname) - 1);
    std::memcpy(dst, s.data(), n);
  };
  set(u.sysname, "Linux");
  set(u.nodename, t.kernel().hostname());
  // Like gVisor, a fixed release rather than the host's, so apps cannot
  // fingerprint the host kernel through us.
  set(u.release, "6.1.0");
  set(u.version, "#1 SMP runsc-cpp");
  set(u.machine, "x86_64");
  set(u.domainname, t.kernel().domainname());
  TRY(t.mm().CopyOut(args.Ptr<struct utsname>(0), u));
  return 0;
}

namespace {

// sethostname/setdomainname (kernel/sys.c): CAP_SYS_ADMIN, at most
// __NEW_UTS_LEN bytes, copied as given (a NUL ends the name for readers).
Result<uint64_t> SetUtsName(Task& t, const SyscallArgs& args, std::string_view key) {
  constexpr int64_t kNewUtsLen = 64;
  if (!t.creds().HasCap(CAP_SYS_ADMIN)) return Errno::kEPERM;
  const int64_t len = args.I32(1);
  if (len < 0 || len > kNewUtsLen) return Errno::kEINVAL;
  std::string name(static_cast<size_t>(len), '\0');
  TRY(t.mm().CopyInBytes(args.U64(0), {reinterpret_cast<uint8_t*>(name.data()), name.size()}));
  name.resize(std::min(name.size(), name.find('\0')));
  t.kernel().SetSysctl(key, std::move(name));
  return 0;
}

}  // namespace

Result<uint64_t> Sethostname(Task& t, const SyscallArgs& args) { return SetUtsName(t, args, "kernel/hostname"); }

Result<uint64_t> Setdomainname(Task& t, const SyscallArgs& args) { return SetUtsName(t, args, "kernel/domainname"); }

Result<uint64_t> Sysinfo(Task& t, const SyscallArgs& args) {
  struct sysinfo si {};
  si.uptime = absl::ToInt64Seconds(absl::Now() - t.kernel().boot_time());
  // The sandbox's own view: its memory budget, not the host's.
  const auto& mf = t.kernel().memory_file();
  si.totalram = mf.capacity();
  si.freeram = mf.capacity() - std::min(mf.committed(), mf.capacity());
  si.procs = static_cast<uint16_t>(t.kernel().TaskCount());
  si.mem_unit = 1;
  TRY(t.mm().CopyOut(args.Ptr<struct sysinfo>(0), si));
  return 0;
}

Result<uint64_t> Getrandom(Task& t, const SyscallArgs& args) {
  const unsigned flags = args.U32(2);
  constexpr unsigned kValid = GRND_NONBLOCK | GRND_RANDOM | 0x0004 /* GRND_INSECURE */;
  if (flags & ~kValid) return Errno::kEINVAL;
  if ((flags & 0x0004) && (flags & GRND_RANDOM)) return Errno::kEINVAL;
  // Linux caps one call at MAX_RW_COUNT-ish; large requests return short.
  const size_t len = std::min<uint64_t>(args.U64(1), 1 << 20);
  std::vector<uint8_t> buf(len);
  size_t done = 0;
  while (done < len) {
    // The sentry's own entropy source, not the app's syscall: the bytes go
    // through the copy-out interface.
    ssize_t n = ::getrandom(buf.data() + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::FromHost(errno);
    }
    done += static_cast<size_t>(n);
  }
  TRY(t.mm().CopyOutBytes(args.U64(0), buf));
  return len;
}

Result<uint64_t> Umask(Task& t, const SyscallArgs& args) { return t.fs().SwapUmask(args.U32(0) & 0777); }

}  // namespace syscalls
