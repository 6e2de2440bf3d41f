// Path walks on a writable (revalidating) gofer mount: every cached name is
// asked again on every walk, and the names of one path are asked in one
// gofer walk (Dentry::LookupChildren), not one round trip per component.
#include <gtest/gtest.h>

#include <string>

#include "fs/vfs.h"
#include "sentry/kernel/task.h"
#include "tests/unit/fs/fake_gofer.h"

namespace fs::testing {
namespace {

class RevalidateWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = std::make_unique<FakeGofer>();
    gofer_ = g.get();
    a_ = g->Add(1, "a", S_IFDIR | 0755);
    const gofer::Handle b = g->Add(a_, "b", S_IFDIR | 0755);
    const gofer::Handle c = g->Add(b, "c", S_IFDIR | 0755);
    g->Add(c, "f", S_IFREG | 0644, "one");
    g->Add(1, "l", S_IFLNK | 0777, "a/b");
    auto v = Vfs::Create(std::move(g), VfsOptions{.overlay_root = false, .root_writable = true});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(v).value();
    auto ctx = vfs_->NewFsContext("/");
    ASSERT_TRUE(ctx.ok());
    fsctx_ = std::move(ctx).value();
  }

  Caller C() { return Caller{&root_, &tg_, &fds_, fsctx_.get(), 1}; }
  Result<Path> Resolve(std::string_view path) {
    return vfs_->Resolve(C(), *fsctx_, fsctx_->cwd(), path, ResolveOpts{.follow_final = true});
  }
  // Walks the resolution of `path` cost, and its contents ("" if no file).
  std::pair<int, std::string> WalkAndRead(std::string_view path) {
    const int before = gofer_->walks.load();
    std::string data;
    auto f = vfs_->Open(C(), *fsctx_, fsctx_->cwd(), path, O_RDONLY, 0);
    const int walks = gofer_->walks.load() - before;
    if (f.ok()) {
      uint8_t buf[64];
      auto n = f.value()->Read(buf);
      if (n.ok()) data.assign(reinterpret_cast<char*>(buf), n.value());
    }
    return {walks, data};
  }

  FakeGofer* gofer_ = nullptr;
  gofer::Handle a_ = 0;
  std::shared_ptr<Vfs> vfs_;
  std::shared_ptr<FsContext> fsctx_;
  sentry::kernel::Credentials root_;
  sentry::kernel::ThreadGroup tg_;
  sentry::kernel::FdTable fds_;
};

TEST_F(RevalidateWalkTest, ADeepPathIsOneGoferWalkEveryTime) {
  EXPECT_EQ(WalkAndRead("/a/b/c/f"), std::make_pair(1, std::string("one")));
  // Cached now, but a writable mount asks again: still one walk, not four.
  EXPECT_EQ(WalkAndRead("/a/b/c/f"), std::make_pair(1, std::string("one")));
  EXPECT_EQ(WalkAndRead("a/b/./c/f"), std::make_pair(2, std::string("one")));  // "." splits the run
}

TEST_F(RevalidateWalkTest, AMiddleDirectoryReplacedOnTheHostIsSeenAtOnce) {
  ASSERT_EQ(WalkAndRead("/a/b/c/f").second, "one");
  const gofer::Handle b2 = gofer_->Add(a_, "b", S_IFDIR | 0755);  // replaces a/b
  const gofer::Handle c2 = gofer_->Add(b2, "c", S_IFDIR | 0755);
  gofer_->Add(c2, "f", S_IFREG | 0644, "two");
  EXPECT_EQ(WalkAndRead("/a/b/c/f"), std::make_pair(1, std::string("two")));
}

TEST_F(RevalidateWalkTest, ASymlinkOrAMissingNameEndsTheBatch) {
  // "l" stops the first walk; its target and the rest are the second.
  EXPECT_EQ(WalkAndRead("/l/c/f"), std::make_pair(2, std::string("one")));
  EXPECT_EQ(WalkAndRead("/l/c/f"), std::make_pair(2, std::string("one")));
  auto r = Resolve("/a/nope/c/f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);
  r = Resolve("/a/b/c/f/g");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOTDIR);
}

}  // namespace
}  // namespace fs::testing
