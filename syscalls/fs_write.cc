// Namespace changes and file data syscalls (fs/namei.c, fs/open.c,
// fs/sync.c, mm/memfd.c in Linux): mkdir, rmdir, unlink, rename, link,
// symlink, mknod, creat, truncate, fallocate, the sync family and
// memfd_create. All go through the VFS; none reaches the host.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statfs.h>

#include "fs/inotify.h"
#include "fs/tmpfs.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/fsize.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {


Result<uint64_t> MkdiratCommon(Task& t, int dirfd, uint64_t path_addr, uint32_t mode) {
  const std::string path = TRY(CopyInPath(t, path_addr));
  TRY(t.kernel().vfs().Mkdir(fs::CallerOf(t), dirfd, path, mode));
  return 0;
}

Result<uint64_t> UnlinkatCommon(Task& t, int dirfd, uint64_t path_addr, int flags) {
  if (flags & ~AT_REMOVEDIR) return Errno::kEINVAL;
  const std::string path = TRY(CopyInPath(t, path_addr));
  fs::Vfs& vfs = t.kernel().vfs();
  if (flags & AT_REMOVEDIR) {
    TRY(vfs.Rmdir(fs::CallerOf(t), dirfd, path));
  } else {
    TRY(vfs.Unlink(fs::CallerOf(t), dirfd, path));
  }
  return 0;
}

Result<uint64_t> RenameatCommon(Task& t, int olddirfd, uint64_t oldp, int newdirfd, uint64_t newp, uint32_t flags) {
  const std::string oldpath = TRY(CopyInPath(t, oldp));
  const std::string newpath = TRY(CopyInPath(t, newp));
  TRY(t.kernel().vfs().Rename(fs::CallerOf(t), olddirfd, oldpath, newdirfd, newpath, flags));
  return 0;
}

Result<uint64_t> LinkatCommon(Task& t, int olddirfd, uint64_t oldp, int newdirfd, uint64_t newp, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Errno::kEINVAL;
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  std::string oldpath;
  if (!((flags & AT_EMPTY_PATH) && oldp == 0)) oldpath = TRY(CopyInPath(t, oldp));
  fs::Path old;
  if (oldpath.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
    // linkat(fd, "", ..., AT_EMPTY_PATH): the fd's file itself (an
    // O_TMPFILE file gets its name this way). Linux wants CAP_DAC_READ_SEARCH.
    if (!t.creds().HasCap(CAP_DAC_READ_SEARCH)) return Errno::kENOENT;
    if (olddirfd == AT_FDCWD) return Errno::kENOENT;  // cwd is a directory: EPERM below
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(olddirfd));
    if (f->location() == nullptr) return Errno::kENOENT;
    old = *f->location();
  } else {
    old = TRY(vfs.ResolveAt(c, olddirfd, oldpath, fs::ResolveOpts{.follow_final = (flags & AT_SYMLINK_FOLLOW) != 0}));
  }
  const std::string newpath = TRY(CopyInPath(t, newp));
  TRY(vfs.Link(c, old, newdirfd, newpath));
  return 0;
}

Result<uint64_t> SymlinkatCommon(Task& t, uint64_t target_addr, int newdirfd, uint64_t path_addr) {
  const std::string target = TRY(CopyInPath(t, target_addr));
  const std::string path = TRY(CopyInPath(t, path_addr));
  TRY(t.kernel().vfs().Symlink(fs::CallerOf(t), target, newdirfd, path));
  return 0;
}

Result<uint64_t> MknodatCommon(Task& t, int dirfd, uint64_t path_addr, uint32_t mode, uint64_t dev) {
  const std::string path = TRY(CopyInPath(t, path_addr));
  TRY(t.kernel().vfs().Mknod(fs::CallerOf(t), dirfd, path, mode, static_cast<dev_t>(dev)));
  return 0;
}

// An fd for data operations on a regular file.
Result<std::shared_ptr<fs::FileDescription>> GetDataFile(Task& t, int fd) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  if (f->flags() & O_PATH) return Errno::kEBADF;
  return f;
}

}  // namespace

Result<uint64_t> Mkdir(Task& t, const SyscallArgs& args) { return MkdiratCommon(t, AT_FDCWD, args.U64(0), args.U32(1)); }
Result<uint64_t> Mkdirat(Task& t, const SyscallArgs& args) {
  return MkdiratCommon(t, args.Fd(0), args.U64(1), args.U32(2));
}
Result<uint64_t> Rmdir(Task& t, const SyscallArgs& args) { return UnlinkatCommon(t, AT_FDCWD, args.U64(0), AT_REMOVEDIR); }
Result<uint64_t> Unlink(Task& t, const SyscallArgs& args) { return UnlinkatCommon(t, AT_FDCWD, args.U64(0), 0); }
Result<uint64_t> Unlinkat(Task& t, const SyscallArgs& args) {
  return UnlinkatCommon(t, args.Fd(0), args.U64(1), args.I32(2));
}
Result<uint64_t> Rename(Task& t, const SyscallArgs& args) {
  return RenameatCommon(t, AT_FDCWD, args.U64(0), AT_FDCWD, args.U64(1), 0);
}
Result<uint64_t> Renameat(Task& t, const SyscallArgs& args) {
  return RenameatCommon(t, args.Fd(0), args.U64(1), args.Fd(2), args.U64(3), 0);
}
Result<uint64_t> Renameat2(Task& t, const SyscallArgs& args) {
  return RenameatCommon(t, args.Fd(0), args.U64(1), args.Fd(2), args.U64(3), args.U32(4));
}
Result<uint64_t> Link(Task& t, const SyscallArgs& args) {
  return LinkatCommon(t, AT_FDCWD, args.U64(0), AT_FDCWD, args.U64(1), 0);
}
Result<uint64_t> Linkat(Task& t, const SyscallArgs& args) {
  return LinkatCommon(t, args.Fd(0), args.U64(1), args.Fd(2), args.U64(3), args.I32(4));
}
Result<uint64_t> Symlink(Task& t, const SyscallArgs& args) {
  return SymlinkatCommon(t, args.U64(0), AT_FDCWD, args.U64(1));
}
Result<uint64_t> Symlinkat(Task& t, const SyscallArgs& args) {
  return SymlinkatCommon(t, args.U64(0), args.Fd(1), args.U64(2));
}
Result<uint64_t> Mknod(Task& t, const SyscallArgs& args) {
  return MknodatCommon(t, AT_FDCWD, args.U64(0), args.U32(1), args.U64(2));
}
Result<uint64_t> Mknodat(Task& t, const SyscallArgs& args) {
  return MknodatCommon(t, args.Fd(0), args.U64(1), args.U32(2), args.U64(3));
}

Result<uint64_t> Creat(Task& t, const SyscallArgs& args) {
  SyscallArgs a{{static_cast<uint64_t>(AT_FDCWD), args.U64(0), static_cast<uint64_t>(O_CREAT | O_WRONLY | O_TRUNC),
                 args.U64(1), 0, 0}};
  return Openat(t, a);
}

Result<uint64_t> Truncate(Task& t, const SyscallArgs& args) {
  const int64_t length = args.I64(1);
  const std::string path = TRY(CopyInPath(t, args.U64(0)));
  if (length < 0) return Errno::kEINVAL;
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  const fs::Path p = TRY(vfs.ResolveAt(c, AT_FDCWD, path));
  if (Result<struct stat> st = vfs.Stat(c, p); st.ok() && S_ISREG(st.value().st_mode)) {
    TRY(CheckFsizeGrowth(t, static_cast<uint64_t>(length), static_cast<uint64_t>(st.value().st_size)));
  }
  TRY(vfs.Truncate(c, fs::AttrTarget::Of(p), static_cast<uint64_t>(length), true));
  return 0;
}

Result<uint64_t> Ftruncate(Task& t, const SyscallArgs& args) {
  const int64_t length = args.I64(1);
  if (length < 0) return Errno::kEINVAL;
  std::shared_ptr<fs::FileDescription> f = TRY(GetDataFile(t, args.Fd(0)));
  const struct stat st = TRY(f->Stat());
  if (!S_ISREG(st.st_mode) || !f->writable()) return Errno::kEINVAL;
  TRY(CheckFsizeGrowth(t, static_cast<uint64_t>(length), static_cast<uint64_t>(st.st_size)));
  const fs::AttrTarget target = TRY(fs::AttrTarget::Of(*f));
  TRY(t.kernel().vfs().Truncate(fs::CallerOf(t), target, static_cast<uint64_t>(length), false));
  return 0;
}

Result<uint64_t> Fallocate(Task& t, const SyscallArgs& args) {
  const int fd = args.Fd(0);
  const int mode = args.I32(1);
  const int64_t off = args.I64(2), len = args.I64(3);
  // vfs_fallocate() (fs/open.c) checks, in order.
  if (off < 0 || len <= 0) return Errno::kEINVAL;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return Errno::kEOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) return Errno::kEOPNOTSUPP;
  std::shared_ptr<fs::FileDescription> f = TRY(GetDataFile(t, fd));
  if (!f->writable()) return Errno::kEBADF;
  // Linux refuses a punch only on an append-only inode (chattr +a, which
  // we do not have), not through an O_APPEND fd.
  const struct stat st = TRY(f->Stat());
  if (S_ISFIFO(st.st_mode)) return Errno::kESPIPE;
  if (S_ISDIR(st.st_mode)) return Errno::kEISDIR;
  if (!S_ISREG(st.st_mode)) return Errno::kENODEV;
  if (off + len < off) return Errno::kEFBIG;
  const fs::AttrTarget target = TRY(fs::AttrTarget::Of(*f));
  TRY(fs::Vfs::CheckWritableMount(target));
  // shmem_fallocate (and ext4's): growing the size past RLIMIT_FSIZE.
  if (!(mode & FALLOC_FL_KEEP_SIZE)) {
    TRY(CheckFsizeGrowth(t, static_cast<uint64_t>(off + len), static_cast<uint64_t>(st.st_size)));
  }
  // Only tmpfs (directly, or as the overlay's upper layer after the open
  // for writing copied the file up) stores data we can allocate in.
  fs::TmpfsInode* tmp = fs::TmpfsInode::DataOf(*f);
  if (tmp == nullptr) {
    // A gofer file: resize through SetAttr for plain allocation.
    if (mode != 0) return Errno::kEOPNOTSUPP;
    if (static_cast<uint64_t>(off + len) > static_cast<uint64_t>(st.st_size)) {
      TRY(t.kernel().vfs().Truncate(fs::CallerOf(t), target, static_cast<uint64_t>(off + len), false));
    }
    return 0;
  }
  TRY(tmp->Allocate(mode, static_cast<uint64_t>(off), static_cast<uint64_t>(len)));
  fs::inotify::Modified(*f);  // vfs_fallocate(): fsnotify_modify
  return 0;
}

// Sentry-memory files have nothing to flush, but the fd must be valid;
// files of a writable gofer mount flush their host fd (Inode::Sync).
Result<uint64_t> Fsync(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(GetDataFile(t, args.Fd(0)));
  // vfs_fsync_range(): EINVAL for files without an fsync operation: pipes,
  // sockets, character devices, anon inodes, and procfs files.
  const struct stat st = TRY(f->Stat());
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return Errno::kEINVAL;
  if (auto target = fs::AttrTarget::Of(*f); target.ok() && target.value().inode != nullptr) {
    if (S_ISREG(st.st_mode)) {
      Result<struct statfs> sfs = target.value().inode->Statfs(fs::CallerOf(t));
      if (sfs.ok() && sfs.value().f_type == PROC_SUPER_MAGIC) return Errno::kEINVAL;
    }
    TRY(target.value().inode->Sync());
  }
  return 0;
}
Result<uint64_t> Fdatasync(Task& t, const SyscallArgs& args) { return Fsync(t, args); }
// sync(2) cannot fail; write-back errors show at the files' fsync.
Result<uint64_t> Sync(Task& t, const SyscallArgs&) {
  (void)t.kernel().vfs().SyncAll();
  return 0;
}
Result<uint64_t> Syncfs(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(GetDataFile(t, args.Fd(0)));
  if (auto target = fs::AttrTarget::Of(*f); target.ok() && target.value().inode != nullptr) {
    TRY(target.value().inode->SyncFs());
  }
  return 0;
}

// fadvise64, readahead and sync_file_range: page-cache hints and
// write-back control. Everything is in sentry memory, so after Linux's
// checks (mm/fadvise.c, mm/readahead.c, fs/sync.c) there is nothing to do.
Result<uint64_t> Fadvise64(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  if (f->flags() & O_PATH) return Errno::kEBADF;
  const struct stat st = TRY(f->Stat());
  if (S_ISFIFO(st.st_mode)) return Errno::kESPIPE;
  if (args.I64(2) < 0) return Errno::kEINVAL;
  if (args.I32(3) < POSIX_FADV_NORMAL || args.I32(3) > POSIX_FADV_NOREUSE) return Errno::kEINVAL;
  return 0;
}

Result<uint64_t> Readahead(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  if ((f->flags() & O_PATH) || !f->readable()) return Errno::kEBADF;
  const struct stat st = TRY(f->Stat());
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return Errno::kEINVAL;
  return 0;
}

Result<uint64_t> SyncFileRange(Task& t, const SyscallArgs& args) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  if (f->flags() & O_PATH) return Errno::kEBADF;
  const int64_t off = args.I64(1), nbytes = args.I64(2);
  const uint32_t flags = args.U32(3);
  constexpr uint32_t kValid = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (flags & ~kValid) return Errno::kEINVAL;
  int64_t end = 0;
  if (off < 0 || __builtin_add_overflow(off, nbytes, &end) || end < 0 || end < off) return Errno::kEINVAL;
  const struct stat st = TRY(f->Stat());
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    return Errno::kESPIPE;
  }
  return 0;
}

Result<uint64_t> MemfdCreate(Task& t, const SyscallArgs& args) {
  const uint32_t flags = args.U32(1);
  // mm/memfd.c: MFD_HUGETLB is not offered; MFD_EXEC and MFD_NOEXEC_SEAL
  // exclude each other (vm.memfd_noexec is 0: executable by default).
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | fs::kMfdNoexecSeal | fs::kMfdExec)) return Errno::kEINVAL;
  if ((flags & fs::kMfdNoexecSeal) && (flags & fs::kMfdExec)) return Errno::kEINVAL;
  // The name is at most 249 bytes (NAME_MAX - strlen("memfd:")).
  Result<std::string> name = t.mm().CopyInString(args.U64(0), 250);
  if (!name.ok()) return name.error() == Errno::kENAMETOOLONG ? Errno::kEINVAL : name.error();
  if (name.value().size() > 249) return Errno::kEINVAL;
  std::shared_ptr<fs::FileDescription> f =
      TRY(fs::NewMemfd(fs::CallerOf(t), name.value(), O_RDWR | fs::kOLargefile, flags));
  const int fd = TRY(t.fds().Install(std::move(f), (flags & MFD_CLOEXEC) != 0));
  return static_cast<uint64_t>(fd);
}

}  // namespace syscalls
