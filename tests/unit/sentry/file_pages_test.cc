// FilePages: tmpfs file data in memory-file pages; SharedMappers: freed
// pages wait for every mapper before they return to the memory file.
#include "sentry/mm/file_pages.h"

#include <gtest/gtest.h>

#include <cstring>

namespace sentry::mm {
namespace {

constexpr uint64_t kFilePg = FilePages::kPage;

TEST(FilePages, FillMakesZeroPagesAndRemoveGivesThemBack) {
  auto mf = std::move(MemoryFile::Create(64 * kFilePg)).value();
  {
    FilePages f(*mf);
    EXPECT_EQ(f.Fill(2, 6), 6u);
    EXPECT_EQ(f.npages(), 4u);
    EXPECT_EQ(mf->file_data(), 4 * kFilePg);
    EXPECT_EQ(f.NextData(0), 2u);
    EXPECT_EQ(f.NextHole(2), 6u);
    auto freed = f.Remove(3, 5);
    uint64_t bytes = 0;
    for (auto [off, len] : freed) bytes += len;
    EXPECT_EQ(bytes, 2 * kFilePg);
    for (auto [off, len] : freed) mf->Free(off, len);
    mf->AddFileData(-static_cast<int64_t>(bytes));
    EXPECT_EQ(f.Runs(0, 10).size(), 2u);
    EXPECT_EQ(f.NextHole(2), 3u);
  }
  EXPECT_EQ(mf->allocated(), 0u);
  EXPECT_EQ(mf->file_data(), 0u);
}

TEST(FilePages, ForEachSeesWrittenBytesAndHoles) {
  auto mf = std::move(MemoryFile::Create(64 * kFilePg)).value();
  FilePages f(*mf);
  ASSERT_EQ(f.Fill(1, 2), 2u);
  f.ForEach(kFilePg, 3, [](uint64_t, uint8_t* p, size_t n) { memcpy(p, "abc", n); });
  int holes = 0;
  std::string seen;
  f.ForEach(kFilePg - 2, 5, [&](uint64_t, uint8_t* p, size_t n) {
    if (p == nullptr) {
      ++holes;
    } else {
      seen.append(reinterpret_cast<char*>(p), n);
    }
  });
  EXPECT_EQ(holes, 1);
  EXPECT_EQ(seen, "abc");
}

TEST(FilePages, FullMemoryFileStopsFillEarly) {
  auto mf = std::move(MemoryFile::Create(4 * kFilePg)).value();
  FilePages f(*mf);
  EXPECT_EQ(f.Fill(0, 10), 4u);
  EXPECT_EQ(f.npages(), 4u);
}

class RecordingMapper : public SharedMapper {
 public:
  void QueueInvalidation(const void*, uint64_t start, uint64_t end, std::shared_ptr<FreedPages> pages) override {
    last_start = start;
    last_end = end;
    held = std::move(pages);
  }
  uint64_t last_start = 0, last_end = 0;
  std::shared_ptr<FreedPages> held;
};

TEST(SharedMappers, FreedPagesWaitForEveryMapper) {
  auto mf = std::move(MemoryFile::Create(64 * kFilePg)).value();
  auto set = std::make_shared<SharedMappers>();
  RecordingMapper m;
  auto reg = set->Add(&m);
  const uint64_t off = mf->Allocate(2 * kFilePg).value();
  set->Release(*mf, nullptr, 0, 2 * kFilePg, {{off, 2 * kFilePg}});
  EXPECT_EQ(m.last_end, 2 * kFilePg);
  EXPECT_EQ(mf->allocated(), 2 * kFilePg);  // still mapped somewhere
  m.held.reset();
  EXPECT_EQ(mf->allocated(), 0u);
  EXPECT_TRUE(reg->alive());
  set.reset();
  EXPECT_FALSE(reg->alive());  // the file went first: the registration is inert
}

}  // namespace
}  // namespace sentry::mm
