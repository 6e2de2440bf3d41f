// Credential changes: set*id, setgroups, capget/capset (kernel/sys.c,
// kernel/groups.c, kernel/capability.c). The rules live in
// sentry/kernel/credentials.cc; here we decode, copy and install.
#include <linux/capability.h>

#include <vector>

#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::CapSet;
using sentry::kernel::Credentials;

// Applies `change` to a copy of t's credentials and installs the copy if it
// succeeds (prepare_creds/commit_creds).
template <typename F>
Result<uint64_t> Change(Task& t, F change) {
  Credentials n = t.creds();
  TRY(change(n));
  t.CommitCreds(std::move(n));
  return 0;
}

// capget/capset header versions (include/uapi/linux/capability.h).
constexpr uint32_t kCapV1 = 0x19980330, kCapV2 = 0x20071026, kCapV3 = 0x20080522;

struct CapHeader {
  uint32_t version;
  int32_t pid;
};
struct CapData {
  uint32_t effective, permitted, inheritable;
};

// cap_validate_magic(): the number of 32-bit words, or EINVAL after writing
// the preferred version back to the header.
Result<int> CapWords(Task& t, UserPtr<CapHeader> hdr_ptr, CapHeader& hdr) {
  switch (hdr.version) {
    case kCapV1:
      return 1;
    case kCapV2:
    case kCapV3:
      return 2;
    default:
      hdr.version = kCapV3;
      TRY(t.mm().CopyOut(hdr_ptr, hdr));
      return Errno::kEINVAL;
  }
}

}  // namespace

Result<uint64_t> Setuid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetUid(args.U32(0)); });
}

Result<uint64_t> Setgid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetGid(args.U32(0)); });
}

Result<uint64_t> Setreuid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetReuid(args.U32(0), args.U32(1)); });
}

Result<uint64_t> Setregid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetRegid(args.U32(0), args.U32(1)); });
}

Result<uint64_t> Setresuid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetResuid(args.U32(0), args.U32(1), args.U32(2)); });
}

Result<uint64_t> Setresgid(Task& t, const SyscallArgs& args) {
  return Change(t, [&](Credentials& c) { return c.SetResgid(args.U32(0), args.U32(1), args.U32(2)); });
}

Result<uint64_t> Setfsuid(Task& t, const SyscallArgs& args) {
  Credentials n = t.creds();
  const uint32_t old = n.SetFsuid(args.U32(0));
  t.CommitCreds(std::move(n));
  return old;
}

Result<uint64_t> Setfsgid(Task& t, const SyscallArgs& args) {
  Credentials n = t.creds();
  const uint32_t old = n.SetFsgid(args.U32(0));
  t.CommitCreds(std::move(n));
  return old;
}

Result<uint64_t> Setgroups(Task& t, const SyscallArgs& args) {
  const int32_t size = args.I32(0);
  if (size < 0 || static_cast<size_t>(size) > sentry::kernel::kNgroupsMax) return Errno::kEINVAL;
  // Linux checks the capability before reading the list.
  if (!t.creds().HasCap(CAP_SETGID)) return Errno::kEPERM;
  std::vector<uint32_t> groups(static_cast<size_t>(size));
  if (size > 0) {
    TRY(t.mm().CopyInBytes(args.U64(1), {reinterpret_cast<uint8_t*>(groups.data()), groups.size() * 4}));
  }
  return Change(t, [&](Credentials& c) { return c.SetGroups(std::move(groups)); });
}

Result<uint64_t> Capget(Task& t, const SyscallArgs& args) {
  const auto hdr_ptr = args.Ptr<CapHeader>(0);
  const auto data_ptr = args.Ptr<CapData>(1);
  CapHeader hdr = TRY(t.mm().CopyIn(hdr_ptr));
  auto words_or = CapWords(t, hdr_ptr, hdr);
  // A version probe: with NULL data even an unknown version succeeds.
  if (data_ptr.null() && (words_or.ok() || words_or.error() == Errno::kEINVAL)) return 0;
  const int words = TRY(std::move(words_or));
  if (hdr.pid < 0) return Errno::kEINVAL;
  std::shared_ptr<const Credentials> cr;
  if (hdr.pid == 0 || hdr.pid == t.tid()) {
    cr = t.CredsSnapshot();
  } else {
    cr = t.kernel().TaskCreds(hdr.pid);
    if (cr == nullptr) return Errno::kESRCH;
  }
  CapData d[2] = {};
  for (int i = 0; i < words; ++i) {
    d[i].effective = static_cast<uint32_t>(cr->cap_effective >> (32 * i));
    d[i].permitted = static_cast<uint32_t>(cr->cap_permitted >> (32 * i));
    d[i].inheritable = static_cast<uint32_t>(cr->cap_inheritable >> (32 * i));
  }
  TRY(t.mm().CopyOut(data_ptr, std::span<const CapData>(d, static_cast<size_t>(words))));
  return 0;
}

Result<uint64_t> Capset(Task& t, const SyscallArgs& args) {
  const auto hdr_ptr = args.Ptr<CapHeader>(0);
  CapHeader hdr = TRY(t.mm().CopyIn(hdr_ptr));
  const int words = TRY(CapWords(t, hdr_ptr, hdr));
  // Only the calling task's own capabilities may be set.
  if (hdr.pid != 0 && hdr.pid != t.tid()) return Errno::kEPERM;
  CapData d[2] = {};
  TRY(t.mm().CopyInBytes(args.U64(1), {reinterpret_cast<uint8_t*>(d), sizeof(CapData) * static_cast<size_t>(words)}));
  CapSet e = 0, p = 0, i = 0;
  for (int w = 0; w < words; ++w) {
    e |= CapSet{d[w].effective} << (32 * w);
    p |= CapSet{d[w].permitted} << (32 * w);
    i |= CapSet{d[w].inheritable} << (32 * w);
  }
  return Change(t, [&](Credentials& c) { return c.SetCaps(e, p, i); });
}

}  // namespace syscalls
