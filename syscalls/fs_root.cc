// chroot(2) and openat2(2): the per-process root and scoped path resolution
// (fs/open.c, fs/namei.c).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>

#include <cstring>

#include "fs/pipe.h"
#include "fs/inotify.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {

Result<uint64_t> Chroot(Task& t, const SyscallArgs& args) {
  const std::string path = TRY(CopyInPath(t, args.U64(0)));
  const fs::Caller c = fs::CallerOf(t);
  const fs::Path p = TRY(t.kernel().vfs().ResolveAt(c, AT_FDCWD, path, fs::ResolveOpts{.require_dir = true}));
  const struct stat st = TRY(p.dentry->inode()->Stat(c));
  TRY(fs::CheckPermission(*c.creds, st, fs::kMayExec));
  if (!c.creds->HasCap(CAP_SYS_CHROOT)) return Errno::kEPERM;
  t.fs().SetRoot(p);
  return 0;
}

namespace {

// VALID_OPEN_FLAGS (include/linux/fcntl.h) and O_PATH_FLAGS.
constexpr uint64_t kValidOpenFlags = O_RDONLY | O_WRONLY | O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                     O_NONBLOCK | O_DSYNC | FASYNC | O_DIRECT | fs::kOLargefile | O_DIRECTORY |
                                     O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | O_SYNC | __O_TMPFILE;
constexpr uint64_t kOPathFlags = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
constexpr uint64_t kValidResolve = fs::kResolveNoXdev | fs::kResolveNoMagiclinks | fs::kResolveNoSymlinks |
                                   fs::kResolveBeneath | fs::kResolveInRoot | fs::kResolveCached;
constexpr size_t kOpenHowSizeVer0 = 24;
// The kernel's __O_TMPFILE bit alone (glibc's __O_TMPFILE includes O_DIRECTORY).
constexpr uint64_t kTmpfileBit = 020000000;
constexpr size_t kPageSize = 4096;

}  // namespace

// openat2(2): open_how is checked strictly (build_open_flags: unknown flags,
// resolve bits or mode bits are EINVAL, not ignored as open(2) does), then
// opened with the RESOLVE_* scoping.
Result<uint64_t> Openat2(Task& t, const SyscallArgs& args) {
  const int dirfd = args.Fd(0);
  const uint64_t path_addr = args.U64(1), how_addr = args.U64(2), size = args.U64(3);
  if (size < kOpenHowSizeVer0) return Errno::kEINVAL;
  if (size > kPageSize) return Errno::kE2BIG;
  // copy_struct_from_user(): a larger struct's extra bytes must be zero.
  std::vector<uint8_t> raw(size);
  TRY(t.mm().CopyInBytes(how_addr, raw));
  for (size_t i = sizeof(struct open_how); i < size; ++i) {
    if (raw[i] != 0) return Errno::kE2BIG;
  }
  struct open_how how {};
  std::memcpy(&how, raw.data(), std::min(size, sizeof(how)));
  if (how.flags & ~kValidOpenFlags) return Errno::kEINVAL;
  if (how.resolve & ~kValidResolve) return Errno::kEINVAL;
  if ((how.resolve & fs::kResolveBeneath) && (how.resolve & fs::kResolveInRoot)) return Errno::kEINVAL;
  const bool tmpfile = (how.flags & __O_TMPFILE) == __O_TMPFILE;
  const bool creates = (how.flags & O_CREAT) || tmpfile;
  if (creates) {
    if (how.mode & ~uint64_t{07777}) return Errno::kEINVAL;
  } else if (how.mode != 0) {
    return Errno::kEINVAL;
  }
  if ((how.flags & O_CREAT) && (how.flags & O_DIRECTORY)) return Errno::kEINVAL;
  if ((how.flags & kTmpfileBit) && !tmpfile) return Errno::kEINVAL;
  if (tmpfile && (how.flags & O_ACCMODE) == O_RDONLY) return Errno::kEINVAL;
  if ((how.flags & O_PATH) && (how.flags & ~kOPathFlags)) return Errno::kEINVAL;
  if ((how.resolve & fs::kResolveCached) && (how.flags & (O_TRUNC | O_CREAT | kTmpfileBit))) return Errno::kEAGAIN;
  int flags = static_cast<int>(how.flags);
  const bool cloexec = flags & O_CLOEXEC;
  flags &= ~O_CLOEXEC;
  if (!(flags & O_PATH)) flags |= fs::kOLargefile;
  const std::string path = TRY(CopyInPath(t, path_addr));
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  // Scoped lookups start at dirfd even for absolute paths.
  const bool scoped = how.resolve & (fs::kResolveBeneath | fs::kResolveInRoot);
  const fs::Path start = TRY(vfs.StartFor(c, t.fs(), dirfd, scoped && !path.empty() && path[0] == '/' ? "x" : path));
  const auto mode = static_cast<uint32_t>(how.mode);
  std::shared_ptr<fs::FileDescription> f =
      TRY(tmpfile ? vfs.OpenTmpFile(c, t.fs(), start, path, flags, mode)
                  : vfs.Open(c, t.fs(), start, path, flags, mode, static_cast<unsigned>(how.resolve)));
  TRY(fs::WaitFifoPartner(t, *f));  // a FIFO's open waits for the other side
  if (!tmpfile) fs::inotify::Opened(*f);
  const int fd = TRY(t.fds().Install(std::move(f), cloexec));
  return static_cast<uint64_t>(fd);
}

}  // namespace syscalls
