// Dentries hold their parents; cached children are held by their parents.
// A dentry that drops out of the cache (removed, or never cached
// because its parent is a per-caller directory such as /proc) must not keep
// itself alive through its own cached children. Found by the asan suite's
// leak checker and tests/fuzz/path_fuzz.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <memory>

#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

TEST_F(VfsTest, RenamedDirectoryMovesWithItsCachedChildrenAndIsFreedOnceRemoved) {
  const Caller c = RootCaller();
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/a", 0755).ok());
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/a/l", 0755).ok());
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/x", 0755).ok());
  std::weak_ptr<Dentry> a, l;
  {
    auto p = Resolve("/tmp/a/l");
    ASSERT_TRUE(p.ok());
    l = p.value().dentry;
    a = p.value().dentry->parent();
  }
  ASSERT_FALSE(a.expired());  // cached under /tmp
  // d_move: the same dentries, now under their new name and parent.
  ASSERT_TRUE(vfs_->Rename(c, AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/x/b", 0).ok());
  ASSERT_FALSE(a.expired());
  auto moved = Resolve("/tmp/x/b/l");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved.value().dentry, l.lock());
  EXPECT_EQ(a.lock()->name(), "b");
  EXPECT_EQ(AbsolutePath(moved.value()), "/tmp/x/b/l");
  EXPECT_FALSE(Resolve("/tmp/a").ok());
  moved = Errno::kENOENT;  // drop the last outside reference
  // Once removed, nothing keeps them: no cycle through the cache.
  ASSERT_TRUE(vfs_->Rmdir(c, AT_FDCWD, "/tmp/x/b/l").ok());
  ASSERT_TRUE(vfs_->Rmdir(c, AT_FDCWD, "/tmp/x/b").ok());
  EXPECT_TRUE(a.expired());
  EXPECT_TRUE(l.expired());
}

TEST_F(VfsTest, ProcPidDentriesAreFreedAfterTheLookup) {
  std::weak_ptr<Dentry> pid_dir, link;
  {
    auto p = Resolve("/proc/self/root", ResolveOpts{.follow_final = false});
    ASSERT_TRUE(p.ok());
    link = p.value().dentry;
    pid_dir = p.value().dentry->parent();
    ASSERT_EQ(pid_dir.lock()->name(), "7");
  }
  EXPECT_TRUE(link.expired());
  EXPECT_TRUE(pid_dir.expired());
  // And following the magic link still works.
  EXPECT_TRUE(Resolve("/proc/self/root/etc/passwd").ok());
}

}  // namespace
}  // namespace fs::testing
