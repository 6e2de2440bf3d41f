#include "sentry/loader/loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/loader/script.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"

namespace sentry::loader {
namespace {

using base::Errno;
using ::testing::HasSubstr;

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
    std::memcpy(image_.data() + off, data.data(), data.size());
  }
  Elf64_Ehdr ehdr_{};
  std::vector<Elf64_Phdr> phdrs_;
  std::vector<uint8_t> image_;
};

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<uint8_t> Fill(size_t n, uint8_t v) { return std::vector<uint8_t>(n, v); }

// A minimal static ET_EXEC: headers+text at 0x400000, data at 0x600010
// (filesz 0x20, bss to 0x603000), entry 0x400400.
ElfBuilder StaticExec() {
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
      if (it == files_.end()) return Errno::kENOENT;
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

TEST_F(LoaderTest, StaticExecMapsSegmentsAtTheirAddressesAndZeroesBss) {
  AddFile("/bin/prog", StaticExec());
  // Garbage right after the data's p_filesz in the file must not show.
  auto image = StaticExec().Build();
  image.resize(0x1000 + 0x10 + 0x20 + 0x100, 0xee);
  AddFile("/bin/prog", image);

  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().entry, 0x400400u);
  EXPECT_EQ(r.value().load_bias, 0u);
  EXPECT_EQ(r.value().interp_base, 0u);
  EXPECT_EQ(r.value().exe_path, "/bin/prog");
  EXPECT_EQ(Read(0x400400, 6), Bytes("\x0f\x05text"));
  EXPECT_EQ(Read(0x400000, 4), Bytes(ELFMAG));
  EXPECT_EQ(Read(0x600010, 0x20), Fill(0x20, 0xab));
  EXPECT_EQ(Read(0x600030, 0x3000 - 0x30), Fill(0x3000 - 0x30, 0));
  EXPECT_EQ(r.value().brk_start, 0x603000u);

  bool text = false, data = false, stack = false;
  for (const mm::VmaInfo& v : mm_->Vmas()) {
    if (v.start <= 0x400000 && 0x400000 < v.end) {
      text = true;
      EXPECT_EQ(v.prot, PROT_READ | PROT_EXEC);
      EXPECT_FALSE(v.shared);
    }
    if (v.start <= 0x602000 && 0x602000 < v.end) {
      data = true;
      EXPECT_EQ(v.prot, PROT_READ | PROT_WRITE);
    }
    if (v.name == "[stack]") {
      stack = true;
      EXPECT_EQ(v.prot, PROT_READ | PROT_WRITE);
      EXPECT_LE(v.start, r.value().stack_pointer);
      EXPECT_GT(v.end, r.value().stack_pointer);
    }
  }
  EXPECT_TRUE(text && data && stack);
}

TEST_F(LoaderTest, ReadOnlySegmentWithBssGetsZeroedTailAndStaysReadOnly) {
  ElfBuilder b(ET_EXEC);
  b.Entry(0x400400).Load(0x400000, PF_R | PF_X, Bytes("code"), 0x2000, /*with_headers=*/true);
  auto image = b.Build();
  image.resize(0x1000, 0xee);  // file bytes after p_filesz in the same page
  AddFile("/bin/prog", image);
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  const uint64_t filesz = ElfBuilder::kHeaderArea + 4;
  EXPECT_EQ(Read(0x400000 + filesz, 0x2000 - filesz), Fill(0x2000 - filesz, 0));
  for (const mm::VmaInfo& v : mm_->Vmas())
    if (v.start <= 0x400000 && 0x400000 < v.end) {
      EXPECT_EQ(v.prot, PROT_READ | PROT_EXEC);
    }
}

TEST_F(LoaderTest, StackHoldsArgvEnvpAndAuxvLikeLinux) {
  AddFile("/bin/prog", StaticExec());
  args_.sysinfo_ehdr = 0x7fff00000000;
  args_.uid = 1, args_.euid = 2, args_.gid = 3, args_.egid = 4;
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  const uint64_t sp = r.value().stack_pointer;
  EXPECT_EQ(sp % 16, 0u);
  const Stack s = ReadStack(sp);
  EXPECT_EQ(s.argv, args_.argv);
  EXPECT_EQ(s.envp, args_.envp);
  ASSERT_FALSE(s.auxv_order.empty());
  EXPECT_EQ(s.auxv_order.front(), uint64_t{AT_SYSINFO_EHDR});
  EXPECT_EQ(s.auxv.at(AT_SYSINFO_EHDR), 0x7fff00000000u);
  EXPECT_EQ(s.auxv.at(AT_PAGESZ), 4096u);
  EXPECT_EQ(s.auxv.at(AT_CLKTCK), 100u);
  EXPECT_EQ(s.auxv.at(AT_PHENT), sizeof(Elf64_Phdr));
  EXPECT_EQ(s.auxv.at(AT_PHNUM), 2u);
  EXPECT_EQ(s.auxv.at(AT_BASE), 0u);
  EXPECT_EQ(s.auxv.at(AT_ENTRY), 0x400400u);
  EXPECT_EQ(s.auxv.at(AT_UID), 1u);
  EXPECT_EQ(s.auxv.at(AT_EUID), 2u);
  EXPECT_EQ(s.auxv.at(AT_GID), 3u);
  EXPECT_EQ(s.auxv.at(AT_EGID), 4u);
  EXPECT_EQ(s.auxv.at(AT_SECURE), 0u);
  EXPECT_TRUE(s.auxv.count(AT_HWCAP) && s.auxv.count(AT_HWCAP2) && s.auxv.count(AT_MINSIGSTKSZ));
  // AT_PHDR points at the program headers as mapped.
  const auto image = StaticExec().Build();
  EXPECT_EQ(s.auxv.at(AT_PHDR), 0x400000u + sizeof(Elf64_Ehdr));
  EXPECT_EQ(Read(s.auxv.at(AT_PHDR), 2 * sizeof(Elf64_Phdr)),
            std::vector<uint8_t>(image.begin() + 64, image.begin() + 64 + 2 * sizeof(Elf64_Phdr)));
  const auto random = Read(s.auxv.at(AT_RANDOM), 16);
  EXPECT_TRUE(std::equal(random.begin(), random.end(), args_.random.begin()));
  EXPECT_EQ(ReadString(s.auxv.at(AT_EXECFN)), "/bin/prog");
  EXPECT_EQ(ReadString(s.auxv.at(AT_PLATFORM)), "x86_64");
  // The auxv the caller gets matches what is on the stack.
  EXPECT_EQ(r.value().auxv.size(), s.auxv_order.size());
  // Strings are contiguous: argv then envp then the file name.
  EXPECT_EQ(ReadString(r.value().arg_start), "prog");
  EXPECT_EQ(r.value().arg_end, r.value().env_start);
  EXPECT_EQ(r.value().env_end - r.value().env_start, std::string("HOME=/root").size() + 1 + std::string("PATH=/bin").size() + 1);
  EXPECT_EQ(ReadString(r.value().env_end), "/bin/prog");
}

TEST_F(LoaderTest, NoSysinfoEhdrMeansNoSuchAuxvEntry) {
  AddFile("/bin/prog", StaticExec());
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.auxv.count(AT_SYSINFO_EHDR), 0u);
  EXPECT_EQ(s.auxv_order.front(), uint64_t{AT_MINSIGSTKSZ});
}

TEST_F(LoaderTest, StackPointerIsAlignedForEveryArgumentCount) {
  AddFile("/bin/prog", StaticExec());
  for (int n = 0; n < 4; n++) {
    SetUp();
    AddFile("/bin/prog", StaticExec());
    args_.argv.assign(n + 1, std::string(n, 'x'));
    auto r = DoLoad();
    ASSERT_TRUE(r.ok()) << why_;
    EXPECT_EQ(r.value().stack_pointer % 16, 0u) << n;
    EXPECT_EQ(ReadStack(r.value().stack_pointer).argv.size(), static_cast<size_t>(n + 1));
  }
}

TEST_F(LoaderTest, EmptyArgvGetsEmptyArgvZero) {
  AddFile("/bin/prog", StaticExec());
  args_.argv.clear();
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv, std::vector<std::string>{""});
}

ElfBuilder Pie() {
  ElfBuilder b(ET_DYN);
  b.Entry(0x1000)
      .Load(0, PF_R, {}, 0, /*with_headers=*/true)
      .Load(0x1000, PF_R | PF_X, Bytes("pie-code"), 0x1000)
      .Load(0x2010, PF_R | PF_W, Fill(8, 1), 0x100);
  return b;
}

ElfBuilder Interpreter() {
  ElfBuilder b(ET_DYN);
  b.Entry(0x1100)
      .Load(0, PF_R, {}, 0, /*with_headers=*/true)
      .Load(0x1000, PF_R | PF_X, Bytes("ld.so-code"), 0x1000);
  return b;
}

TEST_F(LoaderTest, PieWithoutInterpreterIsMmappedAndItsHeapStartsAtElfEtDynBase) {
  AddFile("/bin/prog", Pie());
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  const uint64_t bias = r.value().load_bias;
  EXPECT_NE(bias, 0u);
  EXPECT_EQ(bias % kPage, 0u);
  EXPECT_EQ(r.value().entry, bias + 0x1000);
  EXPECT_EQ(Read(bias + 0x1000, 8), Bytes("pie-code"));
  EXPECT_EQ(Read(bias + 0x2010, 8), Fill(8, 1));
  EXPECT_EQ(r.value().brk_start, kElfEtDynBase);
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.auxv.at(AT_ENTRY), bias + 0x1000);
  EXPECT_EQ(s.auxv.at(AT_PHDR), bias + sizeof(Elf64_Ehdr));
}

TEST_F(LoaderTest, PieWithInterpreterLoadsAtElfEtDynBaseAndStartsInTheInterpreter) {
  AddFile("/bin/prog", Pie().Interp("/lib/ld.so"));
  AddFile("/lib/ld.so", Interpreter());
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().load_bias, kElfEtDynBase);
  EXPECT_EQ(r.value().brk_start, kElfEtDynBase + 0x3000);
  const uint64_t base = r.value().interp_base;
  EXPECT_NE(base, 0u);
  EXPECT_EQ(r.value().entry, base + 0x1100);
  EXPECT_EQ(Read(base + 0x1000, 10), Bytes("ld.so-code"));
  EXPECT_EQ(r.value().exe_path, "/bin/prog");
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.auxv.at(AT_BASE), base);
  EXPECT_EQ(s.auxv.at(AT_ENTRY), kElfEtDynBase + 0x1000);
  EXPECT_EQ(s.auxv.at(AT_PHDR), kElfEtDynBase + sizeof(Elf64_Ehdr));
  EXPECT_EQ(s.auxv.at(AT_PHNUM), 4u);
  // The interpreter and the binary do not overlap.
  EXPECT_TRUE(base >= kElfEtDynBase + 0x3000 || base + 0x2000 <= kElfEtDynBase);
}

TEST_F(LoaderTest, MissingInterpreterFailsWithItsOpenError) {
  AddFile("/bin/prog", Pie().Interp("/lib/missing.so"));
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
  EXPECT_THAT(why_, HasSubstr("/lib/missing.so"));
}

TEST_F(LoaderTest, MalformedInterpreterFailsWithElibbad) {
  AddFile("/bin/prog", Pie().Interp("/lib/ld.so"));
  ElfBuilder bad = Interpreter();
  bad.ehdr().e_machine = EM_AARCH64;
  AddFile("/lib/ld.so", bad);
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELIBBAD);
  EXPECT_THAT(why_, HasSubstr("machine"));

  AddFile("/lib/ld.so", Bytes("#!/bin/sh\n"));
  r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELIBBAD);
}

TEST_F(LoaderTest, InterpreterWithItsOwnInterpreterFailsWithElibbad) {
  AddFile("/bin/prog", Pie().Interp("/lib/ld.so"));
  AddFile("/lib/ld.so", Interpreter().Interp("/lib/other.so"));
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELIBBAD);
  EXPECT_THAT(why_, HasSubstr("PT_INTERP"));
}

TEST_F(LoaderTest, MissingFileFailsWithEnoent) {
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
}

TEST_F(LoaderTest, GnuStackWithExecFlagMakesTheStackExecutable) {
  Elf64_Phdr stack{};
  stack.p_type = PT_GNU_STACK;
  stack.p_flags = PF_R | PF_W | PF_X;
  AddFile("/bin/prog", StaticExec().Phdr(stack));
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  bool found = false;
  for (const mm::VmaInfo& v : mm_->Vmas()) {
    if (v.name == "[stack]") {
      found = true;
      EXPECT_EQ(v.prot, PROT_READ | PROT_WRITE | PROT_EXEC);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(LoaderTest, PieWithLargeAlignmentIsLoadedAtAnAlignedBase) {
  ElfBuilder b = Pie().Interp("/lib/ld.so");
  for (auto& ph : b.phdrs())
    if (ph.p_type == PT_LOAD) ph.p_align = 2 << 20;
  AddFile("/bin/prog", b);
  ElfBuilder ld = Interpreter();
  for (auto& ph : ld.phdrs())
    if (ph.p_type == PT_LOAD) ph.p_align = 2 << 20;
  AddFile("/lib/ld.so", ld);
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().load_bias % (2 << 20), 0u);
  EXPECT_EQ(r.value().interp_base % (2 << 20), 0u);
  EXPECT_EQ(Read(r.value().interp_base + 0x1000, 10), Bytes("ld.so-code"));
}

TEST_F(LoaderTest, EntryOutsideTheUserRangeFailsWithEinvalLikeLinux) {
  ElfBuilder b = StaticExec();
  b.Entry(0xffffffff81000000);
  AddFile("/bin/prog", b);
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEINVAL);
  EXPECT_THAT(why_, HasSubstr("entry point"));
}

TEST_F(LoaderTest, SegmentBelowMmapMinAddrFails) {
  ElfBuilder b(ET_EXEC);
  b.Entry(0x1400).Load(0x1000, PF_R | PF_X, Bytes("x"), 0, /*with_headers=*/true);
  AddFile("/bin/prog", b);
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(why_, HasSubstr("0x1000"));
}

// Bad ELFs: each mutation of a valid image fails with ENOEXEC and says why.
struct BadElfCase {
  const char* name;
  std::function<std::vector<uint8_t>()> make;
  const char* why;
};

class BadElfTest : public LoaderTest, public ::testing::WithParamInterface<BadElfCase> {};

TEST_P(BadElfTest, FailsWithEnoexecAndAReason) {
  AddFile("/bin/prog", GetParam().make());
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC) << why_;
  EXPECT_THAT(why_, HasSubstr(GetParam().why));
}

std::vector<uint8_t> Mutated(std::function<void(ElfBuilder&)> f) {
  ElfBuilder b = StaticExec();
  f(b);
  return b.Build();
}

INSTANTIATE_TEST_SUITE_P(
    Loader, BadElfTest,
    ::testing::Values(
        BadElfCase{"Empty", [] { return std::vector<uint8_t>{}; }, "not an ELF"},
        BadElfCase{"Text", [] { return Bytes("hello world\n"); }, "not an ELF"},
        BadElfCase{"TruncatedHeader",
                   [] {
                     auto v = StaticExec().Build();
                     v.resize(40);
                     return v;
                   },
                   "truncated ELF header"},
        BadElfCase{"WrongMachine", [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_machine = EM_386; }); },
                   "machine"},
        BadElfCase{"WrongType", [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_type = ET_REL; }); }, "type"},
        BadElfCase{"WrongPhentsize", [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_phentsize = 32; }); },
                   "e_phentsize"},
        BadElfCase{"HugePhnum", [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_phnum = 0xffff; }); },
                   "e_phnum"},
        BadElfCase{"PhdrsPastEof", [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_phoff = 1 << 20; }); },
                   "truncated"},
        BadElfCase{"PhoffOverflow",
                   [] { return Mutated([](ElfBuilder& b) { b.ehdr().e_phoff = UINT64_MAX - 8; }); }, "overflow"},
        BadElfCase{"FileszAboveMemsz",
                   [] { return Mutated([](ElfBuilder& b) { b.phdrs()[1].p_memsz = b.phdrs()[1].p_filesz - 1; }); },
                   "p_filesz"},
        BadElfCase{"OffsetOverflow",
                   [] { return Mutated([](ElfBuilder& b) { b.phdrs()[1].p_offset = UINT64_MAX - 0xf; }); },
                   "overflow"},
        BadElfCase{"AddressOverflow",
                   [] {
                     return Mutated([](ElfBuilder& b) {
                       b.phdrs()[1].p_vaddr = UINT64_MAX - 0xfff;
                       b.phdrs()[1].p_offset = 0x1000 + (UINT64_MAX - 0xfff) % kPage;
                     });
                   },
                   "outside the user address range"},
        BadElfCase{"KernelAddress",
                   [] {
                     return Mutated([](ElfBuilder& b) {
                       b.phdrs()[1].p_vaddr = 0xffffffff80000010;
                     });
                   },
                   "outside the user address range"},
        BadElfCase{"Incongruent",
                   [] { return Mutated([](ElfBuilder& b) { b.phdrs()[1].p_offset += 8; }); }, "modulo"},
        BadElfCase{"Overlapping",
                   [] { return Mutated([](ElfBuilder& b) { b.phdrs()[1].p_vaddr = 0x400010; }); }, "overlaps"},
        BadElfCase{"Descending",
                   [] {
                     return Mutated([](ElfBuilder& b) { std::swap(b.phdrs()[0], b.phdrs()[1]); });
                   },
                   "precedes"},
        BadElfCase{"NoLoad",
                   [] {
                     return Mutated([](ElfBuilder& b) {
                       for (auto& ph : b.phdrs()) ph.p_type = PT_NOTE;
                     });
                   },
                   "no PT_LOAD"},
        BadElfCase{"UnterminatedInterp",
                   [] {
                     ElfBuilder b = StaticExec();
                     b.Interp("/lib/ld.so", /*terminate=*/false);
                     return b.Build();
                   },
                   "NUL-terminated"},
        BadElfCase{"HugeInterp",
                   [] {
                     ElfBuilder b = StaticExec();
                     b.Interp(std::string(5000, 'a'));
                     return b.Build();
                   },
                   "PT_INTERP size"},
        BadElfCase{"InterpPastEof",
                   [] {
                     ElfBuilder b = StaticExec();
                     b.Interp("/lib/ld.so");
                     b.phdrs()[0].p_offset = 1 << 20;
                     return b.Build();
                   },
                   "past the end"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(LoaderTest, Elf32FailsWithEnoexec) {
  auto v = StaticExec().Build();
  v[EI_CLASS] = ELFCLASS32;
  AddFile("/bin/prog", v);
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC);
  EXPECT_THAT(why_, HasSubstr("ELFCLASS64"));
  v[EI_CLASS] = ELFCLASS64;
  v[EI_DATA] = ELFDATA2MSB;
  AddFile("/bin/prog", v);
  r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(why_, HasSubstr("little-endian"));
}

// #! scripts.

TEST_F(LoaderTest, ScriptWithArgumentRunsInterpreterWithRewrittenArgv) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/bin/script", Bytes("#!/bin/sh -e  \necho hi\n"));
  args_.path = "/bin/script";
  args_.argv = {"script", "a", "b"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().exe_path, "/bin/sh");
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.argv, (std::vector<std::string>{"/bin/sh", "-e", "/bin/script", "a", "b"}));
  EXPECT_EQ(ReadString(s.auxv.at(AT_EXECFN)), "/bin/script");
}

TEST_F(LoaderTest, ScriptWithoutArgumentAndArgumentKeepsInnerSpaces) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/s1", Bytes("#! \t/bin/sh\n"));
  AddFile("/s2", Bytes("#!/bin/sh  -x -y  z \t\n"));
  args_.path = "/s1";
  args_.argv = {"s1"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv, (std::vector<std::string>{"/bin/sh", "/s1"}));

  SetUp();
  AddFile("/bin/sh", StaticExec());
  AddFile("/s2", Bytes("#!/bin/sh  -x -y  z \t\n"));
  args_.path = "/s2";
  args_.argv = {"s2"};
  r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv, (std::vector<std::string>{"/bin/sh", "-x -y  z", "/s2"}));
}

TEST_F(LoaderTest, NestedScriptsUseEachInterpretersNameAsTheScriptPath) {
  AddFile("/bin/sh", StaticExec());
  AddFile("/outer", Bytes("#!/inner arg\n"));
  AddFile("/inner", Bytes("#!/bin/sh\n"));
  args_.path = "/outer";
  args_.argv = {"outer", "x"};
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).argv,
            (std::vector<std::string>{"/bin/sh", "/inner", "arg", "/outer", "x"}));
}

TEST_F(LoaderTest, FiveScriptLevelsLoadAndSixFailWithEloop) {
  AddFile("/bin/sh", StaticExec());
  // /s1 -> /s2 -> ... -> /s5 -> /bin/sh.
  for (int i = 1; i <= 5; i++)
    AddFile(fmt::format("/s{}", i), Bytes(i == 5 ? "#!/bin/sh\n" : fmt::format("#!/s{}\n", i + 1)));
  args_.path = "/s1";
  auto r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().exe_path, "/bin/sh");

  AddFile("/s0", Bytes("#!/s1\n"));
  args_.path = "/s0";
  r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELOOP);
}

TEST_F(LoaderTest, SelfReferentialScriptFailsWithEloop) {
  AddFile("/loop", Bytes("#!/loop\n"));
  args_.path = "/loop";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELOOP);
}

TEST_F(LoaderTest, ScriptWithMissingInterpreterFailsWithEnoent) {
  AddFile("/s", Bytes("#!/nope\n"));
  args_.path = "/s";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
  EXPECT_THAT(why_, HasSubstr("/nope"));
}

base::Result<internal::ScriptLine> Parse(std::string_view s) {
  std::string why;
  return internal::ParseScriptLine({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, &why);
}

TEST(ScriptLine, ParsesLikeLinux) {
  auto l = Parse("#!/bin/sh\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
  EXPECT_FALSE(l.value().arg);
  l = Parse("#!/usr/bin/env python3 -u\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/usr/bin/env");
  EXPECT_EQ(l.value().arg, "python3 -u");
  l = Parse("#!/bin/sh");  // no newline, file ends: the NUL padding ends the name
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
}

TEST(ScriptLine, NoInterpreterIsEnoexec) {
  for (std::string_view s : {"#!\n", "#!   \n", "#! \t\n"}) {
    auto l = Parse(s);
    ASSERT_FALSE(l.ok()) << s;
    EXPECT_EQ(l.error(), Errno::kENOEXEC);
  }
}

// Without a newline the NUL padding is a terminator: Linux goes on with an
// empty interpreter name, which then fails to open.
TEST(ScriptLine, NoNewlineAndNoNameGivesAnEmptyInterpreter) {
  for (std::string_view s : {"#!", "#! \t"}) {
    auto l = Parse(s);
    ASSERT_TRUE(l.ok()) << s;
    EXPECT_EQ(l.value().interp, "");
  }
}

TEST_F(LoaderTest, ScriptWithEmptyInterpreterFailsWithEnoent) {
  AddFile("/s", Bytes("#!  "));
  AddFile("", StaticExec());  // an Opener that accepted "" must not matter
  args_.path = "/s";
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
}

TEST(ScriptLine, InterpreterCutByTheBufferIsEnoexecButALongArgumentIsTruncated) {
  auto l = Parse("#!/" + std::string(300, 'a'));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error(), Errno::kENOEXEC);

  l = Parse("#!/bin/sh " + std::string(300, 'b'));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().interp, "/bin/sh");
  // BINPRM_BUF_SIZE - 1 bytes examined, the last one replaced by the NUL.
  EXPECT_EQ(l.value().arg, std::string(kBinprmBufSize - 1 - 10, 'b'));
}

// Argument limits.

TEST_F(LoaderTest, ArgumentLongerThanMaxArgStrlenFailsWithE2big) {
  AddFile("/bin/prog", StaticExec());
  args_.argv.push_back(std::string(kMaxArgStrlen, 'x'));  // + NUL: one too many
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);

  args_.argv.back().pop_back();
  r = DoLoad();
  EXPECT_TRUE(r.ok()) << why_;
}

TEST_F(LoaderTest, ArgumentsBeyondAQuarterOfTheStackLimitFailWithE2big) {
  AddFile("/bin/prog", StaticExec());
  args_.stack_rlimit = 1 << 20;  // 256 KiB for strings and pointers
  args_.envp.assign(3, std::string(100 << 10, 'e'));
  auto r = DoLoad();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);
  EXPECT_THAT(why_, HasSubstr("allowed"));

  args_.envp.resize(2);
  r = DoLoad();
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(ReadStack(r.value().stack_pointer).envp.size(), 2u);
}

// Real binaries from the host.

class HostFile : public mm::MappableFile {
 public:
  explicit HostFile(base::UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  base::Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    const ssize_t n = pread(fd_.get(), buf.data(), buf.size(), off);
    if (n < 0) return base::FromHost(errno);
    return static_cast<size_t>(n);
  }
  std::string MapsName() const override { return name_; }

 private:
  base::UniqueFd fd_;
  std::string name_;
};

base::Result<ExecFile> OpenHost(std::string_view path) {
  char real[PATH_MAX];
  if (realpath(std::string(path).c_str(), real) == nullptr) return base::FromHost(errno);
  base::UniqueFd fd(open(real, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return base::FromHost(errno);
  return ExecFile{std::make_shared<HostFile>(std::move(fd), real), real};
}

TEST_F(LoaderTest, LoadsHostBusybox) {
  if (access("/bin/busybox", R_OK) != 0) GTEST_SKIP() << "no /bin/busybox";
  args_.path = "/bin/busybox";
  args_.argv = {"busybox", "true"};
  auto r = Load(*mm_, OpenHost, args_, &why_);
  ASSERT_TRUE(r.ok()) << why_;
  EXPECT_EQ(r.value().interp_base, 0u);
  const Stack s = ReadStack(r.value().stack_pointer);
  // Entry is inside an executable mapping and equals AT_ENTRY.
  EXPECT_EQ(s.auxv.at(AT_ENTRY), r.value().entry);
  bool exec = false;
  for (const mm::VmaInfo& v : mm_->Vmas())
    if (v.start <= r.value().entry && r.value().entry < v.end) exec = (v.prot & PROT_EXEC) != 0;
  EXPECT_TRUE(exec);
  // AT_PHDR holds the file's program headers.
  auto phdr = mm_->CopyIn(mm::UserPtr<Elf64_Phdr>(s.auxv.at(AT_PHDR)));
  ASSERT_TRUE(phdr.ok());
  EXPECT_TRUE(phdr.value().p_type == PT_LOAD || phdr.value().p_type == PT_PHDR);
  EXPECT_GT(r.value().brk_start, r.value().entry);
}

TEST_F(LoaderTest, LoadsHostDynamicTrueWithItsInterpreter) {
  if (access("/bin/true", R_OK) != 0 || access("/lib64/ld-linux-x86-64.so.2", R_OK) != 0)
    GTEST_SKIP() << "no dynamic /bin/true";
  args_.path = "/bin/true";
  args_.argv = {"true"};
  auto r = Load(*mm_, OpenHost, args_, &why_);
  ASSERT_TRUE(r.ok()) << why_;
  const uint64_t base = r.value().interp_base;
  ASSERT_NE(base, 0u);
  // ld.so starts at its own entry; the program's entry is in AT_ENTRY.
  auto ld_ehdr = mm_->CopyIn(mm::UserPtr<Elf64_Ehdr>(base));
  ASSERT_TRUE(ld_ehdr.ok());
  EXPECT_EQ(std::memcmp(ld_ehdr.value().e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(r.value().entry, base + ld_ehdr.value().e_entry);
  const Stack s = ReadStack(r.value().stack_pointer);
  EXPECT_EQ(s.auxv.at(AT_BASE), base);
  auto ehdr = mm_->CopyIn(mm::UserPtr<Elf64_Ehdr>(r.value().load_bias));
  ASSERT_TRUE(ehdr.ok());
  EXPECT_EQ(s.auxv.at(AT_ENTRY), r.value().load_bias + ehdr.value().e_entry);
  EXPECT_EQ(s.auxv.at(AT_PHNUM), ehdr.value().e_phnum);
  auto phdr = mm_->CopyIn(mm::UserPtr<Elf64_Phdr>(s.auxv.at(AT_PHDR)));
  ASSERT_TRUE(phdr.ok());
  EXPECT_EQ(phdr.value().p_type, uint32_t{PT_PHDR});
  EXPECT_EQ(r.value().load_bias, kElfEtDynBase);
}

}  // namespace
}  // namespace sentry::loader
