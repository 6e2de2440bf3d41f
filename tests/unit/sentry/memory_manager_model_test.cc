// Random operations checked against a page-by-page model: catches split,
// merge and backing bugs the example tests miss. Deterministic seed.
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

#include "sentry/mm/memory_manager.h"
#include "tests/unit/sentry/mm_fakes.h"

namespace sentry::mm {
namespace {

constexpr uint64_t kBase = 0x40000000;
constexpr int kPages = 48;

struct ModelPage {
  int prot;
  uint8_t byte;  // first byte of the page
};

TEST(MemoryManagerModel, RandomOperationsMatchPageModelAndLeakNothing) {
  auto mf = std::move(MemoryFile::Create(1ull << 28)).value();
  testing::FakeAddressSpace::State as;
  MemoryManager mm(*mf, std::make_unique<testing::FakeAddressSpace>(&as));
  std::map<int, ModelPage> model;
  std::mt19937 rng(12345);
  const int prots[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC};
  auto rnd = [&](int n) { return static_cast<int>(rng() % n); };

  for (int step = 0; step < 3000; ++step) {
    const int first = rnd(kPages);
    const int count = 1 + rnd(std::min(8, kPages - first));
    const uint64_t addr = kBase + first * kPageSize, len = count * kPageSize;
    const int prot = prots[rnd(4)];
    switch (rnd(5)) {
      case 0: {  // mmap fixed
        MmapOpts o;
        o.addr = addr;
        o.length = len;
        o.prot = prot;
        o.fixed = true;
        ASSERT_TRUE(mm.Mmap(o).ok());
        for (int p = first; p < first + count; ++p) model[p] = {prot, 0};
        break;
      }
      case 1:  // munmap
        ASSERT_TRUE(mm.Munmap(addr, len).ok());
        for (int p = first; p < first + count; ++p) model.erase(p);
        break;
      case 2: {  // mprotect: applies up to the first hole
        const bool start_mapped = model.count(first);
        Result<void> r = mm.Mprotect(addr, len, prot);
        bool hole = !start_mapped;
        for (int p = first; p < first + count && !hole; ++p) {
          if (!model.count(p)) {
            hole = true;
            break;
          }
          model[p].prot = prot;
        }
        ASSERT_EQ(r.ok(), !hole) << step;
        break;
      }
      case 3: {  // write a byte into each writable page
        for (int p = first; p < first + count; ++p) {
          const uint8_t b = static_cast<uint8_t>(1 + rnd(250));
          Result<void> r = mm.CopyOutBytes(kBase + p * kPageSize, std::span<const uint8_t>(&b, 1));
          const bool ok = model.count(p) && (model[p].prot & PROT_WRITE);
          ASSERT_EQ(r.ok(), ok) << step;
          if (ok) model[p].byte = b;
        }
        break;
      }
      case 4: {  // MADV_DONTNEED
        Result<void> r = mm.Madvise(addr, len, MADV_DONTNEED);
        bool hole = false;
        for (int p = first; p < first + count; ++p) {
          if (model.count(p))
            model[p].byte = 0;
          else
            hole = true;
        }
        ASSERT_EQ(r.ok(), !hole) << step;
        break;
      }
    }
    // Every page reads as the model says, through the copy door and the AS.
    for (int p = 0; p < kPages; ++p) {
      uint8_t b = 0xff;
      const uint64_t a = kBase + p * kPageSize;
      Result<void> r = mm.CopyInBytes(a, std::span<uint8_t>(&b, 1));
      auto it = model.find(p);
      const bool readable = it != model.end() && it->second.prot != PROT_NONE;
      ASSERT_EQ(r.ok(), readable) << "step " << step << " page " << p;
      if (readable) {
        ASSERT_EQ(b, it->second.byte) << "step " << step << " page " << p;
      }
      auto pg = as.pages.find(a);
      if (readable) {
        ASSERT_NE(pg, as.pages.end()) << "step " << step << " page " << p;
        ASSERT_EQ(pg->second.prot, it->second.prot);
        ASSERT_EQ(mf->Data(pg->second.offset)[0], b);  // the app sees the same bytes
      } else {
        ASSERT_EQ(pg, as.pages.end()) << "step " << step << " page " << p;
      }
    }
  }
  // VMAs as shown cover exactly the model's pages.
  uint64_t shown = 0;
  for (const VmaInfo& v : mm.Vmas()) shown += (v.end - v.start) / kPageSize;
  EXPECT_EQ(shown, model.size());
  ASSERT_TRUE(mm.Munmap(kBase, kPages * kPageSize).ok());
  EXPECT_EQ(mf->allocated(), 0u);
  EXPECT_TRUE(as.pages.empty());
}

}  // namespace
}  // namespace sentry::mm
