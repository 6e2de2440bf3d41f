// Resource bounds without flags (runsc/sandbox.h): a fork bomb or a memory
// bomb stops inside the sandbox before it exhausts the host's pids or RAM.
#include "runsc/sandbox.h"

#include <gtest/gtest.h>

namespace runsc::sandbox {
namespace {

TEST(ResourceDefaultsTest, TasksAreAFractionOfTheHostsPids) {
  EXPECT_EQ(ResourceDefaultsFor(32768, 8ull << 30).max_tasks, 4096u);
  EXPECT_EQ(ResourceDefaultsFor(4194304, 8ull << 30).max_tasks, 16384u);  // capped
  EXPECT_EQ(ResourceDefaultsFor(1024, 8ull << 30).max_tasks, 256u);       // a floor to run anything
}

TEST(ResourceDefaultsTest, MemoryIsHalfTheHostsRam) {
  EXPECT_EQ(ResourceDefaultsFor(32768, 24ull << 30).total_memory, 12ull << 30);
  EXPECT_EQ(ResourceDefaultsFor(32768, 1ull << 40).total_memory, 64ull << 30);  // capped
  EXPECT_EQ(ResourceDefaultsFor(32768, 0).total_memory, 256ull << 20);          // sysinfo failed
}

TEST(ResourceDefaultsTest, ThisHostsDefaultsAreBounded) {
  const ResourceDefaults d = HostResourceDefaults();
  EXPECT_GE(d.max_tasks, 256u);
  EXPECT_LE(d.max_tasks, 16384u);
  EXPECT_LE(d.total_memory, 64ull << 30);
}

}  // namespace
}  // namespace runsc::sandbox
