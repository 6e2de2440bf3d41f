// Test helpers for the loader: in-memory ELF images, a fake Opener, and a
// fixture with a real MemoryManager (no platform).
#ifndef TESTS_UNIT_SENTRY_LOADER_TEST_UTIL_H_
#define TESTS_UNIT_SENTRY_LOADER_TEST_UTIL_H_

#include "sentry/loader/loader.h"

#include <elf.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader::loader_test {

constexpr uint64_t kPage = mm::kPageSize;

class BytesFile : public mm::MappableFile {
 public:
  BytesFile(std::vector<uint8_t> bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {}
  base::Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    if (off >= bytes_.size()) return size_t{0};
    const size_t n = std::min<uint64_t>(buf.size(), bytes_.size() - off);
    std::memcpy(buf.data(), bytes_.data() + off, n);
    return n;
  }
  std::string MapsName() const override { return name_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

// Builds an ELF64 x86-64 image in memory. The first kHeaderArea bytes hold
// the ELF header and program headers; segment data follows, each at a file
// offset congruent to its address modulo the page size.
class ElfBuilder {
 public:
  static constexpr uint64_t kHeaderArea = 0x400;

  explicit ElfBuilder(uint16_t type = ET_EXEC) { ehdr_.e_type = type; }
  ElfBuilder& Entry(uint64_t e) {
    ehdr_.e_entry = e;
    return *this;
  }
  // A PT_LOAD at `vaddr` holding `data` then zeros up to `memsz`. With
  // `with_headers`, the segment starts at file offset 0 (vaddr page aligned)
  // and `data` lands at vaddr + kHeaderArea.
  ElfBuilder& Load(uint64_t vaddr, uint32_t flags, std::vector<uint8_t> data, uint64_t memsz,
                   bool with_headers = false) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = flags;
    ph.p_vaddr = ph.p_paddr = vaddr;
    ph.p_align = kPage;
    if (with_headers) {
      ph.p_offset = 0;
      Put(kHeaderArea, data);
      ph.p_filesz = kHeaderArea + data.size();
      ph.p_memsz = std::max(memsz, ph.p_filesz);
    } else {
      ph.p_offset = mm::PageRoundUp(std::max<uint64_t>(image_.size(), kHeaderArea)) + vaddr % kPage;
      Put(ph.p_offset, data);
      ph.p_filesz = data.size();
      ph.p_memsz = memsz;
    }
    phdrs_.push_back(ph);
    return *this;
  }
  ElfBuilder& Interp(const std::string& path, bool terminate = true) {
    std::vector<uint8_t> bytes(path.begin(), path.end());
    if (terminate) bytes.push_back(0);
    Elf64_Phdr ph{};
    ph.p_type = PT_INTERP;
    ph.p_offset = mm::PageRoundUp(std::max<uint64_t>(image_.size(), kHeaderArea));
    ph.p_filesz = ph.p_memsz = bytes.size();
    Put(ph.p_offset, bytes);
    phdrs_.insert(phdrs_.begin(), ph);
    return *this;
  }
  ElfBuilder& Phdr(const Elf64_Phdr& ph) {
    phdrs_.push_back(ph);
    return *this;
  }
  Elf64_Ehdr& ehdr() { return ehdr_; }
  std::vector<Elf64_Phdr>& phdrs() { return phdrs_; }

  std::vector<uint8_t> Build() {
    Elf64_Ehdr eh = ehdr_;
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    if (eh.e_machine == 0) eh.e_machine = EM_X86_64;
    if (eh.e_version == 0) eh.e_version = EV_CURRENT;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    if (eh.e_phentsize == 0) eh.e_phentsize = sizeof(Elf64_Phdr);
    if (eh.e_phoff == 0) eh.e_phoff = sizeof(Elf64_Ehdr);
    if (eh.e_phnum == 0) eh.e_phnum = phdrs_.size();
    std::vector<uint8_t> out = image_;
    out.resize(std::max<uint64_t>(out.size(), kHeaderArea));
    std::memcpy(out.data(), &eh, sizeof(eh));
    const size_t ph_bytes = phdrs_.size() * sizeof(Elf64_Phdr);
    EXPECT_LE(sizeof(eh) + ph_bytes, kHeaderArea);
    std::memcpy(out.data() + sizeof(eh), phdrs_.data(), ph_bytes);
    return out;
  }

 private:
  void Put(uint64_t off, const std::vector<uint8_t>& data) {
    if (image_.size() < off + data.size()) image_.resize(off + data.size());
    if (!data.empty()) std::memcpy(image_.data() + off, data.data(), data.size());  // data() may be null
  }
  Elf64_Ehdr ehdr_{};
  std::vector<Elf64_Phdr> phdrs_;
  std::vector<uint8_t> image_;
};

inline std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
inline std::vector<uint8_t> Fill(size_t n, uint8_t v) { return std::vector<uint8_t>(n, v); }

// A minimal static ET_EXEC: headers+text at 0x400000, data at 0x600010
// (filesz 0x20, bss to 0x603000), entry 0x400400.
inline ElfBuilder StaticExec() {
  ElfBuilder b(ET_EXEC);
  b.Entry(0x400000 + ElfBuilder::kHeaderArea)
      .Load(0x400000, PF_R | PF_X, Bytes("\x0f\x05text"), 0, /*with_headers=*/true)
      .Load(0x600010, PF_R | PF_W, Fill(0x20, 0xab), 0x3000 - 0x10);
  return b;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mm_.reset();  // tests that start over: the old mm uses the old file
    files_.clear();
    auto mf = mm::MemoryFile::Create(1ull << 30);
    ASSERT_TRUE(mf.ok());
    mf_ = std::move(mf).value();
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, nullptr);
    args_.path = "/bin/prog";
    args_.argv = {"prog", "arg1"};
    args_.envp = {"HOME=/root", "PATH=/bin"};
    for (size_t i = 0; i < args_.random.size(); i++) args_.random[i] = static_cast<uint8_t>(0xa0 + i);
  }

  void AddFile(const std::string& path, std::vector<uint8_t> bytes) {
    files_[path] = std::make_shared<BytesFile>(std::move(bytes), path);
  }
  void AddFile(const std::string& path, ElfBuilder b) { AddFile(path, b.Build()); }

  Opener opener() {
    return [this](std::string_view path) -> base::Result<ExecFile> {
      auto it = files_.find(std::string(path));
      if (it == files_.end()) return base::Errno::kENOENT;
      return ExecFile{it->second, std::string(path)};
    };
  }

  base::Result<LoadResult> DoLoad() {
    why_.clear();
    return Load(*mm_, opener(), args_, &why_);
  }

  std::vector<uint8_t> Read(uint64_t addr, size_t n) {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(mm_->CopyInBytes(addr, out).ok()) << std::hex << addr;
    return out;
  }
  uint64_t ReadU64(uint64_t addr) {
    auto v = mm_->CopyIn(mm::UserPtr<uint64_t>(addr));
    EXPECT_TRUE(v.ok()) << std::hex << addr;
    return v.ok() ? v.value() : 0;
  }
  std::string ReadString(uint64_t addr) {
    auto s = mm_->CopyInString(addr, kMaxArgStrlen);
    EXPECT_TRUE(s.ok()) << std::hex << addr;
    return s.ok() ? s.value() : "";
  }

  struct Stack {
    std::vector<std::string> argv, envp;
    std::map<uint64_t, uint64_t> auxv;
    std::vector<uint64_t> auxv_order;
  };
  Stack ReadStack(uint64_t sp) {
    Stack s;
    const uint64_t argc = ReadU64(sp);
    uint64_t p = sp + 8;
    for (uint64_t i = 0; i < argc; i++, p += 8) s.argv.push_back(ReadString(ReadU64(p)));
    EXPECT_EQ(ReadU64(p), 0u);
    p += 8;
    for (uint64_t a; (a = ReadU64(p)) != 0; p += 8) s.envp.push_back(ReadString(a));
    p += 8;
    for (int i = 0; i < 64; i++, p += 16) {
      const uint64_t type = ReadU64(p);
      if (type == AT_NULL) break;
      s.auxv[type] = ReadU64(p + 8);
      s.auxv_order.push_back(type);
    }
    return s;
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<mm::MemoryManager> mm_;
  std::map<std::string, std::shared_ptr<BytesFile>> files_;
  LoadArgs args_;
  std::string why_;
};

}  // namespace sentry::loader::loader_test

#endif  // TESTS_UNIT_SENTRY_LOADER_TEST_UTIL_H_
