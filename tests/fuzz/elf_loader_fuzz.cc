// The ELF loader (sentry/loader/elf_loader.h) and the #! line parser
// (script.h) on an untrusted file. Properties: no crash; a rejected ELF is
// ENOEXEC (or the file's read error) with a reason; an accepted one has at
// least one PT_LOAD below the user limit and maps into a fresh address space
// without leaving it (every mapping below the limit), or fails with an errno.
#include <elf.h>

#include <cstring>
#include <memory>
#include <span>

#include "sentry/loader/elf_loader.h"
#include "sentry/loader/loader.h"
#include "sentry/loader/script.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "tests/fuzz/fuzz.h"

namespace {

namespace internal = sentry::loader::internal;
namespace mm = sentry::mm;

class BytesFile : public mm::MappableFile {
 public:
  explicit BytesFile(std::string bytes) : bytes_(std::move(bytes)) {}
  base::Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    if (off >= bytes_.size()) return size_t{0};
    const size_t n = std::min<uint64_t>(buf.size(), bytes_.size() - off);
    std::memcpy(buf.data(), bytes_.data() + off, n);
    return n;
  }
  std::string MapsName() const override { return "/fuzz/prog"; }

 private:
  std::string bytes_;
};

mm::MemoryFile& File() {
  static std::unique_ptr<mm::MemoryFile> mf = std::move(mm::MemoryFile::Create(1ull << 30)).value();
  return *mf;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  std::string why;
  // As the loader does: the first kBinprmBufSize bytes. (An interpreter may
  // be "" when a NUL follows "#!", as in Linux; opening it fails later.)
  const auto head = bytes.first(std::min(bytes.size(), sentry::loader::kBinprmBufSize));
  if (internal::IsScript(head)) {
    auto line = internal::ParseScriptLine(head, &why);
    if (line.ok()) {
      FUZZ_CHECK(line.value().interp.size() < sentry::loader::kBinprmBufSize);
      FUZZ_CHECK(line.value().interp.find('\0') == std::string::npos);
    } else {
      FUZZ_CHECK(line.error() == base::Errno::kENOEXEC);
    }
  }
  auto file = std::make_shared<BytesFile>(std::string(reinterpret_cast<const char*>(data), size));
  auto mgr = std::make_unique<mm::MemoryManager>(File(), nullptr);
  const uint64_t limit = internal::UserLimit(*mgr);
  auto info = internal::ParseElf(*file, limit, &why);
  if (!info.ok()) {
    FUZZ_CHECK(info.error() == base::Errno::kENOEXEC);
    FUZZ_CHECK(!why.empty());
    return 0;
  }
  FUZZ_CHECK(info.value().first_vaddr <= info.value().last_vaddr);
  FUZZ_CHECK(info.value().last_vaddr <= limit);
  for (auto placement : {internal::Placement::kAtVaddr, internal::Placement::kMmap}) {
    auto m = std::make_unique<mm::MemoryManager>(File(), nullptr);
    auto loaded = internal::MapElf(*m, info.value(), file, placement, limit, &why);
    if (loaded.ok()) {
      FUZZ_CHECK(loaded.value().end <= limit);
      FUZZ_CHECK(loaded.value().entry < limit || info.value().ehdr.e_entry + loaded.value().bias >= limit);
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  // A static ET_EXEC with one PT_LOAD (text), one bss PT_LOAD, PT_GNU_STACK;
  // the same as ET_DYN with a PT_INTERP; and #! lines.
  auto elf = [](uint16_t type, bool interp) {
    std::string img(0x2000, '\0');
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x401000;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    std::vector<Elf64_Phdr> ph;
    Elf64_Phdr text{};
    text.p_type = PT_LOAD;
    text.p_flags = PF_R | PF_X;
    text.p_offset = 0;
    text.p_vaddr = text.p_paddr = 0x400000;
    text.p_filesz = text.p_memsz = 0x1100;
    text.p_align = 0x1000;
    ph.push_back(text);
    Elf64_Phdr bss{};
    bss.p_type = PT_LOAD;
    bss.p_flags = PF_R | PF_W;
    bss.p_offset = 0x1100;
    bss.p_vaddr = bss.p_paddr = 0x402100;
    bss.p_filesz = 0x100;
    bss.p_memsz = 0x3000;
    bss.p_align = 0x1000;
    ph.push_back(bss);
    Elf64_Phdr stack{};
    stack.p_type = PT_GNU_STACK;
    stack.p_flags = PF_R | PF_W;
    ph.push_back(stack);
    if (interp) {
      Elf64_Phdr in{};
      in.p_type = PT_INTERP;
      in.p_offset = 0x300;
      in.p_filesz = 28;
      ph.push_back(in);
      std::memcpy(img.data() + 0x300, "/lib64/ld-linux-x86-64.so.2", 28);
    }
    eh.e_phnum = static_cast<uint16_t>(ph.size());
    std::memcpy(img.data(), &eh, sizeof(eh));
    std::memcpy(img.data() + sizeof(eh), ph.data(), ph.size() * sizeof(Elf64_Phdr));
    std::memset(img.data() + 0x1000, 0x90, 0x100);
    return img;
  };
  return {elf(ET_EXEC, false), elf(ET_DYN, true), "#!/bin/sh -x\n", "#! /usr/bin/env  python3 \nprint(1)\n",
          "#!" + std::string(300, 'a') + "\n"};
}
