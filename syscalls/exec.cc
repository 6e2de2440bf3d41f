// execve, execveat (fs/exec.c): copy in the file name, argv and envp with
// Linux's bounds, then Kernel::Exec.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <string>
#include <vector>

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

  if (path.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno::kENOENT;
    // fexecve: the file dirfd refers to. TODO(#5): exec the open file itself
    // rather than its path (a renamed or unlinked file).
    auto file = TRY(t.fds().Get(dirfd));
    path = file->Path();
  } else if (path[0] != '/' && dirfd != AT_FDCWD) {
    auto dir = TRY(t.fds().Get(dirfd));
    if (dir->location() == nullptr) return Errno::kENOTDIR;
    path = dir->Path() + "/" + path;
  }
  if (flags & AT_SYMLINK_NOFOLLOW) {
    // ELOOP if the final component is a symlink (do_open_execat()).
    fs::ResolveOpts opts;
    opts.follow_final = false;
    const fs::Caller c = fs::CallerOf(t);
    auto p = t.kernel().vfs().ResolveAt(c, AT_FDCWD, path, opts);
    if (p.ok()) {
      auto st = t.kernel().vfs().Stat(c, p.value());
      if (st.ok() && S_ISLNK(st.value().st_mode)) return Errno::kELOOP;
    }
  }
  std::string why;
  auto r = t.kernel().Exec(t, path, std::move(argv), std::move(envp), &why);
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
