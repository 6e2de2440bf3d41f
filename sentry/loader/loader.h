// The program loader: execve's "load the new image" step (fs/exec.c,
// fs/binfmt_elf.c, fs/binfmt_script.c), independent of the VFS. The caller
// opens files through an Opener and hands in a fresh, empty MemoryManager;
// Load maps the ELF (and its interpreter), builds the initial stack and
// returns the registers' starting values. On failure the MemoryManager is
// left partially populated: the caller discards it, which gives execve's
// "the old image is intact until the point of no return" for free.
#ifndef SENTRY_LOADER_LOADER_H_
#define SENTRY_LOADER_LOADER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader {

// Linux's limits (include/uapi/linux/binfmts.h, include/linux/binfmts.h).
constexpr size_t kMaxArgStrlen = 32 * mm::kPageSize;  // MAX_ARG_STRLEN, with the NUL
constexpr size_t kBinprmBufSize = 256;                // BINPRM_BUF_SIZE
// fs/exec.c exec_binprm: the file and at most 5 interpreter rewrites.
constexpr int kMaxLoaderDepth = 5;
// x86-64 ELF_ET_DYN_BASE (2/3 of TASK_SIZE, page aligned), without ASLR.
constexpr uint64_t kElfEtDynBase = 0x555555554000;
// Default user stack top (x86-64 STACK_TOP without ASLR).
constexpr uint64_t kDefaultStackTop = 0x7ffffffff000;
constexpr uint64_t kDefaultStackRlimit = 8 << 20;

struct ExecFile {
  std::shared_ptr<mm::MappableFile> file;
  std::string path;  // absolute path in the sandbox (/proc/self/exe)
};

// Opens a file for exec, with execve's errors: ENOENT, EACCES (not
// executable, not a regular file, noexec mount), ENOTDIR, ELOOP, ...
using Opener = std::function<base::Result<ExecFile>(std::string_view path)>;

struct LoadArgs {
  std::string path;  // as passed to execve; becomes AT_EXECFN
  // `path` names a close-on-exec fd (/dev/fd/N...): a script fails with
  // ENOENT (fs/binfmt_script.c: its interpreter could not open it).
  bool path_inaccessible = false;
  std::vector<std::string> argv, envp;
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  std::array<uint8_t, 16> random{};  // AT_RANDOM bytes (caller: getrandom)
  uint64_t sysinfo_ehdr = 0;         // AT_SYSINFO_EHDR when a vDSO is mapped (0: omit)
  // RLIMIT_STACK soft limit: bounds argv+envp to a quarter of it (E2BIG).
  uint64_t stack_rlimit = kDefaultStackRlimit;
  // End of the "[stack]" VMA; 0: min(kDefaultStackTop, platform's limit).
  uint64_t stack_top = 0;
};

struct LoadResult {
  uint64_t entry = 0;          // where the thread starts (ld.so's entry if any)
  uint64_t stack_pointer = 0;  // rsp: points at argc, 16-byte aligned
  std::string exe_path;        // the ELF finally loaded (a script's interpreter)
  std::shared_ptr<mm::MappableFile> exe_file;  // that ELF's file (mm->exe_file)
  uint64_t brk_start = 0;
  // For /proc/self/{cmdline,environ,auxv} and prctl(PR_SET_MM) (mm->arg_start...).
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // without AT_NULL
  uint64_t interp_base = 0;    // AT_BASE; 0 for a static binary
  uint64_t load_bias = 0;      // of the main binary (0 for ET_EXEC)
  std::vector<std::string> argv;  // after #! rewriting
};

// Loads `args.path` into `mm`, which must be empty. Every failure returns an
// errno as execve would (ENOEXEC for a malformed ELF, ELIBBAD for a bad
// interpreter, ELOOP for too many #! levels, E2BIG for oversized arguments,
// or the Opener's error) and, when `why` is not null, says what was wrong.
base::Result<LoadResult> Load(mm::MemoryManager& mm, const Opener& open, const LoadArgs& args,
                              std::string* why);

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_LOADER_H_
