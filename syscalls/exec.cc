// execve, execveat (fs/exec.c): copy in the file name, argv and envp with
// Linux's bounds, then Kernel::Exec.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "fs/file_description.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/loader/loader.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

constexpr size_t kMaxArgStrings = 0x7fffffff;  // MAX_ARG_STRINGS

// get_user_arg_ptr()/copy_strings(): a NULL-terminated array of string
// pointers. A null array is an empty one. Bounded by `budget` bytes in total
// (E2BIG), each string by MAX_ARG_STRLEN.
Result<std::vector<std::string>> CopyInStrings(Task& t, uint64_t array, size_t& budget) {
  std::vector<std::string> out;
  if (array == 0) return out;
  for (size_t i = 0; i < kMaxArgStrings; ++i) {
    const uint64_t p = TRY(t.mm().CopyIn(UserPtr<uint64_t>(array + i * sizeof(uint64_t))));
    if (p == 0) return out;
    // The pointer itself counts too (count() against the stack limit).
    if (budget < sizeof(uint64_t)) return Errno::kE2BIG;
    budget -= sizeof(uint64_t);
    auto s = t.mm().CopyInString(p, sentry::loader::kMaxArgStrlen - 1);
    if (!s.ok()) return s.error() == Errno::kENAMETOOLONG ? Errno::kE2BIG : s.error();
    if (budget < s.value().size() + 1) return Errno::kE2BIG;
    budget -= s.value().size() + 1;
    out.push_back(std::move(s).value());
  }
  return Errno::kE2BIG;
}

Result<uint64_t> DoExecve(Task& t, int dirfd, uint64_t path_addr, uint64_t argv_addr, uint64_t envp_addr,
                          int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return Errno::kEINVAL;
  std::string path = TRY(t.mm().CopyInString(path_addr, PATH_MAX - 1));
  // Like Linux, argv and envp may use a quarter of the stack limit (and at
  // least 32 pages); the loader checks the exact layout.
  uint64_t stack_limit;
  {
    auto& tg = t.thread_group();
    absl::MutexLock l(&tg.mu);
    stack_limit = tg.rlimits[RLIMIT_STACK].cur;
  }
  size_t budget = std::max<uint64_t>(stack_limit / 4, 32 * sentry::mm::kPageSize);
  // An unlimited stack must not let an app make the sentry copy gigabytes.
  budget = std::min<uint64_t>(budget, 64ull << 20);
  std::vector<std::string> argv = TRY(CopyInStrings(t, argv_addr, budget));
  std::vector<std::string> envp = TRY(CopyInStrings(t, envp_addr, budget));

  // do_execveat_common(): with a dirfd or AT_EMPTY_PATH the file is found
  // (or taken from the fd) here and that very file runs; the new image sees
  // it as "/dev/fd/N[/path]" (bprm->filename: AT_EXECFN, a script's
  // argument; alloc_bprm marks that name inaccessible if the fd is
  // close-on-exec, and a script then fails with ENOENT, since its
  // interpreter could not open it). AT_SYMLINK_NOFOLLOW: a final symlink is
  // ELOOP.
  std::optional<sentry::kernel::Kernel::PreOpened> pre;
  fs::Vfs& vfs = t.kernel().vfs();
  if (path.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
    auto file = TRY(t.fds().Get(dirfd));
    auto [m, abs] = TRY(vfs.OpenFileForExec(t.fs(), file, t.creds()));
    // comm_from_dentry: the file's own name, not "N".
    std::string comm = abs.substr(abs.rfind('/') + 1);
    if (const size_t d = comm.rfind(" (deleted)"); d != std::string::npos && d + 10 == comm.size()) comm.resize(d);
    pre = sentry::kernel::Kernel::PreOpened{std::move(m), std::move(abs), std::move(comm)};
    path = fmt::format("/dev/fd/{}", dirfd);
    pre->path_inaccessible = TRY(t.fds().GetEntry(dirfd)).cloexec;
  } else if ((path[0] != '/' && dirfd != AT_FDCWD) || (flags & AT_SYMLINK_NOFOLLOW)) {
    fs::ResolveOpts opts;
    opts.follow_final = !(flags & AT_SYMLINK_NOFOLLOW);
    const fs::Path p = TRY(vfs.ResolveAt(fs::CallerOf(t), dirfd, path, opts));
    auto [m, abs] = TRY(vfs.OpenForExecAt(t.fs(), p, t.creds()));
    std::string comm = path.substr(path.rfind('/') + 1);
    pre = sentry::kernel::Kernel::PreOpened{std::move(m), std::move(abs), std::move(comm)};
    if (path[0] != '/' && dirfd != AT_FDCWD) {
      path = fmt::format("/dev/fd/{}/{}", dirfd, path);
      pre->path_inaccessible = TRY(t.fds().GetEntry(dirfd)).cloexec;
    }
  }
  std::string why;
  auto r = t.kernel().Exec(t, path, std::move(argv), std::move(envp), &why, pre ? &*pre : nullptr);
  if (!r.ok()) return r.error();
  t.kernel().ExecDone(t);
  // Kernel::Exec set every register; rax 0 is what the new image sees.
  return 0;
}

}  // namespace

Result<uint64_t> Execve(Task& t, const SyscallArgs& args) {
  return DoExecve(t, AT_FDCWD, args.U64(0), args.U64(1), args.U64(2), 0);
}

Result<uint64_t> Execveat(Task& t, const SyscallArgs& args) {
  return DoExecve(t, args.Fd(0), args.U64(1), args.U64(2), args.U64(3), args.I32(4));
}

}  // namespace syscalls
