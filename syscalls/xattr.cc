// Extended attributes (fs/xattr.c in Linux). The app may use the user.*
// namespace on regular files and directories of writable filesystems
// (tmpfs, overlay); trusted.* and security.* are refused (no capabilities
// model yet), system.* (ACLs) is not supported. Reads on the read-only
// gofer root find nothing (ENODATA, empty lists), so `ls -l` works.
#include <fcntl.h>
#include <sys/xattr.h>

#include "fs/inotify.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr size_t kXattrNameMax = 255;
constexpr size_t kXattrSizeMax = 65536;
constexpr size_t kXattrListMax = 65536;

enum class Lookup { kFollow, kNoFollow, kFd };

Result<fs::AttrTarget> Target(Task& t, uint64_t arg0, Lookup how) {
  if (how == Lookup::kFd) {
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(static_cast<int>(arg0)));
    return fs::AttrTarget::Of(*f);
  }
  const std::string path = TRY(CopyInPath(t, arg0));
  const fs::Caller c = fs::CallerOf(t);
  const fs::Path p = TRY(t.kernel().vfs().ResolveAt(c, AT_FDCWD, path,
                                                   fs::ResolveOpts{.follow_final = how == Lookup::kFollow}));
  return fs::AttrTarget::Of(p);
}

Result<std::string> CopyInName(Task& t, uint64_t addr) {
  Result<std::string> name = t.mm().CopyInString(addr, kXattrNameMax + 1);
  if (!name.ok()) return name.error() == Errno::kENAMETOOLONG ? Errno::kERANGE : name.error();
  if (name.value().empty() || name.value().size() > kXattrNameMax) return Errno::kERANGE;
  return name;
}

bool KnownNamespace(std::string_view n) {
  return n.starts_with("user.") || n.starts_with("trusted.") || n.starts_with("security.") ||
         n.starts_with("system.");
}

// xattr_permission() (fs/xattr.c) for the namespaces we expose.
Result<void> MayAccess(Task& t, const fs::AttrTarget& target, std::string_view name, int may) {
  if (!KnownNamespace(name)) return Errno::kEOPNOTSUPP;
  if (name.starts_with("system.")) return Errno::kEOPNOTSUPP;  // no POSIX ACLs
  if (name.starts_with("trusted.") || name.starts_with("security.")) {
    // Reads find nothing; writes need capabilities we do not model.
    return may == fs::kMayWrite ? Errno::kEPERM : Errno::kENODATA;
  }
  auto& inode = *target.inode;
  // user.* only on regular files and directories (others: EPERM to write,
  // nothing to read).
  if (!inode.is_regular() && !inode.is_dir()) return may == fs::kMayWrite ? Errno::kEPERM : Errno::kENODATA;
  const fs::Caller c = fs::CallerOf(t);
  const struct stat st = TRY(inode.Stat(c));
  return fs::CheckPermission(t.creds(), st, may);
}

Result<uint64_t> DoSet(Task& t, uint64_t arg0, Lookup how, const SyscallArgs& args) {
  const int flags = args.I32(4);
  const uint64_t size = args.U64(3);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return Errno::kEINVAL;
  const std::string name = TRY(CopyInName(t, args.U64(1)));
  if (size > kXattrSizeMax) return Errno::kE2BIG;
  std::string value(size, '\0');
  if (size > 0) {
    TRY(t.mm().CopyInBytes(args.U64(2), std::span<uint8_t>(reinterpret_cast<uint8_t*>(value.data()), size)));
  }
  const fs::AttrTarget target = TRY(Target(t, arg0, how));
  TRY(fs::Vfs::CheckWritableMount(target));
  TRY(MayAccess(t, target, name, fs::kMayWrite));
  TRY(target.inode->SetXattr(fs::CallerOf(t), name, value, flags));
  fs::inotify::XattrChanged(target);
  return 0;
}

Result<uint64_t> DoGet(Task& t, uint64_t arg0, Lookup how, const SyscallArgs& args) {
  const uint64_t buf = args.U64(2);
  const uint64_t size = args.U64(3);
  const std::string name = TRY(CopyInName(t, args.U64(1)));
  const fs::AttrTarget target = TRY(Target(t, arg0, how));
  TRY(MayAccess(t, target, name, fs::kMayRead));
  const std::string value = TRY(target.inode->GetXattr(fs::CallerOf(t), name));
  if (size == 0) return value.size();
  if (value.size() > size) return Errno::kERANGE;
  TRY(t.mm().CopyOutBytes(buf, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size())));
  return value.size();
}

Result<uint64_t> DoList(Task& t, uint64_t arg0, Lookup how, const SyscallArgs& args) {
  const uint64_t buf = args.U64(1);
  const uint64_t size = args.U64(2);
  const fs::AttrTarget target = TRY(Target(t, arg0, how));
  const std::vector<std::string> names = TRY(target.inode->ListXattr(fs::CallerOf(t)));
  std::string out;
  for (const std::string& n : names) {
    // Only the namespaces the caller could read are listed.
    if (!n.starts_with("user.")) continue;
    out += n;
    out += '\0';
  }
  if (out.size() > kXattrListMax) return Errno::kE2BIG;
  if (size == 0) return out.size();
  if (out.size() > size) return Errno::kERANGE;
  TRY(t.mm().CopyOutBytes(buf, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size())));
  return out.size();
}

Result<uint64_t> DoRemove(Task& t, uint64_t arg0, Lookup how, const SyscallArgs& args) {
  const std::string name = TRY(CopyInName(t, args.U64(1)));
  const fs::AttrTarget target = TRY(Target(t, arg0, how));
  TRY(fs::Vfs::CheckWritableMount(target));
  TRY(MayAccess(t, target, name, fs::kMayWrite));
  TRY(target.inode->RemoveXattr(fs::CallerOf(t), name));
  fs::inotify::XattrChanged(target);
  return 0;
}

}  // namespace

Result<uint64_t> Setxattr(Task& t, const SyscallArgs& args) { return DoSet(t, args.U64(0), Lookup::kFollow, args); }
Result<uint64_t> Lsetxattr(Task& t, const SyscallArgs& args) { return DoSet(t, args.U64(0), Lookup::kNoFollow, args); }
Result<uint64_t> Fsetxattr(Task& t, const SyscallArgs& args) { return DoSet(t, args.U64(0), Lookup::kFd, args); }
Result<uint64_t> Getxattr(Task& t, const SyscallArgs& args) { return DoGet(t, args.U64(0), Lookup::kFollow, args); }
Result<uint64_t> Lgetxattr(Task& t, const SyscallArgs& args) { return DoGet(t, args.U64(0), Lookup::kNoFollow, args); }
Result<uint64_t> Fgetxattr(Task& t, const SyscallArgs& args) { return DoGet(t, args.U64(0), Lookup::kFd, args); }
Result<uint64_t> Listxattr(Task& t, const SyscallArgs& args) { return DoList(t, args.U64(0), Lookup::kFollow, args); }
Result<uint64_t> Llistxattr(Task& t, const SyscallArgs& args) { return DoList(t, args.U64(0), Lookup::kNoFollow, args); }
Result<uint64_t> Flistxattr(Task& t, const SyscallArgs& args) { return DoList(t, args.U64(0), Lookup::kFd, args); }
Result<uint64_t> Removexattr(Task& t, const SyscallArgs& args) { return DoRemove(t, args.U64(0), Lookup::kFollow, args); }
Result<uint64_t> Lremovexattr(Task& t, const SyscallArgs& args) {
  return DoRemove(t, args.U64(0), Lookup::kNoFollow, args);
}
Result<uint64_t> Fremovexattr(Task& t, const SyscallArgs& args) { return DoRemove(t, args.U64(0), Lookup::kFd, args); }

}  // namespace syscalls
