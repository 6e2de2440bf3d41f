// inotify_init(2), inotify_init1(2), inotify_add_watch(2),
// inotify_rm_watch(2) (fs/inotify.h), with the checks of Linux's
// fs/notify/inotify/inotify_user.c in its order.
#include <fcntl.h>
#include <sys/inotify.h>

#include "fs/inotify.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

Result<uint64_t> DoInit(Task& t, int flags) {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return Errno::kEINVAL;
  auto f = TRY(fs::inotify::NewInotify(flags & IN_NONBLOCK, t.creds().euid));
  const int fd = TRY(t.fds().Install(std::move(f), (flags & IN_CLOEXEC) != 0));
  return static_cast<uint64_t>(fd);
}

// ALL_INOTIFY_BITS (include/linux/inotify.h): events and flags.
constexpr uint32_t kAllInotifyBits = IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |
                                     IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT;

}  // namespace

Result<uint64_t> InotifyInit(Task& t, const SyscallArgs&) { return DoInit(t, 0); }
Result<uint64_t> InotifyInit1(Task& t, const SyscallArgs& args) { return DoInit(t, args.I32(0)); }

Result<uint64_t> InotifyAddWatch(Task& t, const SyscallArgs& args) {
  const int fd = args.Fd(0);
  const uint32_t mask = args.U32(2);
  if (!(mask & kAllInotifyBits)) return Errno::kEINVAL;
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return Errno::kEINVAL;
  if (!fs::inotify::IsInotify(*f)) return Errno::kEINVAL;
  // inotify_find_inode(): user_path_at(AT_FDCWD, ..), then MAY_READ.
  const std::string path = TRY(CopyInPath(t, args.U64(1)));
  if (path.empty()) return Errno::kENOENT;
  const fs::Caller c = fs::CallerOf(t);
  const fs::Path p = TRY(t.kernel().vfs().ResolveAt(
      c, AT_FDCWD, path,
      fs::ResolveOpts{.follow_final = (mask & IN_DONT_FOLLOW) == 0, .require_dir = (mask & IN_ONLYDIR) != 0}));
  const struct stat st = TRY(p.dentry->inode()->Stat(c));
  TRY(fs::CheckPermission(t.creds(), st, fs::kMayRead));
  const int wd = TRY(fs::inotify::AddWatch(*f, p.dentry->inode(), st, mask));
  return static_cast<uint64_t>(wd);
}

Result<uint64_t> InotifyRmWatch(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  TRY(fs::inotify::RemoveWatch(*f, args.I32(1)));
  return 0;
}

}  // namespace syscalls
