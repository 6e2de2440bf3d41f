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
    f_ = g->Add(c, "f", S_IFREG | 0644, "one");
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
  gofer::Handle a_ = 0, f_ = 0;
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

// stat(path) on a writable mount: the walk that revalidates the name brings
// the attributes, and the stat in the same syscall uses them (one round trip,
// not a walk and a Stat); the next syscall asks the host again.
TEST_F(RevalidateWalkTest, AStatByPathIsOneRoundTripAndTheNextSyscallAsksAgain) {
  Caller c = C();
  Result<Path> p = Errno::kENOENT;
  auto stat_in = [&](uint64_t syscall, bool walk) -> std::pair<int, int64_t> {
    c.syscall = syscall;
    if (walk) p = vfs_->Resolve(c, *fsctx_, fsctx_->cwd(), "/a/b/c/f", ResolveOpts{.follow_final = true});
    if (!p.ok()) return {-1, -1};
    const int before = gofer_->stats.load();
    auto st = vfs_->Stat(c, p.value());
    return {gofer_->stats.load() - before, st.ok() ? st.value().st_size : -1};
  };
  EXPECT_EQ(stat_in(100, true), std::make_pair(0, int64_t{3}));
  gofer_->attr(f_).size = 7;  // changed on the host
  EXPECT_EQ(stat_in(101, true), std::make_pair(0, int64_t{7}));
  gofer_->attr(f_).size = 9;
  // No walk in this syscall (an fstat, a stat of a held path): the gofer.
  EXPECT_EQ(stat_in(102, false), std::make_pair(1, int64_t{9}));
  // A caller outside any syscall never reuses.
  gofer_->attr(f_).size = 11;
  EXPECT_EQ(stat_in(0, true), std::make_pair(1, int64_t{11}));
}

}  // namespace
}  // namespace fs::testing
