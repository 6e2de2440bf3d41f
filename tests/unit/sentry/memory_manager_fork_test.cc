// MemoryManager::Fork: copy-on-write sharing of memory-file pages, write
// protection on both sides, copies on write, shared memory staying shared,
// MADV_DONTFORK/WIPEONFORK, and no leaked pages.
#include <signal.h>
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <string>

#include "sentry/mm/file_cache.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "tests/unit/sentry/mm_fakes.h"

namespace sentry::mm {
namespace {

using testing::FakeAddressSpace;
using testing::FakeFile;

using testing::kPg;
using testing::kRW;

class ForkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(MemoryFile::Create(1ull << 30)).value();
    parent_ = std::make_unique<MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(&pas_));
  }
  uint64_t Map(MemoryManager& mm, uint64_t len, bool shared = false) {
    MmapOpts o;
    o.length = len;
    o.prot = kRW;
    o.shared = shared;
    auto r = mm.Mmap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  }
  static void Put(MemoryManager& mm, uint64_t addr, const std::string& s) {
    ASSERT_TRUE(mm.CopyOutBytes(addr, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
  }
  static std::string Get(MemoryManager& mm, uint64_t addr, size_t n) {
    std::string s(n, '?');
    if (!mm.CopyInBytes(addr, {reinterpret_cast<uint8_t*>(s.data()), n}).ok()) return "EFAULT";
    return s;
  }
  std::unique_ptr<MemoryManager> Fork() {
    auto c = parent_->Fork();
    EXPECT_TRUE(c.ok());
    auto child = std::move(c).value();
    EXPECT_TRUE(child->AttachAddressSpace(std::make_unique<FakeAddressSpace>(&cas_)).ok());
    return child;
  }

  std::unique_ptr<MemoryFile> mf_;
  FakeAddressSpace::State pas_, cas_;
  std::unique_ptr<MemoryManager> parent_;
};

TEST_F(ForkTest, ChildSeesParentMemoryWithoutCopying) {
  const uint64_t a = Map(*parent_, 4 * kPg);
  Put(*parent_, a, "hello");
  const uint64_t before = mf_->allocated();
  auto child = Fork();
  EXPECT_EQ(mf_->allocated(), before);
  EXPECT_EQ(Get(*child, a, 5), "hello");
}

TEST_F(ForkTest, BothSidesAreWriteProtectedUntilWritten) {
  const uint64_t a = Map(*parent_, 2 * kPg);
  auto child = Fork();
  EXPECT_EQ(pas_.pages.at(a).prot, PROT_READ);
  EXPECT_EQ(cas_.pages.at(a).prot, PROT_READ);
  EXPECT_EQ(pas_.pages.at(a).offset, cas_.pages.at(a).offset);
  ASSERT_TRUE(parent_->HandleFault(a, platform::kProtWrite).ok());
  EXPECT_EQ(pas_.pages.at(a).prot, kRW);
  EXPECT_NE(pas_.pages.at(a).offset, cas_.pages.at(a).offset);
}

TEST_F(ForkTest, WritesAfterForkStayOnTheirSide) {
  const uint64_t a = Map(*parent_, 4 * kPg);
  Put(*parent_, a + kPg, "orig");
  auto child = Fork();
  Put(*child, a + kPg, "kid!");
  Put(*parent_, a + 2 * kPg, "dad!");
  EXPECT_EQ(Get(*parent_, a + kPg, 4), "orig");
  EXPECT_EQ(Get(*child, a + kPg, 4), "kid!");
  EXPECT_EQ(Get(*child, a + 2 * kPg, 4), std::string(4, '\0'));
}

TEST_F(ForkTest, SharedAnonymousMemoryStaysShared) {
  const uint64_t a = Map(*parent_, kPg, /*shared=*/true);
  auto child = Fork();
  Put(*child, a, "both");
  EXPECT_EQ(Get(*parent_, a, 4), "both");
  EXPECT_EQ(cas_.pages.at(a).prot, kRW);
}

TEST_F(ForkTest, PrivateFilePagesAreCopyOnWrite) {
  auto f = std::make_shared<FakeFile>(std::string(2 * kPg, 'f'));
  MmapOpts o;
  o.length = 2 * kPg;
  o.prot = kRW;
  o.file = f;
  const uint64_t a = parent_->Mmap(o).value();
  EXPECT_EQ(Get(*parent_, a, 1), "f");  // populated before the fork
  auto child = Fork();
  Put(*child, a, "c");
  EXPECT_EQ(Get(*parent_, a, 2), "ff");
  EXPECT_EQ(Get(*child, a, 2), "cf");
  // A page first touched after the fork reads the file on each side.
  EXPECT_EQ(Get(*child, a + kPg, 1), "f");
}

TEST_F(ForkTest, DontforkIsLeftOutAndWipeonforkIsZero) {
  const uint64_t a = Map(*parent_, kPg);
  const uint64_t b = Map(*parent_, kPg);
  Put(*parent_, a, "gone");
  Put(*parent_, b, "wipe");
  ASSERT_TRUE(parent_->Madvise(a, kPg, MADV_DONTFORK).ok());
  ASSERT_TRUE(parent_->Madvise(b, kPg, MADV_WIPEONFORK).ok());
  auto child = Fork();
  EXPECT_EQ(Get(*child, a, 4), "EFAULT");
  EXPECT_EQ(Get(*child, b, 4), std::string(4, '\0'));
  EXPECT_EQ(Get(*parent_, b, 4), "wipe");
}

TEST_F(ForkTest, DontneedInTheChildLeavesTheParentsPages) {
  const uint64_t a = Map(*parent_, kPg);
  Put(*parent_, a, "keep");
  auto child = Fork();
  ASSERT_TRUE(child->Madvise(a, kPg, MADV_DONTNEED).ok());
  EXPECT_EQ(Get(*child, a, 4), std::string(4, '\0'));
  EXPECT_EQ(Get(*parent_, a, 4), "keep");
}

TEST_F(ForkTest, NoPagesLeakWhenBothSidesGo) {
  const uint64_t a = Map(*parent_, 8 * kPg);
  Put(*parent_, a, "x");
  {
    auto child = Fork();
    Put(*child, a, "y");
    Put(*parent_, a + kPg, "z");
  }
  parent_.reset();
  EXPECT_EQ(mf_->allocated(), 0u);
}

TEST(MemoryFileRefs, FreeDropsOneReferencePerPage) {
  auto mf = std::move(MemoryFile::Create(1ull << 20)).value();
  const uint64_t off = mf->Allocate(4 * kPg).value();
  mf->IncRef(off + kPg, 2 * kPg);
  EXPECT_TRUE(mf->IsShared(off, 4 * kPg));
  EXPECT_FALSE(mf->IsShared(off, kPg));
  mf->Free(off, 4 * kPg);  // pages 0 and 3 go; 1 and 2 keep one reference
  EXPECT_EQ(mf->allocated(), 2 * kPg);
  EXPECT_FALSE(mf->IsShared(off + kPg, 2 * kPg));
  mf->Free(off + kPg, 2 * kPg);
  EXPECT_EQ(mf->allocated(), 0u);
}

}  // namespace
}  // namespace sentry::mm

namespace sentry::mm {
namespace {

// A file the page cache may keep (CacheKey), as gofer files are.
class CachedFile final : public testing::FakeFile {
 public:
  using FakeFile::FakeFile;
  std::optional<ContentKey> CacheKey() override { return ContentKey{1, 77, size, 5, mtime}; }
  uint64_t size = 0;
  int64_t mtime = 1;
};

TEST_F(ForkTest, CachedFileIsReadOnceSharedCopyOnWriteAndMappedWhole) {
  std::string content(20 * kPg, 'f');
  content[2 * kPg] = 'X';
  auto f = std::make_shared<CachedFile>(content);
  f->size = content.size();
  auto map_file = [&](MemoryManager& mm, uint64_t off, uint64_t len, int prot) {
    MmapOpts o;
    o.length = len;
    o.prot = prot;
    o.file = f;
    o.offset = off;
    auto r = mm.Mmap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  };
  const uint64_t a = map_file(*parent_, 0, 20 * kPg, PROT_READ | PROT_EXEC);
  // The same pages again, writable (more than a fault chunk: a smaller one
  // is copied at once, below).
  const uint64_t b = map_file(*parent_, 2 * kPg, 17 * kPg, kRW);
  const int reads = f->reads;
  EXPECT_GT(reads, 0);
  EXPECT_EQ(mf_->file_cache().cached_bytes(), 20 * kPg);
  // Mapped whole at mmap time, the writable one without write until copied.
  EXPECT_EQ(pas_.pages.count(a + 4 * kPg), 1u);
  EXPECT_EQ(pas_.pages.at(b).prot, PROT_READ);
  EXPECT_EQ(Get(*parent_, b, 1), "X");
  // Writing one mapping copies; the other and the cache keep the file.
  Put(*parent_, b, "w");
  EXPECT_EQ(Get(*parent_, b, 2), "wf");
  EXPECT_EQ(Get(*parent_, a + 2 * kPg, 1), "X");
  auto child = Fork();
  EXPECT_EQ(Get(*child, b, 1), "w");
  // A small writable one has its own copy at once, mapped writable.
  const uint64_t c = map_file(*child, 0, kPg, kRW);
  EXPECT_EQ(Get(*child, c, 2), "ff");
  Put(*child, c, "child");
  EXPECT_EQ(Get(*child, c, 5), "child");
  EXPECT_EQ(Get(*parent_, a, 5), "fffff");
  EXPECT_EQ(f->reads, reads);  // never read again
  // A fault access inferred from the VMAs: a present page of a writable
  // cow mapping was written; a PROT_NONE or unmapped page needs the platform.
  EXPECT_EQ(parent_->InferFaultAccess(b + kPg, 0, SIGSEGV, SEGV_ACCERR), PROT_WRITE);
  EXPECT_EQ(parent_->InferFaultAccess(b + kPg, b + kPg, SIGSEGV, SEGV_ACCERR), 0);  // at rip
  EXPECT_EQ(parent_->InferFaultAccess(a, 0, SIGSEGV, SEGV_ACCERR), 0);  // not writable: a violation
  EXPECT_EQ(parent_->InferFaultAccess(a, 0, SIGSEGV, SEGV_MAPERR), PROT_READ);
  EXPECT_EQ(parent_->InferFaultAccess(0x1000, 0, SIGSEGV, SEGV_MAPERR), 0);
  // A changed file is read again; the old copy leaves the cache.
  f->mtime = 2;
  map_file(*parent_, 0, kPg, PROT_READ);
  EXPECT_GT(f->reads, reads);
  EXPECT_EQ(mf_->file_cache().cached_bytes(), 20 * kPg);
  // Everything unmapped and the cache cleared: no page leaks.
  child.reset();
  parent_.reset();
  mf_->file_cache().Clear();
  EXPECT_EQ(mf_->allocated(), 0u);
}

// A writable private mapping of a cached file no larger than a fault chunk
// (an ELF data segment) is copied at mmap time and mapped writable: the
// first write does not fault; the cache's pages stay untouched.
TEST_F(ForkTest, SmallWritableMappingOfACachedFileIsCopiedAtOnce) {
  std::string content(4 * kPg, 'd');
  auto f = std::make_shared<CachedFile>(content);
  f->size = content.size();
  MmapOpts o;
  o.length = 2 * kPg;
  o.prot = kRW;
  o.file = f;
  o.offset = kPg;
  auto r = parent_->Mmap(o);
  ASSERT_TRUE(r.ok());
  const uint64_t a = r.value();
  EXPECT_EQ(mf_->file_cache().cached_bytes(), 4 * kPg);
  ASSERT_EQ(pas_.pages.count(a), 1u);
  EXPECT_EQ(pas_.pages.at(a).prot, kRW);
  EXPECT_EQ(pas_.pages.at(a + kPg).prot, kRW);
  Put(*parent_, a, "own");
  EXPECT_EQ(Get(*parent_, a, 4), "ownd");
  o.prot = PROT_READ;
  auto ro = parent_->Mmap(o);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(Get(*parent_, ro.value(), 3), "ddd");  // the cache kept the file's bytes
  parent_.reset();
  mf_->file_cache().Clear();
  EXPECT_EQ(mf_->allocated(), 0u);
}

// ld.so maps a library's whole span from offset 0 before mapping its
// segments over it; with a bss larger than the file's tail that first
// mapping reaches past EOF. The part inside the file still comes from the
// cache, mapped whole; the rest is demand-paged (zeros).
TEST_F(ForkTest, CachedFileMappedPastItsEndIsCachedUpToItsLastPage) {
  std::string content(3 * kPg + 100, 'g');
  auto f = std::make_shared<CachedFile>(content);
  f->size = content.size();
  MmapOpts o;
  o.length = 8 * kPg;
  o.prot = PROT_READ;
  o.file = f;
  auto r = parent_->Mmap(o);
  ASSERT_TRUE(r.ok());
  const uint64_t a = r.value();
  EXPECT_EQ(mf_->file_cache().cached_bytes(), 4 * kPg);
  const int reads = f->reads;
  for (uint64_t p = 0; p < 4; ++p) EXPECT_EQ(pas_.pages.count(a + p * kPg), 1u) << p;
  EXPECT_EQ(Get(*parent_, a + 3 * kPg + 99, 2), std::string("g\0", 2));
  EXPECT_EQ(f->reads, reads);  // the cached part is never read again
  EXPECT_EQ(Get(*parent_, a + 6 * kPg, 1), std::string(1, '\0'));
  const auto vmas = parent_->Vmas();
  ASSERT_FALSE(vmas.empty());
  EXPECT_EQ(vmas.back().end - vmas.front().start, 8 * kPg);
  parent_.reset();
  mf_->file_cache().Clear();
  EXPECT_EQ(mf_->allocated(), 0u);
}

}  // namespace
}  // namespace sentry::mm
