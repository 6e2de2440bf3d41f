// Attribute syscalls (fs/open.c, fs/utimes.c, fs/statfs.c in Linux):
// chmod, chown, utime(s)/utimensat/futimesat, statfs/fstatfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <utime.h>

#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {


// The target of a *at() call with AT_EMPTY_PATH / AT_SYMLINK_NOFOLLOW.
Result<fs::AttrTarget> TargetAt(Task& t, int dirfd, uint64_t path_addr, int flags, bool allow_empty) {
  std::string path;
  if (!(allow_empty && (flags & AT_EMPTY_PATH) && path_addr == 0)) path = TRY(CopyInPath(t, path_addr));
  const fs::Caller c = fs::CallerOf(t);
  if (path.empty()) {
    if (!(allow_empty && (flags & AT_EMPTY_PATH))) return Errno::kENOENT;
    if (dirfd == AT_FDCWD) return fs::AttrTarget::Of(t.fs().cwd());
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(dirfd));
    if (const fs::Path* loc = f->location()) return fs::AttrTarget::Of(*loc);
    return fs::AttrTarget::Of(*f);
  }
  const fs::Path p = TRY(t.kernel().vfs().ResolveAt(
      c, dirfd, path, fs::ResolveOpts{.follow_final = !(flags & AT_SYMLINK_NOFOLLOW)}));
  return fs::AttrTarget::Of(p);
}

Result<fs::AttrTarget> TargetOfFd(Task& t, int fd) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  return fs::AttrTarget::Of(*f);
}

Result<uint64_t> FchmodatCommon(Task& t, int dirfd, uint64_t path, uint32_t mode, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::kEINVAL;
  const fs::AttrTarget target = TRY(TargetAt(t, dirfd, path, flags, true));
  // Symlink modes cannot change (Linux 6.6+: EOPNOTSUPP).
  if (target.inode->is_symlink()) return Errno::kEOPNOTSUPP;
  TRY(t.kernel().vfs().Chmod(fs::CallerOf(t), target, mode));
  return 0;
}

Result<uint64_t> FchownatCommon(Task& t, int dirfd, uint64_t path, uint32_t uid, uint32_t gid, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::kEINVAL;
  const fs::AttrTarget target = TRY(TargetAt(t, dirfd, path, flags, true));
  TRY(t.kernel().vfs().Chown(fs::CallerOf(t), target, uid, gid));
  return 0;
}

// Checks a utimensat timespec: UTIME_NOW / UTIME_OMIT or a valid time.
Result<std::optional<struct timespec>> DecodeTime(const struct timespec& ts) {
  if (ts.tv_nsec == UTIME_OMIT) return std::optional<struct timespec>();
  if (ts.tv_nsec == UTIME_NOW) return std::optional<struct timespec>(ts);
  if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
  return std::optional<struct timespec>(ts);
}

Result<uint64_t> SetTimes(Task& t, const fs::AttrTarget& target, std::optional<struct timespec> a,
                          std::optional<struct timespec> m) {
  TRY(t.kernel().vfs().Utimes(fs::CallerOf(t), target, a, m));
  return 0;
}

// utimes/futimesat: NULL means now; microseconds must be valid.
Result<uint64_t> TimevalsAt(Task& t, int dirfd, uint64_t path, uint64_t tv_addr) {
  std::optional<struct timespec> a, m;
  struct timespec now{0, UTIME_NOW};
  a = m = now;
  if (tv_addr != 0) {
    struct timeval tv[2];
    TRY(t.mm().CopyInBytes(tv_addr, std::span<uint8_t>(reinterpret_cast<uint8_t*>(tv), sizeof(tv))));
    for (const auto& v : tv) {
      if (v.tv_usec < 0 || v.tv_usec >= 1000000) return Errno::kEINVAL;
    }
    a = timespec{tv[0].tv_sec, tv[0].tv_usec * 1000};
    m = timespec{tv[1].tv_sec, tv[1].tv_usec * 1000};
  }
  const fs::AttrTarget target = TRY(TargetAt(t, dirfd, path, 0, false));
  return SetTimes(t, target, a, m);
}

Result<uint64_t> CopyOutStatfs(Task& t, uint64_t buf, const struct statfs& st) {
  TRY(t.mm().CopyOut(UserPtr<struct statfs>(buf), st));
  return 0;
}

}  // namespace

Result<uint64_t> Chmod(Task& t, const SyscallArgs& args) { return FchmodatCommon(t, AT_FDCWD, args.U64(0), args.U32(1), 0); }
Result<uint64_t> Fchmod(Task& t, const SyscallArgs& args) {
  const fs::AttrTarget target = TRY(TargetOfFd(t, args.Fd(0)));
  TRY(t.kernel().vfs().Chmod(fs::CallerOf(t), target, args.U32(1)));
  return 0;
}
Result<uint64_t> Fchmodat(Task& t, const SyscallArgs& args) {
  return FchmodatCommon(t, args.Fd(0), args.U64(1), args.U32(2), 0);
}
Result<uint64_t> Fchmodat2(Task& t, const SyscallArgs& args) {
  return FchmodatCommon(t, args.Fd(0), args.U64(1), args.U32(2), args.I32(3));
}

Result<uint64_t> Chown(Task& t, const SyscallArgs& args) {
  return FchownatCommon(t, AT_FDCWD, args.U64(0), args.U32(1), args.U32(2), 0);
}
Result<uint64_t> Lchown(Task& t, const SyscallArgs& args) {
  return FchownatCommon(t, AT_FDCWD, args.U64(0), args.U32(1), args.U32(2), AT_SYMLINK_NOFOLLOW);
}
Result<uint64_t> Fchown(Task& t, const SyscallArgs& args) {
  const fs::AttrTarget target = TRY(TargetOfFd(t, args.Fd(0)));
  TRY(t.kernel().vfs().Chown(fs::CallerOf(t), target, args.U32(1), args.U32(2)));
  return 0;
}
Result<uint64_t> Fchownat(Task& t, const SyscallArgs& args) {
  return FchownatCommon(t, args.Fd(0), args.U64(1), args.U32(2), args.U32(3), args.I32(4));
}

Result<uint64_t> Utime(Task& t, const SyscallArgs& args) {
  std::optional<struct timespec> a = timespec{0, UTIME_NOW}, m = timespec{0, UTIME_NOW};
  if (args.U64(1) != 0) {
    const struct utimbuf b = TRY(t.mm().CopyIn(UserPtr<struct utimbuf>(args.U64(1))));
    a = timespec{b.actime, 0};
    m = timespec{b.modtime, 0};
  }
  const fs::AttrTarget target = TRY(TargetAt(t, AT_FDCWD, args.U64(0), 0, false));
  return SetTimes(t, target, a, m);
}
Result<uint64_t> Utimes(Task& t, const SyscallArgs& args) { return TimevalsAt(t, AT_FDCWD, args.U64(0), args.U64(1)); }
Result<uint64_t> Futimesat(Task& t, const SyscallArgs& args) {
  return TimevalsAt(t, args.Fd(0), args.U64(1), args.U64(2));
}

Result<uint64_t> Utimensat(Task& t, const SyscallArgs& args) {
  const int dirfd = args.Fd(0);
  const uint64_t path = args.U64(1);
  const uint64_t times = args.U64(2);
  const int flags = args.I32(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::kEINVAL;
  std::optional<struct timespec> a = timespec{0, UTIME_NOW}, m = timespec{0, UTIME_NOW};
  if (times != 0) {
    struct timespec ts[2];
    TRY(t.mm().CopyInBytes(times, std::span<uint8_t>(reinterpret_cast<uint8_t*>(ts), sizeof(ts))));
    a = TRY(DecodeTime(ts[0]));
    m = TRY(DecodeTime(ts[1]));
  }
  fs::AttrTarget target;
  if (path == 0) {
    // utimensat(fd, NULL, ...): the fd itself (a Linux extension futimens uses).
    if (flags & AT_SYMLINK_NOFOLLOW) return Errno::kEINVAL;
    if (dirfd == AT_FDCWD) return Errno::kEFAULT;
    target = TRY(TargetOfFd(t, dirfd));
  } else {
    target = TRY(TargetAt(t, dirfd, path, flags, true));
  }
  return SetTimes(t, target, a, m);
}

Result<uint64_t> Statfs(Task& t, const SyscallArgs& args) {
  const std::string path = TRY(CopyInPath(t, args.U64(0)));
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  const fs::Path p = TRY(vfs.ResolveAt(c, AT_FDCWD, path));
  const struct statfs st = TRY(vfs.Statfs(c, fs::AttrTarget::Of(p)));
  return CopyOutStatfs(t, args.U64(1), st);
}

Result<uint64_t> Fstatfs(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  const fs::Caller c = fs::CallerOf(t);
  fs::AttrTarget target;
  if (const fs::Path* loc = f->location()) {
    target = fs::AttrTarget::Of(*loc);  // O_PATH fds too (fdget_raw)
  } else {
    Result<fs::AttrTarget> r = fs::AttrTarget::Of(*f);
    if (!r.ok()) {
      // Host stdio and other files outside the tree: like Linux's
      // anonymous/pipe filesystems, a bare description.
      struct statfs st {};
      st.f_type = 0x50495045;  // PIPEFS_MAGIC
      st.f_bsize = 4096;
      st.f_namelen = fs::kNameMax;
      return CopyOutStatfs(t, args.U64(1), st);
    }
    target = r.value();
  }
  const struct statfs st = TRY(t.kernel().vfs().Statfs(c, target));
  return CopyOutStatfs(t, args.U64(1), st);
}

}  // namespace syscalls
