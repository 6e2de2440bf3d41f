#include "sentry/loader/elf_loader.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "sentry/loader/loader.h"

namespace sentry::loader::internal {

using base::Errno;
using base::Result;

namespace {

// fs/binfmt_elf.c load_elf_phdrs: the table may not exceed 64 KiB.
constexpr uint64_t kMaxPhdrBytes = 65536;
// An alignment beyond this is not a real binary's and would make us reserve
// absurd ranges; Linux would fail the mmap instead.
constexpr uint64_t kMaxAlignment = 1ull << 30;

int ProtFromFlags(uint32_t p_flags) {
  int prot = 0;
  if (p_flags & PF_R) prot |= PROT_READ;
  if (p_flags & PF_W) prot |= PROT_WRITE;
  if (p_flags & PF_X) prot |= PROT_EXEC;
  return prot;
}

Result<void> CheckHeader(const Elf64_Ehdr& eh, std::string* why) {
  constexpr Errno kNoexec = Errno::kENOEXEC;
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return Fail(why, kNoexec, "not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    return Fail(why, kNoexec, "ELF class {} is not ELFCLASS64", eh.e_ident[EI_CLASS]);
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return Fail(why, kNoexec, "ELF data encoding {} is not little-endian", eh.e_ident[EI_DATA]);
  if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
    return Fail(why, kNoexec, "ELF version {}/{} is not EV_CURRENT", eh.e_ident[EI_VERSION], eh.e_version);
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
    return Fail(why, kNoexec, "ELF type {} is neither ET_EXEC nor ET_DYN", eh.e_type);
  if (eh.e_machine != EM_X86_64)
    return Fail(why, kNoexec, "ELF machine {} is not EM_X86_64 ({})", eh.e_machine, EM_X86_64);
  if (eh.e_phentsize != sizeof(Elf64_Phdr))
    return Fail(why, kNoexec, "e_phentsize {} is not {}", eh.e_phentsize, sizeof(Elf64_Phdr));
  if (eh.e_phnum == 0 || uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr) > kMaxPhdrBytes)
    return Fail(why, kNoexec, "e_phnum {} out of range [1, {}]", eh.e_phnum,
                kMaxPhdrBytes / sizeof(Elf64_Phdr));
  return {};
}

Result<std::string> ReadInterp(mm::MappableFile& f, const Elf64_Phdr& ph, std::string* why) {
  // fs/binfmt_elf.c: 2 <= p_filesz <= PATH_MAX, and NUL-terminated.
  constexpr uint64_t kPathMax = 4096;
  if (ph.p_filesz < 2 || ph.p_filesz > kPathMax)
    return Fail(why, Errno::kENOEXEC, "PT_INTERP size {} out of range [2, {}]", ph.p_filesz, kPathMax);
  std::string buf(ph.p_filesz, '\0');
  const size_t n = TRY(ReadFull(f, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, ph.p_offset));
  if (n != buf.size())
    return Fail(why, Errno::kENOEXEC, "PT_INTERP at offset {:#x} is past the end of the file", ph.p_offset);
  if (buf.back() != '\0') return Fail(why, Errno::kENOEXEC, "PT_INTERP path is not NUL-terminated");
  buf.resize(std::strlen(buf.c_str()));
  if (buf.empty()) return Fail(why, Errno::kENOEXEC, "PT_INTERP path is empty");
  return buf;
}

}  // namespace

Result<size_t> ReadFull(mm::MappableFile& f, std::span<uint8_t> buf, uint64_t off) {
  size_t done = 0;
  while (done < buf.size()) {
    const size_t n = TRY(f.ReadAt(buf.subspan(done), off + done));
    if (n == 0) break;
    done += n;
  }
  return done;
}

uint64_t UserLimit(mm::MemoryManager& mm) {
  uint64_t limit = kDefaultStackTop;
  if (mm.address_space() != nullptr) limit = std::min(limit, mm.address_space()->MaxUserAddress());
  return mm::PageRoundDown(limit);
}

Result<ElfInfo> ParseElf(mm::MappableFile& f, uint64_t user_limit, std::string* why) {
  ElfInfo info;
  const size_t n = TRY(ReadFull(f, {reinterpret_cast<uint8_t*>(&info.ehdr), sizeof(info.ehdr)}, 0));
  if (n < SELFMAG || std::memcmp(info.ehdr.e_ident, ELFMAG, SELFMAG) != 0)
    return Fail(why, Errno::kENOEXEC, "not an ELF file");
  if (n != sizeof(info.ehdr))
    return Fail(why, Errno::kENOEXEC, "truncated ELF header ({} of {} bytes)", n, sizeof(info.ehdr));
  const Elf64_Ehdr& eh = info.ehdr;
  TRY(CheckHeader(eh, why));

  info.phdrs.resize(eh.e_phnum);
  const uint64_t ph_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > UINT64_MAX - ph_bytes)
    return Fail(why, Errno::kENOEXEC, "e_phoff {:#x} overflows", eh.e_phoff);
  const size_t got = TRY(ReadFull(f, {reinterpret_cast<uint8_t*>(info.phdrs.data()), ph_bytes}, eh.e_phoff));
  if (got != ph_bytes)
    return Fail(why, Errno::kENOEXEC, "program headers truncated ({} of {} bytes at {:#x})", got, ph_bytes,
                eh.e_phoff);

  bool have_load = false, have_interp = false;
  uint64_t prev_end = 0;
  for (size_t i = 0; i < info.phdrs.size(); i++) {
    const Elf64_Phdr& ph = info.phdrs[i];
    if (ph.p_type == PT_INTERP && !have_interp) {  // Linux uses the first one.
      info.interp = TRY(ReadInterp(f, ph, why));
      have_interp = true;
    } else if (ph.p_type == PT_GNU_STACK) {
      info.exec_stack = (ph.p_flags & PF_X) != 0;
    }
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_filesz > ph.p_memsz)
      return Fail(why, Errno::kENOEXEC, "PT_LOAD {}: p_filesz {:#x} > p_memsz {:#x}", i, ph.p_filesz,
                  ph.p_memsz);
    if (ph.p_offset > UINT64_MAX - ph.p_filesz)
      return Fail(why, Errno::kENOEXEC, "PT_LOAD {}: p_offset {:#x} + p_filesz overflows", i, ph.p_offset);
    if (ph.p_vaddr >= user_limit || ph.p_memsz > user_limit - ph.p_vaddr)
      return Fail(why, Errno::kENOEXEC, "PT_LOAD {}: [{:#x}, +{:#x}) is outside the user address range", i,
                  ph.p_vaddr, ph.p_memsz);
    if ((ph.p_vaddr - ph.p_offset) % mm::kPageSize != 0)
      return Fail(why, Errno::kENOEXEC, "PT_LOAD {}: p_vaddr {:#x} and p_offset {:#x} differ modulo the page size",
                  i, ph.p_vaddr, ph.p_offset);
    if (have_load && ph.p_vaddr < prev_end)
      return Fail(why, Errno::kENOEXEC, "PT_LOAD {} at {:#x} overlaps or precedes the previous one (ends {:#x})", i,
                  ph.p_vaddr, prev_end);
    if (ph.p_align > mm::kPageSize && std::has_single_bit(ph.p_align)) {
      if (ph.p_align > kMaxAlignment)
        return Fail(why, Errno::kENOEXEC, "PT_LOAD {}: p_align {:#x} is too large", i, ph.p_align);
      info.alignment = std::max(info.alignment, ph.p_align);
    }
    if (!have_load) info.first_vaddr = mm::PageRoundDown(ph.p_vaddr);
    have_load = true;
    prev_end = ph.p_vaddr + ph.p_memsz;
    info.last_vaddr = mm::PageRoundUp(prev_end);
  }
  if (!have_load) return Fail(why, Errno::kENOEXEC, "no PT_LOAD segment");
  if (eh.e_type == ET_EXEC) info.alignment = mm::kPageSize;  // fixed addresses: nothing to align
  return info;
}

namespace {

// Maps one PT_LOAD at `bias` (fs/binfmt_elf.c elf_load).
Result<void> MapSegment(mm::MemoryManager& mm, const Elf64_Phdr& ph, uint64_t bias,
                        const std::shared_ptr<mm::MappableFile>& file, std::string* why) {
  if (ph.p_memsz == 0) return {};
  const int prot = ProtFromFlags(ph.p_flags);
  const uint64_t start = bias + ph.p_vaddr;
  const uint64_t page_start = mm::PageRoundDown(start);
  const uint64_t file_end = start + ph.p_filesz;
  const uint64_t mem_end = start + ph.p_memsz;
  uint64_t anon_start = page_start;
  if (ph.p_filesz > 0) {
    // The tail page of file data must read as zeros past p_filesz when
    // the bss starts there; zero it through a writable mapping, then drop
    // write if the segment has none.
    const bool zero_tail = ph.p_memsz > ph.p_filesz && file_end % mm::kPageSize != 0;
    mm::MmapOpts opts;
    opts.addr = page_start;
    opts.length = mm::PageRoundUp(file_end) - page_start;
    opts.prot = zero_tail ? (prot | PROT_WRITE) : prot;
    opts.fixed = true;
    opts.file = file;
    opts.offset = ph.p_offset - (start - page_start);
    if (auto r = mm.Mmap(opts); !r.ok())
      return Fail(why, r.error(), "mapping [{:#x}, {:#x}) from offset {:#x} failed: {}", page_start,
                  page_start + opts.length, opts.offset, base::ErrnoName(r.error()));
    if (zero_tail) {
      const uint64_t tail_end = mm::PageRoundUp(file_end);
      if (auto r = mm.ZeroOut(file_end, tail_end - file_end); !r.ok())
        return Fail(why, r.error(), "zeroing bss [{:#x}, {:#x}) failed", file_end, tail_end);
      if (!(prot & PROT_WRITE)) {
        if (auto r = mm.Mprotect(page_start, opts.length, prot); !r.ok())
          return Fail(why, r.error(), "mprotect of [{:#x}, +{:#x}) failed", page_start, opts.length);
      }
    }
    anon_start = mm::PageRoundUp(file_end);
  }
  const uint64_t anon_end = mm::PageRoundUp(mem_end);
  if (anon_end > anon_start) {
    mm::MmapOpts opts;
    opts.addr = anon_start;
    opts.length = anon_end - anon_start;
    opts.prot = prot;
    opts.fixed = true;
    if (auto r = mm.Mmap(opts); !r.ok())
      return Fail(why, r.error(), "mapping bss [{:#x}, {:#x}) failed: {}", anon_start, anon_end,
                  base::ErrnoName(r.error()));
  }
  return {};
}

// Where the program headers are in memory (fs/binfmt_elf.c: PT_PHDR, or the
// PT_LOAD whose file range holds e_phoff).
uint64_t PhdrAddr(const ElfInfo& info, uint64_t bias) {
  for (const Elf64_Phdr& ph : info.phdrs)
    if (ph.p_type == PT_PHDR) return ph.p_vaddr + bias;
  const uint64_t phoff = info.ehdr.e_phoff;
  const uint64_t ph_bytes = uint64_t{info.ehdr.e_phnum} * sizeof(Elf64_Phdr);
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type == PT_LOAD && ph.p_offset <= phoff && phoff + ph_bytes <= ph.p_offset + ph.p_filesz)
      return phoff - ph.p_offset + ph.p_vaddr + bias;
  }
  return 0;
}

}  // namespace

Result<LoadedElf> MapElf(mm::MemoryManager& mm, const ElfInfo& info, const std::shared_ptr<mm::MappableFile>& file,
                         Placement placement, uint64_t user_limit, std::string* why) {
  const uint64_t span = info.last_vaddr - info.first_vaddr;
  LoadedElf out;
  // Claim the whole span first (MAP_FIXED_NOREPLACE for fixed placements,
  // like Linux), so a clash is reported once and clearly; the segments then
  // replace the reservation and the holes between them are unmapped again.
  mm::MmapOpts reserve;
  reserve.prot = PROT_NONE;
  switch (placement) {
    case Placement::kAtVaddr:
      reserve.addr = info.first_vaddr;
      reserve.length = span;
      reserve.fixed_noreplace = true;
      break;
    case Placement::kElfEtDynBase: {
      const uint64_t base = kElfEtDynBase & ~(info.alignment - 1);
      if (base + span > user_limit)
        return Fail(why, Errno::kENOEXEC, "PIE span {:#x} does not fit at {:#x}", span, base);
      reserve.addr = base;
      reserve.length = span;
      reserve.fixed_noreplace = true;
      break;
    }
    case Placement::kMmap:
      reserve.length = span + info.alignment - mm::kPageSize;
      break;
  }
  auto r = mm.Mmap(reserve);
  if (!r.ok())
    return Fail(why, r.error(), "cannot reserve {:#x} bytes for the ELF at {:#x}: {}", reserve.length, reserve.addr,
                base::ErrnoName(r.error()));
  uint64_t start = r.value();
  if (placement == Placement::kMmap) {
    const uint64_t aligned = (start + info.alignment - 1) & ~(info.alignment - 1);
    // Give back the slack that alignment did not need.
    if (aligned > start) TRY(mm.Munmap(start, aligned - start));
    if (start + reserve.length > aligned + span) TRY(mm.Munmap(aligned + span, start + reserve.length - aligned - span));
    start = aligned;
  }
  out.bias = start - info.first_vaddr;

  for (const Elf64_Phdr& ph : info.phdrs)
    if (ph.p_type == PT_LOAD) TRY(MapSegment(mm, ph, out.bias, file, why));

  // Unmap the reservation between segments (Linux leaves holes unmapped).
  uint64_t covered = start;
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    const uint64_t seg_start = mm::PageRoundDown(ph.p_vaddr + out.bias);
    if (seg_start > covered) TRY(mm.Munmap(covered, seg_start - covered));
    covered = std::max(covered, mm::PageRoundUp(ph.p_vaddr + ph.p_memsz + out.bias));
  }

  out.entry = info.ehdr.e_entry + out.bias;
  if (out.entry >= user_limit)
    return Fail(why, Errno::kEINVAL, "entry point {:#x} is outside the user address range", out.entry);
  out.phdr_addr = PhdrAddr(info, out.bias);
  for (const Elf64_Phdr& ph : info.phdrs)
    if (ph.p_type == PT_LOAD) out.end = std::max(out.end, ph.p_vaddr + ph.p_memsz + out.bias);
  return out;
}

}  // namespace sentry::loader::internal
