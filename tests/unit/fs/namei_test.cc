#include <fcntl.h>

#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

using base::Errno;

std::string Str(const Path& p) { return AbsolutePath(p); }

TEST_F(VfsTest, ResolvesAbsoluteAndRelativePaths) {
  auto p = Resolve("/etc/passwd");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Str(p.value()), "/etc/passwd");
  fsctx_->SetCwd(Resolve("/etc").value());
  p = Resolve("passwd");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Str(p.value()), "/etc/passwd");
  EXPECT_EQ(Str(Resolve("./../etc/./passwd").value()), "/etc/passwd");
}

TEST_F(VfsTest, EmptyPathIsEnoent) { EXPECT_EQ(Resolve("").error(), Errno::kENOENT); }

TEST_F(VfsTest, DotDotCannotLeaveRoot) {
  EXPECT_EQ(Str(Resolve("/..").value()), "/");
  EXPECT_EQ(Str(Resolve("/../../..").value()), "/");
  EXPECT_EQ(Str(Resolve("/../etc/../../bin").value()), "/bin");
  EXPECT_EQ(Str(Resolve("/escape").value()), "/etc");  // "../../../etc" from /
}

TEST_F(VfsTest, DotDotLeavesAMountForItsParent) {
  EXPECT_EQ(Str(Resolve("/proc/..").value()), "/");
  EXPECT_EQ(Str(Resolve("/dev/../etc").value()), "/etc");
}

TEST_F(VfsTest, SymlinksAreFollowedRelativeToTheirDirectory) {
  EXPECT_EQ(Str(Resolve("/lnk").value()), "/etc/passwd");
  EXPECT_EQ(Str(Resolve("/abs/passwd").value()), "/etc/passwd");
  EXPECT_EQ(Str(Resolve("/dirlink/sh").value()), "/bin/sh");
}

TEST_F(VfsTest, FinalSymlinkIsNotFollowedWhenAsked) {
  auto p = Resolve("/lnk", ResolveOpts{.follow_final = false});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.value().dentry->inode()->is_symlink());
  EXPECT_EQ(Str(p.value()), "/lnk");
}

TEST_F(VfsTest, SymlinkLoopFailsWithEloop) {
  EXPECT_EQ(Resolve("/loop1").error(), Errno::kELOOP);
  EXPECT_EQ(Resolve("/loop1/x").error(), Errno::kELOOP);
}

TEST_F(VfsTest, FortySymlinksResolveAndFortyOneFailWithEloop) {
  EXPECT_EQ(Str(Resolve("/l1").value()), "/etc/passwd");
  EXPECT_EQ(Resolve("/l0").error(), Errno::kELOOP);
}

TEST_F(VfsTest, DanglingSymlinkIsEnoentUnlessNotFollowed) {
  EXPECT_EQ(Resolve("/dangling").error(), Errno::kENOENT);
  EXPECT_TRUE(Resolve("/dangling", ResolveOpts{.follow_final = false}).ok());
}

TEST_F(VfsTest, TrailingSlashRequiresADirectory) {
  EXPECT_EQ(Resolve("/etc/passwd/").error(), Errno::kENOTDIR);
  EXPECT_EQ(Resolve("/etc/passwd/.").error(), Errno::kENOTDIR);
  EXPECT_EQ(Resolve("/lnk/").error(), Errno::kENOTDIR);
  EXPECT_TRUE(Resolve("/etc/").ok());
  // A trailing slash follows a final symlink even with follow_final off.
  auto p = Resolve("/dirlink/", ResolveOpts{.follow_final = false});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Str(p.value()), "/bin");
}

TEST_F(VfsTest, FileAsDirectoryComponentIsEnotdir) {
  EXPECT_EQ(Resolve("/etc/passwd/x").error(), Errno::kENOTDIR);
}

TEST_F(VfsTest, MissingComponentIsEnoent) {
  EXPECT_EQ(Resolve("/nope").error(), Errno::kENOENT);
  EXPECT_EQ(Resolve("/nope/x").error(), Errno::kENOENT);
}

TEST_F(VfsTest, LongNamesFailWithEnametoolong) {
  EXPECT_EQ(Resolve("/" + std::string(256, 'a')).error(), Errno::kENAMETOOLONG);
  EXPECT_EQ(Resolve("/" + std::string(255, 'a')).error(), Errno::kENOENT);
  std::string long_path;
  while (long_path.size() < kPathMax) long_path += "/etc";
  EXPECT_EQ(Resolve(long_path).error(), Errno::kENAMETOOLONG);
}

TEST_F(VfsTest, DirfdRelativeLookupStartsAtTheFdsDirectory) {
  auto dir = Open("/etc", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir.ok());
  const int fd = fds_.Install(dir.value(), false).value();
  Caller c = RootCaller();
  auto start = vfs_->StartFor(c, *fsctx_, fd, "passwd");
  ASSERT_TRUE(start.ok());
  auto p = vfs_->Resolve(c, *fsctx_, start.value(), "passwd");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Str(p.value()), "/etc/passwd");
  // Absolute paths ignore dirfd, even a bad one.
  EXPECT_TRUE(vfs_->StartFor(c, *fsctx_, 999, "/etc").ok());
  EXPECT_EQ(vfs_->StartFor(c, *fsctx_, 999, "x").error(), Errno::kEBADF);
  const int file_fd = fds_.Install(Open("/etc/passwd", O_RDONLY).value(), false).value();
  EXPECT_EQ(vfs_->StartFor(c, *fsctx_, file_fd, "x").error(), Errno::kENOTDIR);
}

TEST_F(VfsTest, SearchPermissionIsCheckedOnEveryDirectory) {
  Caller u = UserCaller();
  EXPECT_EQ(vfs_->Resolve(u, *fsctx_, fsctx_->root(), "/private/file").error(), Errno::kEACCES);
  EXPECT_TRUE(Resolve("/private/file").ok());  // root bypasses
}

TEST_F(VfsTest, PathStringOfMountsAndRoot) {
  EXPECT_EQ(Str(Resolve("/").value()), "/");
  EXPECT_EQ(Str(Resolve("/dev/null").value()), "/dev/null");
  EXPECT_EQ(Str(Resolve("/proc").value()), "/proc");
}

}  // namespace
}  // namespace fs::testing
