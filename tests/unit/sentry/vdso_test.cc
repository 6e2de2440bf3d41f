#include "sentry/vdso/vdso.h"

#include <elf.h>
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <utility>
#include <cstring>

#include "absl/time/clock.h"

#include "tests/unit/sentry/mm_fakes.h"

namespace sentry::vdso {
namespace {

using mm::testing::FakeAddressSpace;

int64_t Ns(const struct timespec& ts) { return ts.tv_sec * 1000000000ll + ts.tv_nsec; }

class VdsoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(mm::MemoryFile::Create(1ull << 30)).value();
    vdso_ = std::move(Vdso::Create(*mf_)).value();
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(&as_));
  }
  FakeAddressSpace::State as_, as2_;
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<Vdso> vdso_;
  std::unique_ptr<mm::MemoryManager> mm_;
};

TEST_F(VdsoTest, MapsVvarBelowAnElfVdso) {
  const uint64_t base = vdso_->Map(*mm_).value();
  char magic[SELFMAG];
  ASSERT_TRUE(mm_->CopyInBytes(base, {reinterpret_cast<uint8_t*>(magic), SELFMAG}).ok());
  EXPECT_EQ(std::memcmp(magic, ELFMAG, SELFMAG), 0);
  bool vvar = false, text = false;
  for (const mm::VmaInfo& v : mm_->Vmas()) {
    if (v.name == "[vvar]") {
      vvar = true;
      EXPECT_EQ(v.end, base);
      EXPECT_EQ(v.prot, PROT_READ);
    }
    if (v.name == "[vdso]") {
      text = true;
      EXPECT_EQ(v.start, base);
      EXPECT_EQ(v.prot, PROT_READ | PROT_EXEC);
    }
  }
  EXPECT_TRUE(vvar);
  EXPECT_TRUE(text);
}

TEST_F(VdsoTest, ParameterPageCannotBeWrittenByTheApp) {
  const uint64_t base = vdso_->Map(*mm_).value();
  EXPECT_EQ(mm_->Mprotect(base - mm::kPageSize, mm::kPageSize, PROT_READ | PROT_WRITE).error(), base::Errno::kEACCES);
  const uint8_t b = 1;
  EXPECT_FALSE(mm_->CopyOutBytes(base - mm::kPageSize, {&b, 1}).ok());
  // The vDSO's own copy may be patched (a private mapping), as on Linux.
  EXPECT_TRUE(mm_->Mprotect(base, mm::kPageSize, PROT_READ | PROT_WRITE).ok());
}

TEST_F(VdsoTest, UnmappingInOneAddressSpaceKeepsThePageForOthers) {
  const uint64_t base = vdso_->Map(*mm_).value();
  auto other = std::make_unique<mm::MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(&as2_));
  const uint64_t base2 = vdso_->Map(*other).value();
  ASSERT_TRUE(mm_->Munmap(base - mm::kPageSize, mm::kPageSize).ok());
  mm_.reset();
  uint32_t seq_mode[2];
  EXPECT_TRUE(other->CopyInBytes(base2 - mm::kPageSize, {reinterpret_cast<uint8_t*>(seq_mode), 8}).ok());
}

TEST_F(VdsoTest, ClocksFollowTheHostAndNeverGoBack) {
  // Past the first calibration the clocks come from the TSC; either way
  // they must match the host's within the sampling error and be monotonic.
  const Timekeeper& tk = vdso_->timekeeper();
  for (int round = 0; round < 3; round++) {
    // Our reading lies between two host readings, give or take the
    // calibration error (a preemption only widens the bracket).
    for (auto [vvar, host] : {std::pair{VVAR_MONOTONIC, CLOCK_MONOTONIC}, std::pair{VVAR_REALTIME, CLOCK_REALTIME},
                              std::pair{VVAR_BOOTTIME, CLOCK_BOOTTIME}}) {
      struct timespec h1 {}, h2 {};
      clock_gettime(host, &h1);
      const int64_t ours = Ns(tk.Now(vvar));
      clock_gettime(host, &h2);
      EXPECT_GE(ours, Ns(h1) - 1000000) << "clock " << vvar << " round " << round;
      EXPECT_LE(ours, Ns(h2) + 1000000) << "clock " << vvar << " round " << round;
    }
    int64_t prev = Ns(tk.Now(VVAR_MONOTONIC));
    for (int i = 0; i < 200000; i++) {
      const int64_t cur = Ns(tk.Now(VVAR_MONOTONIC));
      ASSERT_GE(cur, prev);
      prev = cur;
    }
    absl::SleepFor(absl::Milliseconds(30));
  }
}

}  // namespace
}  // namespace sentry::vdso
