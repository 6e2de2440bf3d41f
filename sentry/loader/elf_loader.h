// ELF64 x86-64 parsing and mapping (fs/binfmt_elf.c load_elf_binary and
// load_elf_interp). Internal to sentry/loader/.
#ifndef SENTRY_LOADER_ELF_LOADER_H_
#define SENTRY_LOADER_ELF_LOADER_H_

#include <elf.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/result.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader::internal {

// Sets *why (when wanted) and yields `e`: `return Fail(why, kENOEXEC, "...")`.
template <typename... Args>
base::Errno Fail(std::string* why, base::Errno e, fmt::format_string<Args...> f, Args&&... args) {
  if (why != nullptr) *why = fmt::format(f, std::forward<Args>(args)...);
  return e;
}

// Reads up to buf.size() bytes at `off`, looping over short reads; returns
// how many were read (fewer only at end of file).
base::Result<size_t> ReadFull(mm::MappableFile& f, std::span<uint8_t> buf, uint64_t off);

// Highest user address (exclusive) usable for the app in `mm`.
uint64_t UserLimit(mm::MemoryManager& mm);

// A validated ELF: the header, the program headers, and the PT_INTERP path.
struct ElfInfo {
  Elf64_Ehdr ehdr{};
  std::vector<Elf64_Phdr> phdrs;
  std::string interp;       // empty: no PT_INTERP
  bool exec_stack = false;  // PT_GNU_STACK with PF_X
  uint64_t first_vaddr = 0; // page-rounded lowest PT_LOAD address
  uint64_t last_vaddr = 0;  // page-rounded end of the highest PT_LOAD
  uint64_t alignment = mm::kPageSize;  // max power-of-two p_align (ET_DYN)
};

// Reads and validates the headers: ENOEXEC with the reason in *why for any
// malformed input (checked against `user_limit`), or the file's read error.
base::Result<ElfInfo> ParseElf(mm::MappableFile& f, uint64_t user_limit, std::string* why);

enum class Placement {
  kAtVaddr,      // ET_EXEC: at p_vaddr, bias 0
  kElfEtDynBase, // PIE with an interpreter: at ELF_ET_DYN_BASE
  kMmap,         // interpreter, or a PIE without one: where mmap puts it
};

struct LoadedElf {
  uint64_t bias = 0;       // added to every p_vaddr
  uint64_t entry = 0;      // e_entry + bias
  uint64_t phdr_addr = 0;  // the program headers in memory (AT_PHDR), 0 if unmapped
  uint64_t end = 0;        // highest p_vaddr + p_memsz + bias (for brk)
};

// Maps every PT_LOAD as a private file mapping with p_flags' protection,
// zeroes the tail of the last file page and maps anonymous memory for the
// rest of the bss.
base::Result<LoadedElf> MapElf(mm::MemoryManager& mm, const ElfInfo& info,
                               const std::shared_ptr<mm::MappableFile>& file, Placement placement,
                               uint64_t user_limit, std::string* why);

}  // namespace sentry::loader::internal

#endif  // SENTRY_LOADER_ELF_LOADER_H_
