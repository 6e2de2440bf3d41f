// MemoryManager::Fork: copy-on-write sharing of memory-file pages, write
// protection on both sides, copies on write, shared memory staying shared,
// MADV_DONTFORK/WIPEONFORK, and no leaked pages.
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <string>

#include "sentry/mm/memory_manager.h"
#include "tests/unit/sentry/mm_fakes.h"

namespace sentry::mm {
namespace {

using testing::FakeAddressSpace;
using testing::FakeFile;

constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr uint64_t kPg = kPageSize;

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
