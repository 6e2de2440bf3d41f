#include "sentry/loader/stack.h"

#include <cpuid.h>
#include <elf.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "sentry/loader/elf_loader.h"
#include "sentry/loader/loader.h"

namespace sentry::loader::internal {

using base::Errno;
using base::Result;

namespace {

constexpr std::string_view kPlatform = "x86_64";  // ELF_PLATFORM
constexpr uint64_t kStkLim = 8 << 20;             // _STK_LIM
constexpr uint64_t kArgMax = 32 * mm::kPageSize;  // ARG_MAX (the floor)
constexpr uint64_t kClkTck = 100;                 // CLOCKS_PER_SEC / USER_HZ

// AT_HWCAP on x86 is CPUID.1:EDX (arch/x86/include/asm/elf.h ELF_HWCAP).
uint64_t HwCap() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return 0;
  return edx;
}

// The app runs natively on this CPU under this host kernel, so FSGSBASE
// (HWCAP2) and the signal frame size the host reports are what it has too.
uint64_t HwCap2() { return getauxval(AT_HWCAP2); }
uint64_t MinSigStkSz() {
  const uint64_t v = getauxval(AT_MINSIGSTKSZ);
  return v != 0 ? v : 2048;  // MINSIGSTKSZ
}

// Writes into a sentry-side image of [base, base + bytes.size()).
class Image {
 public:
  Image(uint64_t base, size_t size) : base_(base), bytes_(size, 0) {}
  void Put(uint64_t addr, const void* src, size_t n) { std::memcpy(&bytes_[addr - base_], src, n); }
  void PutU64(uint64_t addr, uint64_t v) { Put(addr, &v, sizeof(v)); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  uint64_t base_;
  std::vector<uint8_t> bytes_;
};

uint64_t StringsSize(const std::vector<std::string>& v) {
  uint64_t n = 0;
  for (const std::string& s : v) n += s.size() + 1;
  return n;
}

}  // namespace

Result<void> CheckArgSizes(const std::vector<std::string>& argv, const std::vector<std::string>& envp,
                           const std::string& execfn, uint64_t stack_rlimit, std::string* why) {
  // fs/exec.c bprm_stack_limits.
  uint64_t limit = std::min(kStkLim / 4 * 3, stack_rlimit / 4);
  limit = std::max(limit, kArgMax);
  const uint64_t ptr_size = (std::max<uint64_t>(argv.size(), 1) + envp.size()) * sizeof(uint64_t);
  if (limit <= ptr_size)
    return Fail(why, Errno::kE2BIG, "{} argument and environment pointers exceed the {} byte limit",
                argv.size() + envp.size(), limit);
  limit -= ptr_size;
  uint64_t total = 0;
  for (const auto* v : {&argv, &envp}) {
    for (const std::string& s : *v) {
      if (s.size() + 1 > kMaxArgStrlen)
        return Fail(why, Errno::kE2BIG, "an argument or environment string of {} bytes exceeds MAX_ARG_STRLEN",
                    s.size() + 1);
      total += s.size() + 1;
    }
  }
  if (execfn.size() + 1 > kMaxArgStrlen) return Fail(why, Errno::kE2BIG, "file name exceeds MAX_ARG_STRLEN");
  total += execfn.size() + 1;
  if (total > limit)
    return Fail(why, Errno::kE2BIG, "arguments and environment take {} bytes, more than the {} allowed", total,
                limit);
  return {};
}

Result<StackLayout> BuildStack(mm::MemoryManager& mm, const StackInputs& in, std::string* why) {
  const std::vector<std::string>& argv = *in.argv;
  const std::vector<std::string>& envp = *in.envp;
  if (in.top < kStackReserve || in.top % mm::kPageSize != 0)
    return Fail(why, Errno::kEINVAL, "bad stack top {:#x}", in.top);

  mm::MmapOpts opts;
  opts.addr = in.top - kStackReserve;
  opts.length = kStackReserve;
  opts.prot = PROT_READ | PROT_WRITE | (in.exec_stack ? PROT_EXEC : 0);
  opts.fixed_noreplace = true;
  opts.grows_down = true;
  opts.name = "[stack]";
  if (auto r = mm.Mmap(opts); !r.ok())
    return Fail(why, r.error(), "cannot map the stack at [{:#x}, {:#x}): {}", opts.addr, in.top,
                base::ErrnoName(r.error()));

  StackLayout out;
  // Strings, from the top down: a NULL word, the file name, envp, argv.
  uint64_t p = in.top - sizeof(uint64_t);
  const uint64_t execfn_addr = p - (in.execfn.size() + 1);
  out.env_end = execfn_addr;
  out.env_start = out.env_end - StringsSize(envp);
  out.arg_end = out.env_start;
  out.arg_start = out.arg_end - StringsSize(argv);
  p = out.arg_start & ~uint64_t{15};  // arch_align_stack, without the random shift
  const uint64_t platform_addr = p - (kPlatform.size() + 1);
  const uint64_t random_addr = platform_addr - in.random.size();
  p = random_addr;

  out.auxv = {
      {AT_MINSIGSTKSZ, MinSigStkSz()},
      {AT_HWCAP, HwCap()},
      {AT_PAGESZ, mm::kPageSize},
      {AT_CLKTCK, kClkTck},
      {AT_PHDR, in.phdr},
      {AT_PHENT, sizeof(Elf64_Phdr)},
      {AT_PHNUM, in.phnum},
      {AT_BASE, in.base},
      {AT_FLAGS, 0},
      {AT_ENTRY, in.entry},
      {AT_UID, in.uid},
      {AT_EUID, in.euid},
      {AT_GID, in.gid},
      {AT_EGID, in.egid},
      {AT_SECURE, 0},
      {AT_RANDOM, random_addr},
      {AT_HWCAP2, HwCap2()},
      {AT_EXECFN, execfn_addr},
      {AT_PLATFORM, platform_addr},
  };
  if (in.sysinfo_ehdr != 0) out.auxv.insert(out.auxv.begin(), {AT_SYSINFO_EHDR, in.sysinfo_ehdr});

  // argc, argv..., NULL, envp..., NULL, auxv pairs..., AT_NULL pair.
  const uint64_t words = 1 + (argv.size() + 1) + (envp.size() + 1) + 2 * (out.auxv.size() + 1);
  out.sp = (p - words * sizeof(uint64_t)) & ~uint64_t{15};
  if (out.sp < opts.addr) return Fail(why, Errno::kE2BIG, "initial stack does not fit in {} bytes", kStackReserve);

  Image img(out.sp, in.top - out.sp);
  img.Put(execfn_addr, in.execfn.c_str(), in.execfn.size() + 1);
  uint64_t s = out.arg_start;
  uint64_t w = out.sp;
  img.PutU64(w, argv.size());
  w += 8;
  for (const std::string& a : argv) {
    img.Put(s, a.c_str(), a.size() + 1);
    img.PutU64(w, s);
    s += a.size() + 1;
    w += 8;
  }
  w += 8;  // NULL
  for (const std::string& e : envp) {
    img.Put(s, e.c_str(), e.size() + 1);
    img.PutU64(w, s);
    s += e.size() + 1;
    w += 8;
  }
  w += 8;  // NULL
  for (const auto& [type, value] : out.auxv) {
    img.PutU64(w, type);
    img.PutU64(w + 8, value);
    w += 16;
  }
  img.Put(platform_addr, kPlatform.data(), kPlatform.size());
  img.Put(random_addr, in.random.data(), in.random.size());

  if (auto r = mm.CopyOutBytes(out.sp, img.bytes()); !r.ok())
    return Fail(why, r.error(), "writing the initial stack at {:#x} failed", out.sp);
  return out;
}

}  // namespace sentry::loader::internal
