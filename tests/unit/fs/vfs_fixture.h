// A Vfs over a FakeGofer tree shared by the fs tests.
#ifndef TESTS_UNIT_FS_VFS_FIXTURE_H_
#define TESTS_UNIT_FS_VFS_FIXTURE_H_

#include <gtest/gtest.h>

#include <string>

#include "fs/vfs.h"
#include "sentry/kernel/task.h"
#include "tests/unit/fs/fake_gofer.h"

namespace fs::testing {

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = std::make_unique<FakeGofer>();
    gofer_ = g.get();
    const gofer::Handle bin = g->Add(1, "bin", S_IFDIR | 0755);
    g->Add(bin, "sh", S_IFREG | 0755, "\x7f" "ELF-sh");
    g->Add(bin, "noexec", S_IFREG | 0644, "data");
    g->Add(bin, "rootonly", S_IFREG | 0700, "x");
    const gofer::Handle etc = g->Add(1, "etc", S_IFDIR | 0755);
    g->Add(etc, "passwd", S_IFREG | 0644, "root:x:0:0\n");
    g->Add(etc, "shadow", S_IFREG | 0600, "secret");
    const gofer::Handle priv = g->Add(1, "private", S_IFDIR | 0700);
    g->Add(priv, "file", S_IFREG | 0644, "p");
    const gofer::Handle home = g->Add(1, "home", S_IFDIR | 0755);
    g->Add(home, "user", S_IFDIR | 0755, "", 1000, 1000);
    g->Add(1, "lnk", S_IFLNK | 0777, "etc/passwd");
    g->Add(1, "abs", S_IFLNK | 0777, "/etc");
    g->Add(1, "dirlink", S_IFLNK | 0777, "bin/");
    g->Add(1, "dangling", S_IFLNK | 0777, "nowhere");
    g->Add(1, "loop1", S_IFLNK | 0777, "loop2");
    g->Add(1, "loop2", S_IFLNK | 0777, "loop1");
    // l1 -> l2 -> ... -> l40 -> etc/passwd: 40 links; l0 adds a 41st.
    for (int i = 0; i <= 40; ++i) {
      g->Add(1, "l" + std::to_string(i), S_IFLNK | 0777, i == 40 ? "etc/passwd" : "l" + std::to_string(i + 1));
    }
    g->Add(1, "escape", S_IFLNK | 0777, "../../../etc");
    auto v = Vfs::Create(std::move(g), VfsOptions{.overlay_root = UseOverlay(), .tmpfs_tmp = true});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(v).value();
    auto ctx = vfs_->NewFsContext("/");
    ASSERT_TRUE(ctx.ok());
    fsctx_ = std::move(ctx).value();
    tg_.pid = 7;
    tg_.exe_path = "/bin/sh";
  }

  // The plain read-only gofer root by default; overlay tests override.
  virtual bool UseOverlay() const { return false; }

  Caller RootCaller() { return Caller{&root_, &tg_, &fds_, fsctx_.get(), 7}; }
  Caller UserCaller() { return Caller{&user_, &tg_, &fds_, fsctx_.get(), 7}; }

  Result<Path> Resolve(std::string_view path, ResolveOpts opts = {}) {
    return vfs_->Resolve(RootCaller(), *fsctx_, fsctx_->cwd(), path, opts);
  }
  Result<std::shared_ptr<FileDescription>> Open(std::string_view path, int flags, const Caller* c = nullptr) {
    const Caller caller = c != nullptr ? *c : RootCaller();
    return vfs_->Open(caller, *fsctx_, fsctx_->cwd(), path, flags, 0644);
  }
  std::string ReadAll(FileDescription& f) {
    std::string out;
    uint8_t buf[64];
    while (true) {
      auto n = f.Read(buf);
      if (!n.ok() || n.value() == 0) break;
      out.append(reinterpret_cast<char*>(buf), n.value());
    }
    return out;
  }

  static sentry::kernel::Credentials User() {
    return sentry::kernel::Credentials::ForUser(1000, 1000);
  }

  FakeGofer* gofer_ = nullptr;
  std::shared_ptr<Vfs> vfs_;
  std::shared_ptr<FsContext> fsctx_;
  sentry::kernel::Credentials root_;
  sentry::kernel::Credentials user_ = User();
  sentry::kernel::ThreadGroup tg_;
  sentry::kernel::FdTable fds_;
};

}  // namespace fs::testing

#endif  // TESTS_UNIT_FS_VFS_FIXTURE_H_
