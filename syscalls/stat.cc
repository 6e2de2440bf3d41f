// stat family, access, readlink, getcwd/chdir (fs/stat.c, fs/open.c,
// fs/d_path.c in Linux).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {


// A path argument that AT_EMPTY_PATH lets be empty (or NULL, since 6.11).
Result<std::string> CopyInPathMaybeEmpty(Task& t, uint64_t addr, bool empty_ok) {
  if (empty_ok && addr == 0) return std::string();
  return CopyInPath(t, addr);
}

// A stat and the inode it is of (null for a file outside the tree: host
// stdio), for statx's extra fields.
struct Statted {
  struct stat st;
  std::shared_ptr<fs::Inode> inode;
};

// stat of dirfd/path; an empty path (allowed by the caller) means dirfd itself.
Result<Statted> StatAt(Task& t, int dirfd, const std::string& path, bool follow) {
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  if (path.empty() && dirfd != AT_FDCWD) {
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(dirfd));
    const struct stat st = TRY(f->Stat());
    return Statted{st, f->location() != nullptr ? f->location()->dentry->inode() : nullptr};
  }
  const fs::Path p = path.empty() ? t.fs().cwd()
                                  : TRY(vfs.ResolveAt(c, dirfd, path, fs::ResolveOpts{.follow_final = follow}));
  const struct stat st = TRY(vfs.Stat(c, p));
  return Statted{st, p.dentry->inode()};
}

Result<uint64_t> FstatatCommon(Task& t, int dirfd, uint64_t path_addr, uint64_t buf, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return Errno::kEINVAL;
  const std::string path = TRY(CopyInPathMaybeEmpty(t, path_addr, flags & AT_EMPTY_PATH));
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
  // x86-64's struct stat is the kernel's (arch/x86/include/uapi/asm/stat.h).
  const struct stat st = TRY(StatAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW))).st;
  TRY(t.mm().CopyOut(UserPtr<struct stat>(buf), st));
  return 0;
}

struct statx_timestamp ToStatxTime(const struct timespec& ts) {
  struct statx_timestamp out {};
  out.tv_sec = ts.tv_sec;
  out.tv_nsec = static_cast<uint32_t>(ts.tv_nsec);
  return out;
}

Result<uint64_t> FaccessatCommon(Task& t, int dirfd, uint64_t path_addr, int mode, int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return Errno::kEINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno::kEINVAL;
  const std::string path = TRY(CopyInPathMaybeEmpty(t, path_addr, flags & AT_EMPTY_PATH));
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
  // Without AT_EACCESS the check (lookup included) runs with the real ids,
  // as access_override_creds() does.
  const sentry::kernel::Credentials creds = (flags & AT_EACCESS) ? t.creds() : t.creds().ForAccess();
  fs::Caller c = fs::CallerOf(t);
  c.creds = &creds;
  fs::Vfs& vfs = t.kernel().vfs();
  fs::Path p;
  if (path.empty()) {
    if (dirfd == AT_FDCWD) {
      p = t.fs().cwd();
    } else {
      std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(dirfd));
      if (f->location() == nullptr) {
        // Not in the tree (host stdio): judge by the file's own mode.
        const struct stat st = TRY(f->Stat());
        TRY(fs::CheckPermission(creds, st, mode));
        return 0;
      }
      p = *f->location();
    }
  } else {
    p = TRY(vfs.ResolveAt(c, dirfd, path, fs::ResolveOpts{.follow_final = !(flags & AT_SYMLINK_NOFOLLOW)}));
  }
  if (mode == F_OK) return 0;
  const auto& inode = p.dentry->inode();
  if ((mode & W_OK) && p.mount->read_only() && (inode->is_regular() || inode->is_dir() || inode->is_symlink())) {
    return Errno::kEROFS;
  }
  const struct stat st = TRY(vfs.Stat(c, p));
  TRY(fs::CheckPermission(creds, st, mode));  // R_OK/W_OK/X_OK are MAY_READ/WRITE/EXEC
  return 0;
}

Result<uint64_t> ReadlinkatCommon(Task& t, int dirfd, uint64_t path_addr, uint64_t buf, int64_t size) {
  if (size <= 0 || size > INT32_MAX) return Errno::kEINVAL;  // bufsiz is an int
  const std::string path = TRY(CopyInPath(t, path_addr));
  const fs::Caller c = fs::CallerOf(t);
  fs::Path p;
  if (path.empty()) {
    // Linux allows an empty path here (LOOKUP_EMPTY): the fd itself, which
    // must be an O_PATH|O_NOFOLLOW fd of a symlink; ENOENT otherwise.
    if (dirfd == AT_FDCWD) return Errno::kENOENT;
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(dirfd));
    if (f->location() == nullptr || !f->location()->dentry->inode()->is_symlink()) return Errno::kENOENT;
    p = *f->location();
  } else {
    p = TRY(t.kernel().vfs().ResolveAt(c, dirfd, path, fs::ResolveOpts{.follow_final = false}));
  }
  if (!p.dentry->inode()->is_symlink()) return Errno::kEINVAL;
  const std::string target = TRY(p.dentry->inode()->Readlink(c));
  // Truncated to the buffer, without a NUL, like Linux.
  const size_t n = std::min<size_t>(target.size(), static_cast<size_t>(size));
  TRY(t.mm().CopyOutBytes(buf, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(target.data()), n)));
  return n;
}

Result<void> ChdirTo(Task& t, const fs::Caller& c, const fs::Path& p) {
  const auto& inode = p.dentry->inode();
  if (!inode->is_dir()) return Errno::kENOTDIR;
  const struct stat st = TRY(inode->Stat(c));
  TRY(fs::CheckPermission(*c.creds, st, fs::kMayExec));
  t.fs().SetCwd(p);
  return {};
}

}  // namespace

Result<uint64_t> Stat(Task& t, const SyscallArgs& args) {
  return FstatatCommon(t, AT_FDCWD, args.U64(0), args.U64(1), 0);
}

Result<uint64_t> Lstat(Task& t, const SyscallArgs& args) {
  return FstatatCommon(t, AT_FDCWD, args.U64(0), args.U64(1), AT_SYMLINK_NOFOLLOW);
}

Result<uint64_t> Fstat(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  const struct stat st = TRY(f->Stat());
  TRY(t.mm().CopyOut(args.Ptr<struct stat>(1), st));
  return 0;
}

Result<uint64_t> Newfstatat(Task& t, const SyscallArgs& args) {
  return FstatatCommon(t, args.Fd(0), args.U64(1), args.U64(2), args.I32(3));
}

Result<uint64_t> Statx(Task& t, const SyscallArgs& args) {
  const int dirfd = args.Fd(0);
  const uint64_t path_addr = args.U64(1);
  const int flags = args.I32(2);
  const uint32_t mask = args.U32(3);
  const UserPtr<struct statx> buf = args.Ptr<struct statx>(4);
  // vfs_statx / statx checks (fs/stat.c).
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return Errno::kEINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return Errno::kEINVAL;
  if (mask & STATX__RESERVED) return Errno::kEINVAL;
  const std::string path = TRY(CopyInPathMaybeEmpty(t, path_addr, flags & AT_EMPTY_PATH));
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
  const Statted s = TRY(StatAt(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW)));
  const struct stat& st = s.st;
  struct statx sx {};
  // What we really fill, whatever was asked (Linux may return more than
  // requested, never claims what it lacks): the birth time where the
  // filesystem keeps one (tmpfs, the overlay's upper, a host file system
  // with one behind the gofer); no mount id or dio info.
  sx.stx_mask = STATX_BASIC_STATS;
  if (s.inode != nullptr) {
    if (std::optional<struct timespec> b = s.inode->BirthTime()) {
      sx.stx_mask |= STATX_BTIME;
      sx.stx_btime = ToStatxTime(*b);
    }
  }
  sx.stx_blksize = static_cast<uint32_t>(st.st_blksize);
  sx.stx_nlink = static_cast<uint32_t>(st.st_nlink);
  sx.stx_uid = st.st_uid;
  sx.stx_gid = st.st_gid;
  sx.stx_mode = static_cast<uint16_t>(st.st_mode);
  sx.stx_ino = st.st_ino;
  sx.stx_size = static_cast<uint64_t>(st.st_size);
  sx.stx_blocks = static_cast<uint64_t>(st.st_blocks);
  sx.stx_atime = ToStatxTime(st.st_atim);
  sx.stx_ctime = ToStatxTime(st.st_ctim);
  sx.stx_mtime = ToStatxTime(st.st_mtim);
  sx.stx_rdev_major = major(st.st_rdev);
  sx.stx_rdev_minor = minor(st.st_rdev);
  sx.stx_dev_major = major(st.st_dev);
  sx.stx_dev_minor = minor(st.st_dev);
  TRY(t.mm().CopyOut(buf, sx));
  return 0;
}

Result<uint64_t> Access(Task& t, const SyscallArgs& args) {
  return FaccessatCommon(t, AT_FDCWD, args.U64(0), args.I32(1), 0);
}

Result<uint64_t> Faccessat(Task& t, const SyscallArgs& args) {
  return FaccessatCommon(t, args.Fd(0), args.U64(1), args.I32(2), 0);
}

Result<uint64_t> Faccessat2(Task& t, const SyscallArgs& args) {
  return FaccessatCommon(t, args.Fd(0), args.U64(1), args.I32(2), args.I32(3));
}

Result<uint64_t> Readlink(Task& t, const SyscallArgs& args) {
  return ReadlinkatCommon(t, AT_FDCWD, args.U64(0), args.U64(1), args.I32(2));
}

Result<uint64_t> Readlinkat(Task& t, const SyscallArgs& args) {
  return ReadlinkatCommon(t, args.Fd(0), args.U64(1), args.U64(2), args.I32(3));
}

Result<uint64_t> Getcwd(Task& t, const SyscallArgs& args) {
  const uint64_t buf = args.U64(0);
  const uint64_t size = args.U64(1);
  // getcwd(2) refuses a removed directory (d_unlinked) with ENOENT.
  if (fs::Vfs::IsUnlinked(fs::CallerOf(t), t.fs().cwd())) return Errno::kENOENT;
  const std::string cwd = fs::Vfs::PathString(t.fs().root(), t.fs().cwd());
  const uint64_t len = cwd.size() + 1;
  if (len > fs::kPathMax) return Errno::kENAMETOOLONG;
  if (len > size) return Errno::kERANGE;
  TRY(t.mm().CopyOutBytes(buf, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(cwd.c_str()), len)));
  return len;
}

Result<uint64_t> Chdir(Task& t, const SyscallArgs& args) {
  const std::string path = TRY(CopyInPath(t, args.U64(0)));
  const fs::Caller c = fs::CallerOf(t);
  const fs::Path p = TRY(t.kernel().vfs().ResolveAt(c, AT_FDCWD, path, fs::ResolveOpts{.require_dir = true}));
  TRY(ChdirTo(t, c, p));
  return 0;
}

Result<uint64_t> Fchdir(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  if (f->location() == nullptr) return Errno::kENOTDIR;
  const fs::Caller c = fs::CallerOf(t);
  TRY(ChdirTo(t, c, *f->location()));
  return 0;
}

}  // namespace syscalls
