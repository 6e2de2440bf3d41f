#include "sentry/mm/memory_manager.h"

#include <sys/mman.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/sentry/mm_fakes.h"

namespace sentry::mm {
namespace {

using base::Errno;
using testing::FakeAddressSpace;
using testing::FakeFile;

using testing::kPg;
using testing::kR;
using testing::kRW;
using testing::kRX;

class MemoryManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(MemoryFile::Create(1ull << 30)).value();
    mm_ = std::make_unique<MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(&as_));
  }
  uint64_t Anon(uint64_t len, int prot = kRW, uint64_t addr = 0, bool fixed = false) {
    MmapOpts o;
    o.addr = addr;
    o.length = len;
    o.prot = prot;
    o.fixed = fixed;
    auto r = mm_->Mmap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  }
  Result<uint64_t> MapFile(std::shared_ptr<FakeFile> f, uint64_t len, uint64_t off = 0, int prot = kR,
                           uint64_t fixed_addr = 0) {
    MmapOpts o;
    o.addr = fixed_addr;
    o.fixed = fixed_addr != 0;
    o.length = len;
    o.prot = prot;
    o.file = std::move(f);
    o.offset = off;
    return mm_->Mmap(o);
  }
  void Fill(uint64_t addr, uint64_t len, char c) {
    std::string s(len, c);
    ASSERT_TRUE(mm_->CopyOutBytes(addr, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
  }
  std::string Read(uint64_t addr, uint64_t len) {
    std::string s(len, '?');
    auto r = mm_->CopyInBytes(addr, {reinterpret_cast<uint8_t*>(s.data()), s.size()});
    return r.ok() ? s : "EFAULT";
  }
  bool AsMapped(uint64_t addr, int prot) {
    auto it = as_.pages.find(addr);
    return it != as_.pages.end() && it->second.prot == prot;
  }
  bool AsUnmapped(uint64_t addr) { return as_.pages.find(addr) == as_.pages.end(); }

  FakeAddressSpace::State as_;
  std::unique_ptr<MemoryFile> mf_;
  std::unique_ptr<MemoryManager> mm_;
};

// ---- MemoryFile ----

TEST(MemoryFile, FreedRangeCoalescesAndReadsZeroWhenReused) {
  auto mf = std::move(MemoryFile::Create(16 * kPg)).value();
  uint64_t a = mf->Allocate(4 * kPg).value(), b = mf->Allocate(4 * kPg).value(),
           c = mf->Allocate(8 * kPg).value();
  EXPECT_EQ(mf->Allocate(kPg).error(), Errno::kENOMEM);
  memset(mf->Data(a), 0xab, 4 * kPg);
  mf->Free(a, 4 * kPg);
  mf->Free(b, 4 * kPg);
  // Coalesced: an 8-page range fits where a and b were, and reads zeros.
  uint64_t d = mf->Allocate(8 * kPg).value();
  EXPECT_EQ(d, a);
  for (uint64_t i = 0; i < 8 * kPg; ++i) ASSERT_EQ(mf->Data(d)[i], 0);
  mf->Free(c, 8 * kPg);
  EXPECT_EQ(mf->allocated(), 8 * kPg);
}

// ---- mmap placement and errors ----

TEST_F(MemoryManagerTest, AnonymousMmapIsPlacedTopDownBelowMmapBaseAndMappedWhole) {
  uint64_t a = Anon(2 * kPg);
  uint64_t b = Anon(kPg);
  EXPECT_EQ(a + 2 * kPg, mm_->mmap_base());
  EXPECT_EQ(b + kPg, a);
  EXPECT_TRUE(AsMapped(a, kRW));
  EXPECT_TRUE(AsMapped(a + kPg, kRW));
  EXPECT_LT(mm_->mmap_base(), mm_->max_address() - (128ull << 20));
}

TEST_F(MemoryManagerTest, FreeHintIsUsedAndOccupiedHintIsNot) {
  uint64_t a = Anon(kPg, kRW, 0x40000000);
  EXPECT_EQ(a, 0x40000000u);
  uint64_t b = Anon(kPg, kRW, 0x40000000);
  EXPECT_NE(b, 0x40000000u);
  // Unaligned hints are rounded; tiny hints go to mmap_min_addr.
  EXPECT_EQ(Anon(kPg, kRW, 0x50000123), 0x50000000u);
  EXPECT_EQ(Anon(kPg, kRW, 0x1000), kMmapMinAddr);
}

TEST_F(MemoryManagerTest, MmapRejectsBadArguments) {
  MmapOpts o;
  o.prot = kRW;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kEINVAL);  // length 0
  o.length = kPg;
  o.fixed = true;
  o.addr = 0x40000010;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kEINVAL);  // unaligned fixed
  o.addr = 0x1000;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kEPERM);   // below mmap_min_addr
  o.addr = mm_->max_address();
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kENOMEM);  // above the top
  o.fixed = false;
  o.addr = 0;
  o.length = ~0ull - 10;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kENOMEM);  // rounding wraps
  o.length = 1ull << 46;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kENOMEM);  // no room
  auto f = std::make_shared<FakeFile>("x");
  EXPECT_EQ(MapFile(f, kPg, 100).error(), Errno::kEINVAL);  // unaligned offset
  MmapOpts s;
  s.length = kPg;
  s.prot = kR;
  s.file = f;
  s.shared = true;
  EXPECT_EQ(mm_->Mmap(s).error(), Errno::kENODEV);  // TODO(#4)
  EXPECT_TRUE(mm_->Vmas().empty());
  EXPECT_EQ(mf_->allocated(), 0u);
}

TEST_F(MemoryManagerTest, FixedNoReplaceFailsWithEexistOnOverlap) {
  uint64_t a = Anon(2 * kPg, kRW, 0x40000000, true);
  MmapOpts o;
  o.addr = a + kPg;
  o.length = 2 * kPg;
  o.prot = kR;
  o.fixed_noreplace = true;
  EXPECT_EQ(mm_->Mmap(o).error(), Errno::kEEXIST);
  o.addr = a + 2 * kPg;
  EXPECT_EQ(mm_->Mmap(o).value(), a + 2 * kPg);
}

TEST_F(MemoryManagerTest, FixedMmapReplacesMiddleAndSplitsKeepingSides) {
  uint64_t a = Anon(3 * kPg, kRW, 0x40000000, true);
  Fill(a, 3 * kPg, 'x');
  EXPECT_EQ(Anon(kPg, kR, a + kPg, true), a + kPg);
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].end, a + kPg);
  EXPECT_EQ(v[1].prot, kR);
  EXPECT_EQ(Read(a, 1), "x");
  EXPECT_EQ(Read(a + 2 * kPg, 1), "x");
  EXPECT_EQ(Read(a + kPg, 2), std::string(2, '\0'));
  EXPECT_TRUE(AsMapped(a + kPg, kR));
  EXPECT_EQ(mf_->allocated(), 3 * kPg);  // the replaced page was freed
}

// ---- munmap ----

TEST_F(MemoryManagerTest, MunmapMiddleSplitsAndUnmapsInPlatform) {
  uint64_t a = Anon(3 * kPg, kRW, 0x40000000, true);
  ASSERT_TRUE(mm_->Munmap(a + kPg, kPg).ok());
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].end, a + kPg);
  EXPECT_EQ(v[1].start, a + 2 * kPg);
  EXPECT_TRUE(AsUnmapped(a + kPg));
  EXPECT_TRUE(AsMapped(a + 2 * kPg, kRW));
  EXPECT_EQ(Read(a + kPg, 1), "EFAULT");
  EXPECT_EQ(mf_->allocated(), 2 * kPg);
  // Holes are fine; bad arguments are EINVAL.
  EXPECT_TRUE(mm_->Munmap(0x60000000, kPg).ok());
  EXPECT_EQ(mm_->Munmap(a + 1, kPg).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Munmap(a, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Munmap(a, ~0ull - kPg).error(), Errno::kEINVAL);
}

// ---- mprotect ----

TEST_F(MemoryManagerTest, MprotectSplitsAndUpdatesPlatform) {
  uint64_t a = Anon(4 * kPg, kRW, 0x40000000, true);
  Fill(a, 4 * kPg, 'z');
  ASSERT_TRUE(mm_->Mprotect(a + kPg, 2 * kPg, kR).ok());
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1].start, a + kPg);
  EXPECT_EQ(v[1].end, a + 3 * kPg);
  EXPECT_TRUE(AsMapped(a + kPg, kR));
  EXPECT_TRUE(AsMapped(a, kRW));
  EXPECT_EQ(Read(a + kPg, 1), "z");
  // Back to RW: merged into one VMA again, contents intact.
  ASSERT_TRUE(mm_->Mprotect(a + kPg, 2 * kPg, kRW).ok());
  EXPECT_EQ(mm_->Vmas().size(), 1u);
  EXPECT_EQ(Read(a + 3 * kPg, 1), "z");
  // PROT_NONE: unreachable from the app and the copy interface.
  ASSERT_TRUE(mm_->Mprotect(a, kPg, PROT_NONE).ok());
  EXPECT_TRUE(AsUnmapped(a));
  EXPECT_EQ(Read(a, 1), "EFAULT");
}

TEST_F(MemoryManagerTest, MprotectOverHoleIsEnomemButChangesPartBeforeIt) {
  uint64_t a = Anon(kPg, kRW, 0x40000000, true);
  Anon(kPg, kRW, a + 2 * kPg, true);
  EXPECT_EQ(mm_->Mprotect(a, 3 * kPg, kR).error(), Errno::kENOMEM);
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].prot, kR);
  EXPECT_EQ(v[1].prot, kRW);
  EXPECT_EQ(mm_->Mprotect(0x60000000, kPg, kR).error(), Errno::kENOMEM);
  EXPECT_EQ(mm_->Mprotect(a + 1, kPg, kR).error(), Errno::kEINVAL);
  EXPECT_TRUE(mm_->Mprotect(0x60000000, 0, kR).ok());
  EXPECT_EQ(mm_->Mprotect(a, ~0ull - 100, kR).error(), Errno::kENOMEM);
}

TEST_F(MemoryManagerTest, ProtNoneReservationHasNoBackingUntilMadeAccessible) {
  uint64_t a = Anon(1ull << 29, PROT_NONE);  // 512 MiB reservation
  EXPECT_EQ(mf_->allocated(), 0u);
  EXPECT_TRUE(AsUnmapped(a));
  ASSERT_TRUE(mm_->Mprotect(a, 2 * kPg, kRW).ok());
  EXPECT_EQ(mf_->allocated(), 2 * kPg);
  Fill(a, 2 * kPg, 'q');
  EXPECT_EQ(Read(a + kPg, 1), "q");
  EXPECT_TRUE(AsMapped(a, kRW));
}

// ---- mremap ----

TEST_F(MemoryManagerTest, MremapShrinksAndGrowsInPlace) {
  uint64_t a = Anon(4 * kPg, kRW, 0x40000000, true);
  Fill(a, 4 * kPg, 'm');
  EXPECT_EQ(mm_->Mremap(a, 4 * kPg, 2 * kPg, 0, 0).value(), a);
  EXPECT_TRUE(AsUnmapped(a + 2 * kPg));
  EXPECT_EQ(mm_->Mremap(a, 2 * kPg, 6 * kPg, 0, 0).value(), a);
  EXPECT_EQ(Read(a + kPg, 1), "m");
  EXPECT_EQ(Read(a + 5 * kPg, 1), std::string(1, '\0'));
  EXPECT_TRUE(AsMapped(a + 5 * kPg, kRW));
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].end, a + 6 * kPg);
}

TEST_F(MemoryManagerTest, MremapMovesWhenBlockedKeepingContents) {
  uint64_t a = Anon(2 * kPg, kRW, 0x40000000, true);
  Anon(kPg, kR, a + 2 * kPg, true);  // blocks growth
  Fill(a, 2 * kPg, 'v');
  EXPECT_EQ(mm_->Mremap(a, 2 * kPg, 4 * kPg, 0, 0).error(), Errno::kENOMEM);
  uint64_t b = mm_->Mremap(a, 2 * kPg, 4 * kPg, MREMAP_MAYMOVE, 0).value();
  EXPECT_NE(b, a);
  EXPECT_EQ(Read(b, 2 * kPg), std::string(2 * kPg, 'v'));
  EXPECT_EQ(Read(b + 3 * kPg, 1), std::string(1, '\0'));
  EXPECT_EQ(Read(a, 1), "EFAULT");
  EXPECT_TRUE(AsUnmapped(a));
  EXPECT_TRUE(AsMapped(b + kPg, kRW));
  EXPECT_EQ(mf_->allocated(), 5 * kPg);  // moved pages reuse their backing
}

TEST_F(MemoryManagerTest, MremapFixedReplacesDestination) {
  uint64_t a = Anon(2 * kPg, kRW, 0x40000000, true);
  uint64_t d = Anon(3 * kPg, kR, 0x50000000, true);
  Fill(a, 2 * kPg, 'f');
  EXPECT_EQ(mm_->Mremap(a, 2 * kPg, kPg, MREMAP_MAYMOVE | MREMAP_FIXED, d).value(), d);
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].start, d);
  EXPECT_EQ(v[0].prot, kRW);
  EXPECT_EQ(Read(d, 1), "f");
  EXPECT_EQ(v[1].start, d + kPg);
  EXPECT_EQ(Read(a, 1), "EFAULT");
}

TEST_F(MemoryManagerTest, MremapRejectsBadArguments) {
  uint64_t a = Anon(2 * kPg, kRW, 0x40000000, true);
  EXPECT_EQ(mm_->Mremap(a, kPg, 2 * kPg, MREMAP_FIXED, 0x50000000).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Mremap(a, kPg, 2 * kPg, 0x80, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Mremap(a + 1, kPg, 2 * kPg, 0, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Mremap(a, kPg, 0, 0, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Mremap(0x60000000, kPg, 2 * kPg, MREMAP_MAYMOVE, 0).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->Mremap(0x60000000, kPg, kPg, 0, 0).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->Mremap(a, 4 * kPg, 4 * kPg, 0, 0).value(), a);  // as Linux 6.18
  EXPECT_EQ(mm_->Mremap(a, 4 * kPg, 8 * kPg, MREMAP_MAYMOVE, 0).error(), Errno::kEFAULT);  // spans past VMA
  EXPECT_EQ(mm_->Mremap(a, 2 * kPg, 2 * kPg, MREMAP_MAYMOVE | MREMAP_FIXED, a + kPg).error(), Errno::kEINVAL);
}

// ---- brk ----

TEST_F(MemoryManagerTest, BrkGrowsShrinksAndReturnsOldBreakOnFailure) {
  mm_->SetBrkStart(0x10000123);
  const uint64_t start = 0x10001000;
  EXPECT_EQ(mm_->Brk(0), start);
  EXPECT_EQ(mm_->Brk(start + 3 * kPg + 5), start + 3 * kPg + 5);
  Fill(start, 3 * kPg + 5, 'h');
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "[heap]");
  EXPECT_EQ(v[0].end, start + 4 * kPg);
  EXPECT_EQ(mm_->Brk(start + kPg), start + kPg);
  EXPECT_EQ(Read(start + 2 * kPg, 1), "EFAULT");
  EXPECT_TRUE(AsUnmapped(start + 2 * kPg));
  EXPECT_EQ(mm_->Brk(start - kPg), start + kPg);  // below start: unchanged
  Anon(kPg, kRW, start + 8 * kPg, true);
  EXPECT_EQ(mm_->Brk(start + 8 * kPg), start + kPg);  // would collide
  EXPECT_EQ(mm_->Brk(start + 6 * kPg), start + 6 * kPg);  // leaves a guard page
  EXPECT_EQ(Read(start, 1), "h");
}

// ---- copies ----

TEST_F(MemoryManagerTest, CopiesFailWithEfaultOnUnmappedAndWrongProt) {
  uint64_t a = Anon(kPg, kR, 0x40000000, true);
  uint8_t b[8] = {};
  EXPECT_EQ(mm_->CopyOutBytes(a, b).error(), Errno::kEFAULT);  // read-only
  EXPECT_TRUE(mm_->CopyInBytes(a, b).ok());
  EXPECT_EQ(mm_->CopyInBytes(0x50000000, b).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyInBytes(0, b).error(), Errno::kEFAULT);
  uint64_t n = Anon(kPg, PROT_NONE, 0x40010000, true);
  EXPECT_EQ(mm_->CopyInBytes(n, b).error(), Errno::kEFAULT);
  uint64_t w = Anon(kPg, PROT_WRITE, 0x40020000, true);  // x86: write implies read
  EXPECT_TRUE(mm_->CopyInBytes(w, b).ok());
  EXPECT_TRUE(mm_->ZeroOut(w, kPg).ok());
  EXPECT_EQ(mm_->ZeroOut(a, 1).error(), Errno::kEFAULT);
}

TEST_F(MemoryManagerTest, CopyAcrossVmasAndPartialStopsAtFirstBadByte) {
  uint64_t a = Anon(kPg, kRW, 0x40000000, true);
  Anon(kPg, kRX, a + kPg, true);
  std::vector<uint8_t> buf(2 * kPg + 100);
  EXPECT_TRUE(mm_->CopyInBytes(a, {buf.data(), 2 * kPg}).ok());
  EXPECT_EQ(mm_->CopyInBytes(a, buf).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyInBytesPartial(a + 10, buf).value(), 2 * kPg - 10);
  EXPECT_EQ(mm_->CopyOutBytesPartial(a + 10, buf).value(), kPg - 10);  // stops at r-x
  EXPECT_EQ(mm_->CopyOutBytesPartial(a + kPg, buf).error(), Errno::kEFAULT);
  // The typed interface.
  ASSERT_TRUE(mm_->CopyOut(UserPtr<uint64_t>(a + 8), uint64_t{0x1122334455667788}).ok());
  EXPECT_EQ(mm_->CopyIn(UserPtr<uint64_t>(a + 8)).value(), 0x1122334455667788u);
}

TEST_F(MemoryManagerTest, AddressOverflowIsEfaultNotACrash) {
  Anon(kPg, kRW, mm_->max_address() - kPg, true);
  uint8_t b[16];
  EXPECT_EQ(mm_->CopyInBytes(~0ull - 4, b).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyInBytes(mm_->max_address() - 8, b).error(), Errno::kEFAULT);  // runs past the top
  EXPECT_EQ(mm_->CopyInBytesPartial(mm_->max_address() - 8, b).error(), Errno::kEFAULT);
  EXPECT_TRUE(mm_->CopyInBytes(mm_->max_address() - 16, b).ok());
  EXPECT_EQ(mm_->ZeroOut(0x40000000, ~0ull).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyInString(~0ull - 2, 100).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->HandleFault(~0ull, PROT_READ).error(), Errno::kEFAULT);
}

TEST_F(MemoryManagerTest, CopyInStringStopsAtNulAndReportsTooLong) {
  uint64_t a = Anon(2 * kPg, kRW, 0x40000000, true);
  const char s[] = "hello";
  ASSERT_TRUE(mm_->CopyOutBytes(a + kPg - 3, {reinterpret_cast<const uint8_t*>(s), sizeof(s)}).ok());
  EXPECT_EQ(mm_->CopyInString(a + kPg - 3, 100).value(), "hello");
  EXPECT_EQ(mm_->CopyInString(a + kPg - 3, 5).value(), "hello");
  EXPECT_EQ(mm_->CopyInString(a + kPg - 3, 4).error(), Errno::kENAMETOOLONG);
  // No NUL before unmapped memory: EFAULT.
  Fill(a, 2 * kPg, 'a');
  EXPECT_EQ(mm_->CopyInString(a, 3 * kPg).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyInString(a, 10).error(), Errno::kENAMETOOLONG);
}

// ---- file mappings ----

TEST_F(MemoryManagerTest, FileMappingIsDemandPagedWithZeroTailPastEof) {
  std::string content(70000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  auto f = std::make_shared<FakeFile>(content);
  uint64_t a = MapFile(f, 0x30000, 0, kRX, 0x40000000).value();  // chunk aligned
  EXPECT_TRUE(AsUnmapped(a));
  EXPECT_EQ(f->reads, 0);
  EXPECT_EQ(mm_->HandleFault(a + 5, PROT_WRITE).error(), Errno::kEFAULT);
  ASSERT_TRUE(mm_->HandleFault(a + 5, PROT_READ | PROT_EXEC).ok());
  EXPECT_TRUE(AsMapped(a, kRX));
  EXPECT_TRUE(AsMapped(a + kFaultChunk - kPg, kRX));
  EXPECT_TRUE(AsUnmapped(a + kFaultChunk));
  EXPECT_EQ(Read(a, 26), content.substr(0, 26));
  // The copy path populates too; past EOF reads zeros.
  EXPECT_EQ(Read(a + 69990, 10), content.substr(69990, 10));
  EXPECT_EQ(Read(a + 70000, 100), std::string(100, '\0'));
  EXPECT_TRUE(AsMapped(a + kFaultChunk, kRX));
  const int reads = f->reads;
  EXPECT_EQ(Read(a + 100, 10), content.substr(100, 10));
  EXPECT_EQ(f->reads, reads);  // populated once
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "/bin/fake");
}

TEST_F(MemoryManagerTest, FileMappingAtOffsetAndReadErrorIsReported) {
  std::string content(3 * kPg, 'A');
  content.replace(2 * kPg, kPg, std::string(kPg, 'C'));
  auto f = std::make_shared<FakeFile>(content);
  uint64_t a = MapFile(f, kPg, 2 * kPg, kRW).value();
  EXPECT_EQ(Read(a, 3), "CCC");
  Fill(a, 1, 'w');  // private: the file is untouched
  EXPECT_EQ(Read(a, 2), "wC");
  auto g = std::make_shared<FakeFile>(content);
  g->fail = true;
  uint64_t b = MapFile(g, kPg).value();
  EXPECT_EQ(mm_->HandleFault(b, PROT_READ).error(), Errno::kEIO);
  EXPECT_EQ(Read(b, 1), "EFAULT");
}

TEST_F(MemoryManagerTest, MadviseDontneedZeroesAnonAndRereadsPrivateFile) {
  uint64_t a = Anon(3 * kPg, kRW, 0x40000000, true);
  Fill(a, 3 * kPg, 'd');
  ASSERT_TRUE(mm_->Madvise(a + kPg, kPg, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(a + kPg, 2), std::string(2, '\0'));
  EXPECT_EQ(Read(a, 1), "d");
  EXPECT_EQ(Read(a + 2 * kPg, 1), "d");
  auto f = std::make_shared<FakeFile>(std::string(kPg, 'F'));
  uint64_t b = MapFile(f, kPg, 0, kRW).value();
  Fill(b, 4, 'x');
  ASSERT_TRUE(mm_->Madvise(b, kPg, MADV_DONTNEED).ok());
  EXPECT_TRUE(AsUnmapped(b));
  EXPECT_EQ(Read(b, 5), "FFFFF");
  EXPECT_EQ(mm_->Madvise(a, 5 * kPg, MADV_DONTNEED).error(), Errno::kENOMEM);  // hole
  EXPECT_EQ(mm_->Madvise(a, kPg, 9999).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->Madvise(a + 1, kPg, MADV_NORMAL).error(), Errno::kEINVAL);
  EXPECT_TRUE(mm_->Madvise(a, 0, MADV_NORMAL).ok());
}

// ---- faults ----

TEST_F(MemoryManagerTest, FaultOutsideVmaOrAgainstProtIsEfault) {
  uint64_t a = Anon(kPg, kR, 0x40000000, true);
  EXPECT_EQ(mm_->HandleFault(0x50000000, PROT_READ).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->HandleFault(a, PROT_WRITE).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->HandleFault(a, PROT_EXEC).error(), Errno::kEFAULT);
  EXPECT_TRUE(mm_->HandleFault(a, PROT_READ).ok());
}

TEST_F(MemoryManagerTest, FaultBelowStackGrowsIt) {
  MmapOpts o;
  o.addr = 0x7ff000000000;
  o.length = 4 * kPg;
  o.prot = kRW;
  o.fixed = true;
  o.grows_down = true;
  o.name = "[stack]";
  uint64_t s = mm_->Mmap(o).value();
  ASSERT_TRUE(mm_->HandleFault(s - 10 * kPg + 8, PROT_WRITE).ok());
  auto v = mm_->Vmas();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].start, s - 10 * kPg);
  EXPECT_EQ(v[0].name, "[stack]");
  EXPECT_TRUE(AsMapped(s - 10 * kPg, kRW));
  EXPECT_EQ(mm_->HandleFault(s - kMaxStackSize - kPg, PROT_WRITE).error(), Errno::kEFAULT);
  // Hint-less mmaps keep the guard gap below the stack.
  EXPECT_TRUE(mm_->Vmas().size() == 1u);
}

TEST_F(MemoryManagerTest, HintlessMmapKeepsGuardGapBelowStack) {
  MmapOpts o;
  o.addr = mm_->mmap_base() - 4 * kPg;
  o.length = 4 * kPg;
  o.prot = kRW;
  o.fixed = true;
  o.grows_down = true;
  uint64_t s = mm_->Mmap(o).value();
  EXPECT_EQ(Anon(kPg), s - kStackGuardGap - kPg);
}

TEST_F(MemoryManagerTest, HeapGrowthReusesContiguousBacking) {
  mm_->SetBrkStart(0x10000000);
  for (int i = 1; i <= 64; ++i) ASSERT_EQ(mm_->Brk(0x10000000 + i * kPg), 0x10000000 + i * kPg);
  EXPECT_EQ(mf_->allocated(), 64 * kPg);
  EXPECT_EQ(mm_->Vmas().size(), 1u);
  Fill(0x10000000, 64 * kPg, 'b');
  EXPECT_EQ(Read(0x10000000 + 63 * kPg, 1), "b");
}

TEST_F(MemoryManagerTest, MapsTextListsVmasInOrder) {
  Anon(kPg, kR, 0x40000000, true);
  Anon(kPg, kRW, 0x40001000, true);
  EXPECT_EQ(mm_->MapsText(),
            "40000000-40001000 r--p 00000000 00:00 0 \n"
            "40001000-40002000 rw-p 00000000 00:00 0 \n");
}

TEST_F(MemoryManagerTest, ConcurrentCopiesOfFileMappingSeeFileContents) {
  std::string content(16 * kFaultChunk, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  uint64_t a = MapFile(std::make_shared<FakeFile>(content), content.size()).value();
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = t * 100; off + 512 < content.size(); off += 4093) {
        std::string got(512, '?');
        if (!mm_->CopyInBytes(a + off, {reinterpret_cast<uint8_t*>(got.data()), got.size()}).ok() ||
            got != content.substr(off, 512))
          ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

// ---- /proc/self/maps ----

TEST(FormatMapsLine, MatchesLinuxLayout) {
  VmaInfo file{0x55ad67045000, 0x55ad67047000, PROT_READ | PROT_EXEC, false, 0x2000, "/usr/bin/head", 0xfe, 0,
               247498};
  EXPECT_EQ(FormatMapsLine(file),
            "55ad67045000-55ad67047000 r-xp 00002000 fe:00 247498                     /usr/bin/head\n");
  VmaInfo anon{0x7fdaaa0b7000, 0x7fdaaa0ba000, PROT_READ | PROT_WRITE, false, 0, ""};
  EXPECT_EQ(FormatMapsLine(anon), "7fdaaa0b7000-7fdaaa0ba000 rw-p 00000000 00:00 0 \n");
  VmaInfo low{0x10000, 0x11000, 0, true, 0, "[heap]"};
  EXPECT_EQ(FormatMapsLine(low),
            "00010000-00011000 ---s 00000000 00:00 0                                  [heap]\n");
}

}  // namespace
}  // namespace sentry::mm
