// Dentries hold their parents; cached children are held by their parents.
// A dentry that drops out of the cache (renamed or removed, or never cached
// because its parent is a per-caller directory such as /proc) must not keep
// itself alive through its own cached children. Found by the asan suite's
// leak checker and tests/fuzz/path_fuzz.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <memory>

#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

TEST_F(VfsTest, RenamedDirectoryWithCachedChildrenIsFreed) {
  const Caller c = RootCaller();
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/a", 0755).ok());
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/a/l", 0755).ok());
  std::weak_ptr<Dentry> a, l;
  {
    auto p = Resolve("/tmp/a/l");
    ASSERT_TRUE(p.ok());
    l = p.value().dentry;
    a = p.value().dentry->parent();
  }
  ASSERT_FALSE(a.expired());  // cached under /tmp
  ASSERT_TRUE(vfs_->Rename(c, AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b", 0).ok());
  EXPECT_TRUE(a.expired());
  EXPECT_TRUE(l.expired());
  EXPECT_TRUE(Resolve("/tmp/b/l").ok());
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
