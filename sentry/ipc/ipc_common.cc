#include "sentry/ipc/ipc_common.h"

#include <linux/capability.h>

#include "absl/time/clock.h"

namespace sentry::ipc {

bool HasPerm(const Credentials& c, const Perm& p, int flag) {
  // ipc/util.c ipcperms().
  const uint32_t requested = (static_cast<uint32_t>(flag) >> 6) | (static_cast<uint32_t>(flag) >> 3) |
                             static_cast<uint32_t>(flag);
  uint32_t granted = p.mode;
  if (c.euid == p.cuid || c.euid == p.uid) {
    granted >>= 6;
  } else if (c.InGroup(p.cgid) || c.InGroup(p.gid)) {
    granted >>= 3;
  }
  return (requested & ~granted & 07) == 0 || c.HasCap(CAP_IPC_OWNER);
}

bool IsOwnerOrAdmin(const Credentials& c, const Perm& p) {
  return c.euid == p.cuid || c.euid == p.uid || c.HasCap(CAP_SYS_ADMIN);
}

void SetPerm(Perm& p, uint32_t uid, uint32_t gid, uint32_t mode) {
  // ipc_update_perm().
  p.uid = uid;
  p.gid = gid;
  p.mode = (p.mode & ~kModeMask) | (mode & kModeMask);
}

Ipc64Perm ToIpc64Perm(const Perm& p) {
  Ipc64Perm o{};
  o.key = p.key;
  o.uid = p.uid;
  o.gid = p.gid;
  o.cuid = p.cuid;
  o.cgid = p.cgid;
  o.mode = p.mode;
  o.seq = p.seq;
  return o;
}

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

}  // namespace sentry::ipc
