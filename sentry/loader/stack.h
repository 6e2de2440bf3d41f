// The initial process stack (fs/exec.c copy_strings + setup_arg_pages,
// fs/binfmt_elf.c create_elf_tables). Internal to sentry/loader/.
#ifndef SENTRY_LOADER_STACK_H_
#define SENTRY_LOADER_STACK_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader::internal {

constexpr uint64_t kStackReserve = 8 << 20;  // the "[stack]" VMA's size

// E2BIG checks of fs/exec.c (MAX_ARG_STRLEN per string, and a quarter of
// RLIMIT_STACK, at most 3/4 of _STK_LIM, at least ARG_MAX, for all strings
// and pointers together).
base::Result<void> CheckArgSizes(const std::vector<std::string>& argv, const std::vector<std::string>& envp,
                                 const std::string& execfn, uint64_t stack_rlimit, std::string* why);

struct StackInputs {
  uint64_t top = 0;  // end of the stack VMA
  bool exec_stack = false;
  const std::vector<std::string>* argv = nullptr;
  const std::vector<std::string>* envp = nullptr;
  std::string execfn;
  std::array<uint8_t, 16> random{};
  // Values the auxv carries as is.
  uint64_t sysinfo_ehdr = 0, phdr = 0, phnum = 0, base = 0, entry = 0;
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
};

struct StackLayout {
  uint64_t sp = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // without AT_NULL
};

// Maps "[stack]" below `in.top` and writes strings, auxv, envp, argv and
// argc into it through mm's copy-out interface.
base::Result<StackLayout> BuildStack(mm::MemoryManager& mm, const StackInputs& in, std::string* why);

}  // namespace sentry::loader::internal

#endif  // SENTRY_LOADER_STACK_H_
