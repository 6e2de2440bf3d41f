#include "sentry/loader/loader.h"

#include <optional>

#include "sentry/loader/elf_loader.h"
#include "sentry/loader/script.h"
#include "sentry/loader/stack.h"

namespace sentry::loader {

using base::Errno;
using base::Result;
using internal::Fail;

namespace {

// The interpreter named by PT_INTERP: opened through `open`, validated as an
// ELF without its own PT_INTERP. A malformed one is ELIBBAD, as in Linux.
Result<std::pair<ExecFile, internal::ElfInfo>> OpenInterp(const Opener& open, const std::string& path,
                                                          uint64_t limit, std::string* why) {
  auto f = open(path);
  if (!f.ok()) return Fail(why, f.error(), "cannot open ELF interpreter {}: {}", path, base::ErrnoName(f.error()));
  std::string inner;
  auto info = internal::ParseElf(*f.value().file, limit, &inner);
  if (!info.ok()) {
    const Errno e = info.error() == Errno::kENOEXEC ? Errno::kELIBBAD : info.error();
    return Fail(why, e, "bad ELF interpreter {}: {}", path, inner);
  }
  if (!info.value().interp.empty())
    return Fail(why, Errno::kELIBBAD, "ELF interpreter {} has its own PT_INTERP ({})", path, info.value().interp);
  return std::pair{std::move(f).value(), std::move(info).value()};
}

}  // namespace

Result<LoadResult> Load(mm::MemoryManager& mm, const Opener& open, const LoadArgs& args, std::string* why) {
  const uint64_t limit = internal::UserLimit(mm);
  LoadResult out;
  out.argv = args.argv;
  // fs/exec.c: an empty argv gets "" as argv[0] so argv[0] is never envp[0].
  if (out.argv.empty()) out.argv.emplace_back();
  TRY(internal::CheckArgSizes(out.argv, args.envp, args.path, args.stack_rlimit, why));

  // Follow "#!" lines to the ELF (fs/exec.c exec_binprm).
  std::string cur_path = args.path;  // bprm->interp: the name the current file was opened by
  auto opened = open(cur_path);
  if (!opened.ok()) return Fail(why, opened.error(), "cannot open {}: {}", cur_path, base::ErrnoName(opened.error()));
  ExecFile exe = std::move(opened).value();
  for (int depth = 0;; depth++) {
    if (depth > kMaxLoaderDepth)
      return Fail(why, Errno::kELOOP, "more than {} levels of #! interpreters", kMaxLoaderDepth);
    std::array<uint8_t, kBinprmBufSize> buf{};
    const size_t n = TRY(internal::ReadFull(*exe.file, buf, 0));
    if (!internal::IsScript(std::span(buf).first(n))) break;
    const internal::ScriptLine line = TRY(internal::ParseScriptLine(std::span(buf).first(n), why));
    if (args.path_inaccessible)
      return Fail(why, Errno::kENOENT, "{} is a script run through a close-on-exec fd ({})", exe.path, args.path);
    // argv becomes: interp [arg] path-of-script argv[1..].
    std::vector<std::string> argv{line.interp};
    if (line.arg) argv.push_back(*line.arg);
    argv.push_back(cur_path);
    argv.insert(argv.end(), out.argv.begin() + 1, out.argv.end());
    out.argv = std::move(argv);
    TRY(internal::CheckArgSizes(out.argv, args.envp, args.path, args.stack_rlimit, why));
    cur_path = line.interp;
    // Linux's open_exec("") fails with ENOENT whatever the Opener would do.
    if (cur_path.empty()) return Fail(why, Errno::kENOENT, "#! line of {} names an empty interpreter", exe.path);
    auto next = open(cur_path);
    if (!next.ok())
      return Fail(why, next.error(), "cannot open #! interpreter {} of {}: {}", cur_path, exe.path,
                  base::ErrnoName(next.error()));
    exe = std::move(next).value();
  }

  std::string inner;
  auto parsed = internal::ParseElf(*exe.file, limit, &inner);
  if (!parsed.ok()) return Fail(why, parsed.error(), "{}: {}", exe.path, inner);
  const internal::ElfInfo info = std::move(parsed).value();

  std::optional<std::pair<ExecFile, internal::ElfInfo>> interp;
  if (!info.interp.empty()) interp = TRY(OpenInterp(open, info.interp, limit, why));

  internal::Placement placement = internal::Placement::kAtVaddr;
  if (info.ehdr.e_type == ET_DYN)
    placement = interp ? internal::Placement::kElfEtDynBase : internal::Placement::kMmap;
  const internal::LoadedElf main_elf = TRY(internal::MapElf(mm, info, exe.file, placement, limit, why));
  out.load_bias = main_elf.bias;
  out.entry = main_elf.entry;
  if (interp) {
    const auto& [ifile, iinfo] = *interp;
    const auto ipl = iinfo.ehdr.e_type == ET_DYN ? internal::Placement::kMmap : internal::Placement::kAtVaddr;
    const internal::LoadedElf ld = TRY(internal::MapElf(mm, iinfo, ifile.file, ipl, limit, why));
    out.interp_base = ld.bias;
    out.entry = ld.entry;
  }

  // fs/binfmt_elf.c: the break starts after the bss; a loader run directly
  // (PIE without PT_INTERP, mmap'd high) gets its heap at ELF_ET_DYN_BASE
  // instead, where it has room to grow, as Linux does under ASLR.
  out.brk_start = mm::PageRoundUp(main_elf.end);
  if (placement == internal::Placement::kMmap) out.brk_start = kElfEtDynBase;
  mm.SetBrkStart(out.brk_start);

  internal::StackInputs in;
  in.top = args.stack_top != 0 ? mm::PageRoundDown(args.stack_top) : limit;
  in.exec_stack = info.exec_stack;
  in.argv = &out.argv;
  in.envp = &args.envp;
  in.execfn = args.path;
  in.random = args.random;
  in.sysinfo_ehdr = args.sysinfo_ehdr;
  in.phdr = main_elf.phdr_addr;
  in.phnum = info.ehdr.e_phnum;
  in.base = out.interp_base;
  in.entry = main_elf.entry;
  in.uid = args.uid;
  in.euid = args.euid;
  in.gid = args.gid;
  in.egid = args.egid;
  const internal::StackLayout stack = TRY(internal::BuildStack(mm, in, why));
  out.stack_pointer = stack.sp;
  out.arg_start = stack.arg_start;
  out.arg_end = stack.arg_end;
  out.env_start = stack.env_start;
  out.env_end = stack.env_end;
  out.auxv = stack.auxv;
  out.exe_path = exe.path;
  out.exe_file = exe.file;
  return out;
}

}  // namespace sentry::loader
