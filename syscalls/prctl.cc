// prctl(2) (kernel/sys.c, security/commoncap.c cap_task_prctl) and
// personality(2).
#include <linux/capability.h>
#include <linux/personality.h>
#include <linux/prctl.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::Credentials;

// TASK_SIZE and mmap_min_addr for PR_SET_MM addresses.
constexpr uint64_t kMmapMinAddr = 65536;
// sizeof(struct prctl_mm_map) (include/uapi/linux/prctl.h).
constexpr uint32_t kPrctlMmMapSize = 104;

Result<uint64_t> ChangeCreds(Task& t, absl::FunctionRef<Result<void>(Credentials&)> change) {
  Credentials n = t.creds();
  TRY(change(n));
  t.CommitCreds(std::move(n));
  return 0;
}

Result<uint64_t> SetName(Task& t, uint64_t addr) {
  // strncpy_from_user(comm, addr, 15): up to 15 bytes, a NUL ends it early.
  uint8_t buf[16] = {};
  const size_t n = TRY(t.mm().CopyInBytesPartial(addr, {buf, 15}));
  if (n == 0) return Errno::kEFAULT;
  const size_t len = std::find(buf, buf + n, 0) - buf;
  if (len == n && n < 15) return Errno::kEFAULT;  // faulted before a NUL
  t.SetComm(std::string_view(reinterpret_cast<const char*>(buf), len));
  return 0;
}

// prctl_set_mm(): the address options need CAP_SYS_RESOURCE and a user
// address; PR_SET_MM_MAP_SIZE reports the struct size.
Result<uint64_t> SetMm(Task& t, uint64_t opt, uint64_t addr, uint64_t arg4) {
  if (opt == PR_SET_MM_MAP_SIZE) {
    TRY(t.mm().CopyOut(UserPtr<uint32_t>(addr), kPrctlMmMapSize));
    return 0;
  }
  if (opt == PR_SET_MM_MAP) {
    if (arg4 != kPrctlMmMapSize) return Errno::kEINVAL;
    if (!t.creds().HasCap(CAP_SYS_RESOURCE)) return Errno::kEPERM;
    return Errno::kEINVAL;  // TODO(#5): replacing the whole layout
  }
  if (!t.creds().HasCap(CAP_SYS_RESOURCE)) return Errno::kEPERM;
  switch (opt) {
    case PR_SET_MM_START_CODE:
    case PR_SET_MM_END_CODE:
    case PR_SET_MM_START_DATA:
    case PR_SET_MM_END_DATA:
    case PR_SET_MM_START_STACK:
    case PR_SET_MM_START_BRK:
    case PR_SET_MM_BRK:
    case PR_SET_MM_ARG_START:
    case PR_SET_MM_ARG_END:
    case PR_SET_MM_ENV_START:
    case PR_SET_MM_ENV_END:
      if (addr >= kTaskSize || addr < kMmapMinAddr) return Errno::kEINVAL;
      // Accepted and not recorded: nothing in the sandbox reads these
      // fields back yet (TODO(#5): /proc/<pid>/cmdline from arg_start).
      return 0;
    case PR_SET_MM_AUXV:
    case PR_SET_MM_EXE_FILE:
      return Errno::kEINVAL;  // TODO(#5)
    default:
      return Errno::kEINVAL;
  }
}

}  // namespace

Result<uint64_t> Prctl(Task& t, const SyscallArgs& args) {
  const uint64_t a2 = args.U64(1), a3 = args.U64(2), a4 = args.U64(3), a5 = args.U64(4);
  switch (args.I32(0)) {
    case PR_SET_NAME:
      return SetName(t, a2);
    case PR_GET_NAME: {
      char buf[16] = {};
      const std::string comm = t.Comm();
      std::memcpy(buf, comm.data(), std::min<size_t>(comm.size(), 15));
      TRY(t.mm().CopyOutBytes(a2, {reinterpret_cast<const uint8_t*>(buf), sizeof(buf)}));
      return 0;
    }
    case PR_GET_DUMPABLE:
      return static_cast<uint64_t>(t.thread_group().dumpable.load());
    case PR_SET_DUMPABLE:
      if (a2 != 0 && a2 != 1) return Errno::kEINVAL;  // SUID_DUMP_ROOT is not settable
      t.thread_group().dumpable = static_cast<int>(a2);
      return 0;
    case PR_SET_NO_NEW_PRIVS:
      if (a2 != 1 || a3 || a4 || a5) return Errno::kEINVAL;
      t.no_new_privs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a2 || a3 || a4 || a5) return Errno::kEINVAL;
      return t.no_new_privs ? 1 : 0;
    case PR_SET_PDEATHSIG:
      if (a2 > 64) return Errno::kEINVAL;  // !valid_signal()
      t.pdeath_signal = static_cast<int32_t>(a2);
      return 0;
    case PR_GET_PDEATHSIG:
      TRY(t.mm().CopyOut(args.Ptr<int32_t>(1), t.pdeath_signal.load()));
      return 0;
    case PR_SET_CHILD_SUBREAPER:
      t.thread_group().child_subreaper = a2 != 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      TRY(t.mm().CopyOut(args.Ptr<int32_t>(1), static_cast<int32_t>(t.thread_group().child_subreaper.load())));
      return 0;
    // Capabilities (security/commoncap.c cap_task_prctl).
    case PR_CAPBSET_READ:
      if (a2 > static_cast<uint64_t>(sentry::kernel::kCapLastCap)) return Errno::kEINVAL;
      return (t.creds().cap_bounding >> a2) & 1;
    case PR_CAPBSET_DROP:
      if (a2 > static_cast<uint64_t>(sentry::kernel::kCapLastCap)) return Errno::kEINVAL;
      return ChangeCreds(t, [&](Credentials& c) { return c.DropBoundingCap(static_cast<int>(a2)); });
    case PR_GET_KEEPCAPS:
      return (t.creds().securebits & sentry::kernel::kSecbitKeepCaps) ? 1 : 0;
    case PR_SET_KEEPCAPS:
      if (a2 > 1 || a3 || a4 || a5) return Errno::kEINVAL;
      if (t.creds().securebits & sentry::kernel::kSecbitKeepCapsLocked) return Errno::kEPERM;
      return ChangeCreds(t, [&](Credentials& c) -> Result<void> {
        if (a2) {
          c.securebits |= sentry::kernel::kSecbitKeepCaps;
        } else {
          c.securebits &= ~sentry::kernel::kSecbitKeepCaps;
        }
        return {};
      });
    case PR_GET_SECUREBITS:
      return t.creds().securebits;
    case PR_SET_SECUREBITS:
      return ChangeCreds(t, [&](Credentials& c) { return c.SetSecurebits(static_cast<uint32_t>(a2)); });
    case PR_CAP_AMBIENT:
      if (a2 == PR_CAP_AMBIENT_CLEAR_ALL) {
        if (a3 || a4 || a5) return Errno::kEINVAL;
        return ChangeCreds(t, [](Credentials& c) -> Result<void> {
          c.cap_ambient = 0;
          return {};
        });
      }
      if (a3 > static_cast<uint64_t>(sentry::kernel::kCapLastCap) || a4 || a5) return Errno::kEINVAL;
      switch (a2) {
        case PR_CAP_AMBIENT_IS_SET:
          return (t.creds().cap_ambient >> a3) & 1;
        case PR_CAP_AMBIENT_RAISE:
          return ChangeCreds(t, [&](Credentials& c) { return c.RaiseAmbient(static_cast<int>(a3)); });
        case PR_CAP_AMBIENT_LOWER:
          return ChangeCreds(t, [&](Credentials& c) -> Result<void> {
            c.LowerAmbient(static_cast<int>(a3));
            return {};
          });
        default:
          return Errno::kEINVAL;
      }
    case PR_GET_SECCOMP:
      return static_cast<uint64_t>(t.seccomp_mode.load());
    case PR_SET_SECCOMP:
      // prctl_set_seccomp(): mode 1 is SET_MODE_STRICT, mode 2 SET_MODE_FILTER with arg3.
      if (a2 == 1) return SetSeccompMode(t, 0, 0, 0);
      if (a2 == 2) return SetSeccompMode(t, 1, 0, a3);
      return Errno::kEINVAL;
    case PR_SET_MM:
      return SetMm(t, a2, a3, a4);
    case PR_GET_TIMERSLACK:
      return 50000;  // Linux's default, in ns
    default:
      return Errno::kEINVAL;
  }
}

Result<uint64_t> Personality(Task& t, const SyscallArgs& args) {
  // Only the PER_LINUX execution domain exists; its flags (ADDR_NO_RANDOMIZE
  // & co) are recorded and reported back but change nothing yet.
  // 0xffffffff only queries.
  const uint32_t persona = args.U32(0);
  auto& p = t.thread_group().personality;
  if (persona == 0xffffffffu) return p.load();
  return p.exchange(persona);
}

}  // namespace syscalls
