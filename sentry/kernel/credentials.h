// Credentials: a task's user and group ids, supplementary groups,
// capability sets and securebits (Linux's struct cred), with Linux's rules
// for changing them (kernel/sys.c, kernel/groups.c, kernel/capability.c,
// security/commoncap.c).
//
// Who uses what:
//   - syscalls/creds.cc: set*id, setgroups, capget/capset through the
//     Set* methods below (each returns EPERM/EINVAL as Linux and leaves
//     *this unchanged on error).
//   - fs/: permission checks use fsuid/fsgid/groups (InGroup) and the
//     effective capabilities (HasCap(CAP_DAC_OVERRIDE) & co).
//   - The first process: Kernel::Run takes ExecSpec::creds (runsc do: Root()
//     or ForUser(uid, gid); OCI: fill the fields from config.json's
//     process.user and process.capabilities, then Kernel::Exec applies
//     execve's capability rules (AfterExec) as runc's final execve would).
//
// A Task's credentials are immutable snapshots: the task thread replaces
// them with Task::SetCreds; other threads read Task::CredsSnapshot().
#ifndef SENTRY_KERNEL_CREDENTIALS_H_
#define SENTRY_KERNEL_CREDENTIALS_H_

#include <linux/capability.h>

#include <cstdint>
#include <vector>

#include "base/result.h"

namespace sentry::kernel {

// A capability set: bit n is capability n (CAP_CHOWN = 0 ... CAP_LAST_CAP).
using CapSet = uint64_t;
// Every capability this kernel knows (CAP_LAST_CAP of Linux 6.1: 40).
constexpr int kCapLastCap = 40;
constexpr CapSet kAllCaps = (CapSet{1} << (kCapLastCap + 1)) - 1;
constexpr CapSet CapBit(int cap) { return CapSet{1} << cap; }

// include/uapi/linux/securebits.h.
constexpr uint32_t kSecbitNoroot = 1u << 0;
constexpr uint32_t kSecbitNorootLocked = 1u << 1;
constexpr uint32_t kSecbitNoSetuidFixup = 1u << 2;
constexpr uint32_t kSecbitNoSetuidFixupLocked = 1u << 3;
constexpr uint32_t kSecbitKeepCaps = 1u << 4;
constexpr uint32_t kSecbitKeepCapsLocked = 1u << 5;
constexpr uint32_t kSecbitNoCapAmbientRaise = 1u << 6;
constexpr uint32_t kSecbitNoCapAmbientRaiseLocked = 1u << 7;
constexpr uint32_t kSecbitAll = 0xff;

// An id argument of -1 ("leave unchanged") for the set*id calls.
constexpr uint32_t kNoId = 0xffffffffu;
// NGROUPS_MAX (include/uapi/linux/limits.h).
constexpr size_t kNgroupsMax = 65536;

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, sorted
  // A default-constructed Credentials is the kernel's own: root with every
  // capability (used for internal lookups and as the base of Root()).
  CapSet cap_inheritable = 0;
  CapSet cap_permitted = kAllCaps;
  CapSet cap_effective = kAllCaps;
  CapSet cap_bounding = kAllCaps;
  CapSet cap_ambient = 0;
  uint32_t securebits = 0;  // SECBIT_*; PR_SET_KEEPCAPS is kSecbitKeepCaps

  // uid 0 with every capability.
  static Credentials Root();
  // The credentials a process of `uid`/`gid` has after its execve from a
  // root parent: every capability for uid 0, none otherwise.
  static Credentials ForUser(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {});

  // `cap` is in the effective set (capable()).
  bool HasCap(int cap) const { return cap >= 0 && cap <= kCapLastCap && (cap_effective & CapBit(cap)) != 0; }
  // gid is fsgid or a supplementary group (in_group_p()).
  bool InGroup(uint32_t gid) const;

  // ---- Changes (kernel/sys.c); each leaves *this unchanged on error. ----
  // kNoId for "unchanged" where Linux takes -1.
  base::Result<void> SetUid(uint32_t uid);
  base::Result<void> SetReuid(uint32_t ruid, uint32_t euid);
  base::Result<void> SetResuid(uint32_t ruid, uint32_t euid, uint32_t suid);
  // Returns the previous fsuid whether or not it changed (setfsuid(2)).
  uint32_t SetFsuid(uint32_t uid);
  base::Result<void> SetGid(uint32_t gid);
  base::Result<void> SetRegid(uint32_t rgid, uint32_t egid);
  base::Result<void> SetResgid(uint32_t rgid, uint32_t egid, uint32_t sgid);
  uint32_t SetFsgid(uint32_t gid);
  // setgroups(2): CAP_SETGID; at most kNgroupsMax (EINVAL).
  base::Result<void> SetGroups(std::vector<uint32_t> groups);
  // capset(2) for the calling task (security/commoncap.c cap_capset).
  base::Result<void> SetCaps(CapSet effective, CapSet permitted, CapSet inheritable);
  // PR_CAPBSET_DROP: CAP_SETPCAP (EPERM); cap out of range (EINVAL).
  base::Result<void> DropBoundingCap(int cap);
  // PR_SET_SECUREBITS (security/commoncap.c): CAP_SETPCAP, locked bits.
  base::Result<void> SetSecurebits(uint32_t bits);
  // PR_CAP_AMBIENT_RAISE/LOWER/CLEAR_ALL.
  base::Result<void> RaiseAmbient(int cap);
  void LowerAmbient(int cap) { cap_ambient &= ~CapBit(cap); }

  // execve(2) of a file with no file capabilities (cap_bprm_creds_from_file):
  // root keeps (or gains) its permitted set from the bounding set, others
  // keep only the ambient set; KEEP_CAPS is cleared. `setuid`/`setgid`:
  // the file's owner when it is set-user/group-ID and may be honored.
  Credentials AfterExec(uint32_t setuid = kNoId, uint32_t setgid = kNoId) const;
  // faccessat(2) without AT_EACCESS (access_override_creds): real ids as
  // fs ids; the effective set is cleared for a non-root real uid and set to
  // the permitted set for root.
  Credentials ForAccess() const;
};

// ptrace_may_access() with PTRACE_MODE_REALCREDS for another process (the
// same process is always allowed, which the caller checks): CAP_SYS_PTRACE,
// or every uid and gid of the target equal to the caller's real ones and the
// target dumpable. pidfd_getfd and get_robust_list use it.
bool MayPtraceRealCreds(const Credentials& caller, const Credentials& target, bool target_dumpable);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_CREDENTIALS_H_
