#include "sentry/loader/loader.h"

#include <elf.h>
#include <sys/mman.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sentry/loader_test_util.h"

namespace sentry::loader {
namespace {

using base::Errno;
using ::testing::HasSubstr;
using namespace loader_test;  // NOLINT: test helpers

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

}  // namespace
}  // namespace sentry::loader
