// Linux's credential rules: kernel/sys.c (set*id), kernel/groups.c,
// security/commoncap.c (capset, the setuid capability fixups, execve).
#include "sentry/kernel/credentials.h"

#include <algorithm>

namespace sentry::kernel {
namespace {

using base::Errno;

// CAP_FS_MASK (include/linux/capability.h): what an fsuid change moves.
constexpr CapSet kFsMask = CapBit(CAP_CHOWN) | CapBit(CAP_DAC_OVERRIDE) | CapBit(CAP_DAC_READ_SEARCH) |
                           CapBit(CAP_FOWNER) | CapBit(CAP_FSETID) | CapBit(CAP_LINUX_IMMUTABLE) |
                           CapBit(CAP_MAC_OVERRIDE);

bool IsSubset(CapSet a, CapSet b) { return (a & ~b) == 0; }

bool Secure(const Credentials& c, uint32_t bit) { return (c.securebits & bit) != 0; }

// cap_emulate_setxuid(): leaving root for good drops the permitted and
// effective sets (unless KEEP_CAPS) and always the ambient set; an euid
// change to or from 0 drops or restores the effective set.
void EmulateSetxuid(Credentials& n, const Credentials& old) {
  if (Secure(old, kSecbitNoSetuidFixup)) return;
  const bool old_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
  const bool new_root = n.ruid == 0 || n.euid == 0 || n.suid == 0;
  if (old_root && !new_root) {
    if (!Secure(old, kSecbitKeepCaps)) {
      n.cap_permitted = 0;
      n.cap_effective = 0;
    }
    n.cap_ambient = 0;
  }
  if (old.euid == 0 && n.euid != 0) n.cap_effective = 0;
  if (old.euid != 0 && n.euid == 0) n.cap_effective = n.cap_permitted;
}

// The LSM_SETID_FS case of cap_task_fix_setuid().
void FixFsuid(Credentials& n, const Credentials& old) {
  if (Secure(old, kSecbitNoSetuidFixup)) return;
  if (old.fsuid == 0 && n.fsuid != 0) n.cap_effective &= ~kFsMask;
  if (old.fsuid != 0 && n.fsuid == 0) n.cap_effective |= n.cap_permitted & kFsMask;
}

bool Either(uint32_t id, uint32_t a, uint32_t b) { return id == a || id == b; }

}  // namespace

Credentials Credentials::Root() { return Credentials{}; }

Credentials Credentials::ForUser(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  Credentials c;
  c.ruid = c.euid = c.suid = c.fsuid = uid;
  c.rgid = c.egid = c.sgid = c.fsgid = gid;
  std::sort(groups.begin(), groups.end());
  c.groups = std::move(groups);
  if (uid != 0) {
    c.cap_permitted = 0;
    c.cap_effective = 0;
  }
  return c;
}

bool Credentials::InGroup(uint32_t gid) const {
  return gid == fsgid || std::binary_search(groups.begin(), groups.end(), gid);
}

base::Result<void> Credentials::SetUid(uint32_t uid) {
  if (uid == kNoId) return Errno::kEINVAL;
  Credentials n = *this;
  if (HasCap(CAP_SETUID)) {
    n.ruid = n.suid = uid;
  } else if (uid != ruid && uid != suid) {
    return Errno::kEPERM;
  }
  n.euid = n.fsuid = uid;
  EmulateSetxuid(n, *this);
  *this = std::move(n);
  return {};
}

base::Result<void> Credentials::SetReuid(uint32_t r, uint32_t e) {
  Credentials n = *this;
  const bool cap = HasCap(CAP_SETUID);
  if (r != kNoId) {
    if (!cap && !Either(r, ruid, euid)) return Errno::kEPERM;
    n.ruid = r;
  }
  if (e != kNoId) {
    if (!cap && !Either(e, ruid, euid) && e != suid) return Errno::kEPERM;
    n.euid = e;
  }
  if (r != kNoId || (e != kNoId && e != ruid)) n.suid = n.euid;
  n.fsuid = n.euid;
  EmulateSetxuid(n, *this);
  *this = std::move(n);
  return {};
}

base::Result<void> Credentials::SetResuid(uint32_t r, uint32_t e, uint32_t s) {
  if (!HasCap(CAP_SETUID)) {
    auto ok = [&](uint32_t id) { return id == kNoId || id == ruid || id == euid || id == suid; };
    if (!ok(r) || !ok(e) || !ok(s)) return Errno::kEPERM;
  }
  Credentials n = *this;
  if (r != kNoId) n.ruid = r;
  if (e != kNoId) n.euid = e;
  if (s != kNoId) n.suid = s;
  n.fsuid = n.euid;
  EmulateSetxuid(n, *this);
  *this = std::move(n);
  return {};
}

uint32_t Credentials::SetFsuid(uint32_t uid) {
  const uint32_t old_fsuid = fsuid;
  if (uid == kNoId) return old_fsuid;
  if (uid == ruid || uid == euid || uid == suid || uid == fsuid || HasCap(CAP_SETUID)) {
    if (uid != old_fsuid) {
      Credentials n = *this;
      n.fsuid = uid;
      FixFsuid(n, *this);
      *this = std::move(n);
    }
  }
  return old_fsuid;
}

base::Result<void> Credentials::SetGid(uint32_t gid) {
  if (gid == kNoId) return Errno::kEINVAL;
  if (HasCap(CAP_SETGID)) {
    rgid = sgid = gid;
  } else if (gid != rgid && gid != sgid) {
    return Errno::kEPERM;
  }
  egid = fsgid = gid;
  return {};
}

base::Result<void> Credentials::SetRegid(uint32_t r, uint32_t e) {
  const bool cap = HasCap(CAP_SETGID);
  if (r != kNoId && !cap && !Either(r, rgid, egid)) return Errno::kEPERM;
  if (e != kNoId && !cap && !Either(e, rgid, egid) && e != sgid) return Errno::kEPERM;
  const uint32_t old_rgid = rgid;
  if (r != kNoId) rgid = r;
  if (e != kNoId) egid = e;
  if (r != kNoId || (e != kNoId && e != old_rgid)) sgid = egid;
  fsgid = egid;
  return {};
}

base::Result<void> Credentials::SetResgid(uint32_t r, uint32_t e, uint32_t s) {
  if (!HasCap(CAP_SETGID)) {
    auto ok = [&](uint32_t id) { return id == kNoId || id == rgid || id == egid || id == sgid; };
    if (!ok(r) || !ok(e) || !ok(s)) return Errno::kEPERM;
  }
  if (r != kNoId) rgid = r;
  if (e != kNoId) egid = e;
  if (s != kNoId) sgid = s;
  fsgid = egid;
  return {};
}

uint32_t Credentials::SetFsgid(uint32_t gid) {
  const uint32_t old_fsgid = fsgid;
  if (gid == kNoId) return old_fsgid;
  if (gid == rgid || gid == egid || gid == sgid || gid == fsgid || HasCap(CAP_SETGID)) fsgid = gid;
  return old_fsgid;
}

base::Result<void> Credentials::SetGroups(std::vector<uint32_t> g) {
  if (g.size() > kNgroupsMax) return Errno::kEINVAL;
  if (!HasCap(CAP_SETGID)) return Errno::kEPERM;
  std::sort(g.begin(), g.end());  // groups_sort()
  groups = std::move(g);
  return {};
}

base::Result<void> Credentials::SetCaps(CapSet effective, CapSet permitted, CapSet inheritable) {
  // Bits above CAP_LAST_CAP are ignored (capset masks the last word).
  effective &= kAllCaps, permitted &= kAllCaps, inheritable &= kAllCaps;
  // cap_inh_is_capped(): without CAP_SETPCAP the new inheritable set must
  // come from the old inheritable and permitted sets.
  if (!HasCap(CAP_SETPCAP) && !IsSubset(inheritable, cap_inheritable | cap_permitted)) return Errno::kEPERM;
  if (!IsSubset(inheritable, cap_inheritable | cap_bounding)) return Errno::kEPERM;
  if (!IsSubset(permitted, cap_permitted)) return Errno::kEPERM;
  if (!IsSubset(effective, permitted)) return Errno::kEPERM;
  cap_effective = effective;
  cap_permitted = permitted;
  cap_inheritable = inheritable;
  cap_ambient &= permitted & inheritable;
  return {};
}

base::Result<void> Credentials::DropBoundingCap(int cap) {
  if (cap < 0 || cap > kCapLastCap) return Errno::kEINVAL;
  if (!HasCap(CAP_SETPCAP)) return Errno::kEPERM;
  cap_bounding &= ~CapBit(cap);
  return {};
}

base::Result<void> Credentials::SetSecurebits(uint32_t bits) {
  constexpr uint32_t kLocks = 0xaa, kBits = 0x55;
  if ((((securebits & kLocks) >> 1) & (securebits ^ bits)) != 0 || (securebits & kLocks & ~bits) != 0 ||
      (bits & ~(kLocks | kBits)) != 0 || !HasCap(CAP_SETPCAP)) {
    return Errno::kEPERM;
  }
  securebits = bits;
  return {};
}

base::Result<void> Credentials::RaiseAmbient(int cap) {
  if (cap < 0 || cap > kCapLastCap) return Errno::kEINVAL;
  if (!(cap_permitted & CapBit(cap)) || !(cap_inheritable & CapBit(cap)) ||
      Secure(*this, kSecbitNoCapAmbientRaise)) {
    return Errno::kEPERM;
  }
  cap_ambient |= CapBit(cap);
  return {};
}

Credentials Credentials::AfterExec(uint32_t setuid, uint32_t setgid) const {
  Credentials n = *this;
  if (setuid != kNoId) n.euid = setuid;
  if (setgid != kNoId) n.egid = setgid;
  const bool is_setid = n.euid != euid || n.egid != egid;
  // get_file_caps() with no file capabilities, then handle_privileged_root():
  // root is treated as holding every file capability.
  n.cap_permitted = 0;
  bool effective = false;
  if (!Secure(*this, kSecbitNoroot)) {
    if (n.euid == 0 || n.ruid == 0) n.cap_permitted = cap_bounding | cap_inheritable;
    if (n.euid == 0) effective = true;
  }
  n.suid = n.fsuid = n.euid;
  n.sgid = n.fsgid = n.egid;
  if (is_setid) n.cap_ambient = 0;
  n.cap_permitted |= n.cap_ambient;
  n.cap_effective = effective ? n.cap_permitted : n.cap_ambient;
  n.securebits &= ~kSecbitKeepCaps;
  return n;
}

Credentials Credentials::ForAccess() const {
  Credentials n = *this;
  n.fsuid = ruid;
  n.fsgid = rgid;
  if (!Secure(*this, kSecbitNoSetuidFixup)) n.cap_effective = ruid != 0 ? 0 : cap_permitted;
  return n;
}

bool MayPtraceRealCreds(const Credentials& me, const Credentials& tc, bool target_dumpable) {
  if (me.HasCap(CAP_SYS_PTRACE)) return true;
  const bool same = me.ruid == tc.ruid && me.ruid == tc.euid && me.ruid == tc.suid && me.rgid == tc.rgid &&
                    me.rgid == tc.egid && me.rgid == tc.sgid;
  return same && target_dumpable;
}

}  // namespace sentry::kernel
