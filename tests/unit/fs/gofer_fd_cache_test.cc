// The read-only host fd that a gofer inode keeps (fs/gofer_fs.cc): a later
// O_RDONLY open reuses it instead of asking the gofer again, and files
// sharing it still have their own offsets.
#include <fcntl.h>

#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

TEST_F(VfsTest, ReadOnlyReopenDoesNotAskTheGoferAgain) {
  auto first = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(first.ok());
  const int opens = gofer_->opens.load();
  first.value().reset();  // The cached fd outlives the last open file.
  for (int i = 0; i < 3; ++i) {
    auto f = Open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(ReadAll(*f.value()), "root:x:0:0\n");
  }
  EXPECT_EQ(gofer_->opens.load(), opens);
}

TEST_F(VfsTest, FilesSharingTheCachedFdKeepTheirOwnOffsets) {
  auto a = Open("/etc/passwd", O_RDONLY);
  auto b = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  uint8_t buf[5];
  ASSERT_EQ(a.value()->Read(buf).value(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 5), "root:");
  ASSERT_EQ(b.value()->Read(std::span<uint8_t>(buf, 4)).value(), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "root");
  ASSERT_EQ(a.value()->Read(std::span<uint8_t>(buf, 4)).value(), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "x:0:");
}

TEST_F(VfsTest, WriteOpensAreNotServedFromTheReadOnlyFd) {
  ASSERT_TRUE(Open("/etc/passwd", O_RDONLY).ok());
  EXPECT_EQ(Open("/etc/passwd", O_RDWR).error(), base::Errno::kEROFS);
}

}  // namespace
}  // namespace fs::testing
