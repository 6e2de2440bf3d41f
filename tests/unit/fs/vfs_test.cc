#include <dirent.h>
#include <fcntl.h>

#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

using base::Errno;

TEST_F(VfsTest, RepeatedStatHitsTheDentryCache) {
  ASSERT_TRUE(Resolve("/etc/passwd").ok());
  const int walks = gofer_->walks.load();
  const int stats = gofer_->stats.load();
  for (int i = 0; i < 3; ++i) {
    auto p = Resolve("/etc/passwd");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(vfs_->Stat(RootCaller(), p.value()).value().st_size, 11);
  }
  EXPECT_EQ(gofer_->walks.load(), walks);
  EXPECT_EQ(gofer_->stats.load(), stats);
}

TEST_F(VfsTest, MissingNamesAreCachedToo) {
  EXPECT_EQ(Resolve("/etc/missing").error(), Errno::kENOENT);
  const int walks = gofer_->walks.load();
  EXPECT_EQ(Resolve("/etc/missing").error(), Errno::kENOENT);
  EXPECT_EQ(gofer_->walks.load(), walks);
}

TEST_F(VfsTest, SymlinkTargetsAreReadOnce) {
  ASSERT_TRUE(Resolve("/lnk").ok());
  const int readlinks = gofer_->readlinks.load();
  ASSERT_TRUE(Resolve("/lnk").ok());
  EXPECT_EQ(gofer_->readlinks.load(), readlinks);
}

TEST_F(VfsTest, OpenReadsTheFileThroughTheDonatedFd) {
  auto f = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(ReadAll(*f.value()), "root:x:0:0\n");
  EXPECT_EQ(f.value()->Path(), "/etc/passwd");
  EXPECT_EQ(f.value()->Seek(7, SEEK_SET).value(), 7u);
  uint8_t buf[4];
  EXPECT_EQ(f.value()->Read(buf).value(), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "0:0\n");
  EXPECT_EQ(f.value()->Seek(-1, SEEK_SET).error(), Errno::kEINVAL);
  EXPECT_EQ(f.value()->Seek(0, SEEK_END).value(), 11u);
}

TEST_F(VfsTest, WriteAccessToTheRootfsIsErofs) {
  EXPECT_EQ(Open("/etc/passwd", O_WRONLY).error(), Errno::kEROFS);
  EXPECT_EQ(Open("/etc/passwd", O_RDWR).error(), Errno::kEROFS);
  EXPECT_EQ(Open("/etc/passwd", O_RDONLY | O_TRUNC).error(), Errno::kEROFS);
  EXPECT_EQ(Open("/etc/new", O_WRONLY | O_CREAT).error(), Errno::kEROFS);
  EXPECT_EQ(Open("/etc/passwd", O_WRONLY | O_CREAT).error(), Errno::kEROFS);
  // Linux: EROFS comes before EACCES.
  Caller u = UserCaller();
  EXPECT_EQ(Open("/etc/shadow", O_WRONLY, &u).error(), Errno::kEROFS);
}

TEST_F(VfsTest, CreateFlagOnAnExistingFileOpensItReadOnlyLikeLinux) {
  EXPECT_TRUE(Open("/etc/passwd", O_RDONLY | O_CREAT).ok());
  EXPECT_EQ(Open("/etc/passwd", O_RDONLY | O_CREAT | O_EXCL).error(), Errno::kEEXIST);
}

TEST_F(VfsTest, DirectoryOpenRules) {
  EXPECT_EQ(Open("/etc", O_WRONLY).error(), Errno::kEISDIR);
  EXPECT_EQ(Open("/etc", O_RDONLY | O_CREAT).error(), Errno::kEISDIR);
  EXPECT_EQ(Open("/", O_RDONLY | O_CREAT).error(), Errno::kEISDIR);
  EXPECT_EQ(Open("/etc/passwd", O_RDONLY | O_DIRECTORY).error(), Errno::kENOTDIR);
  EXPECT_TRUE(Open("/etc", O_RDONLY | O_DIRECTORY).ok());
  auto f = Open("/etc", O_RDONLY);
  ASSERT_TRUE(f.ok());
  uint8_t buf[8];
  EXPECT_EQ(f.value()->Read(buf).error(), Errno::kEISDIR);
}

TEST_F(VfsTest, NofollowOnAFinalSymlinkIsEloop) {
  EXPECT_EQ(Open("/lnk", O_RDONLY | O_NOFOLLOW).error(), Errno::kELOOP);
  // But O_PATH|O_NOFOLLOW opens the link itself.
  auto f = Open("/lnk", O_PATH | O_NOFOLLOW);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(S_ISLNK(f.value()->Stat().value().st_mode));
  EXPECT_FALSE(f.value()->readable());
  // A non-final symlink is still followed.
  EXPECT_TRUE(Open("/abs/passwd", O_RDONLY | O_NOFOLLOW).ok());
}

TEST_F(VfsTest, OPathSkipsPermissionChecks) {
  Caller u = UserCaller();
  EXPECT_EQ(Open("/etc/shadow", O_RDONLY, &u).error(), Errno::kEACCES);
  EXPECT_TRUE(Open("/etc/shadow", O_PATH, &u).ok());
}

TEST_F(VfsTest, NonRootNeedsPermissionBits) {
  Caller u = UserCaller();
  EXPECT_TRUE(Open("/etc/passwd", O_RDONLY, &u).ok());
  EXPECT_EQ(Open("/etc/shadow", O_RDONLY, &u).error(), Errno::kEACCES);
  EXPECT_EQ(Open("/private/file", O_RDONLY, &u).error(), Errno::kEACCES);
  EXPECT_TRUE(Open("/etc/shadow", O_RDONLY).ok());  // root reads anything
}

TEST(CheckPermission, OwnerGroupOtherBitsAndRootExecRule) {
  struct stat st {};
  st.st_mode = S_IFREG | 0640;
  st.st_uid = 1000;
  st.st_gid = 50;
  auto c = sentry::kernel::Credentials::ForUser(1000, 1000);
  EXPECT_TRUE(CheckPermission(c, st, kMayRead | kMayWrite).ok());
  EXPECT_EQ(CheckPermission(c, st, kMayExec).error(), Errno::kEACCES);
  c.fsuid = 2000;
  EXPECT_EQ(CheckPermission(c, st, kMayRead).error(), Errno::kEACCES);
  c.groups = {50};  // supplementary group
  EXPECT_TRUE(CheckPermission(c, st, kMayRead).ok());
  EXPECT_EQ(CheckPermission(c, st, kMayWrite).error(), Errno::kEACCES);
  // CAP_DAC_OVERRIDE (root's, or anyone's who holds it): anything but
  // exec without any x bit.
  c.cap_effective = sentry::kernel::kAllCaps;
  EXPECT_TRUE(CheckPermission(c, st, kMayRead | kMayWrite).ok());
  EXPECT_EQ(CheckPermission(c, st, kMayExec).error(), Errno::kEACCES);
  st.st_mode = S_IFREG | 0001;
  EXPECT_TRUE(CheckPermission(c, st, kMayExec).ok());
  st.st_mode = S_IFDIR | 0000;
  EXPECT_TRUE(CheckPermission(c, st, kMayExec).ok());
}

TEST_F(VfsTest, OpenForExecGivesTheFileAndItsPath) {
  auto r = vfs_->OpenForExec(*fsctx_, "/bin/sh", root_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().second, "/bin/sh");
  uint8_t buf[16];
  auto n = r.value().first->ReadAt(buf, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), n.value()), "\x7f" "ELF-sh");
  EXPECT_EQ(r.value().first->MapsName(), "/bin/sh");
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/dirlink/sh", root_).value().second, "/bin/sh");
}

TEST_F(VfsTest, OpenForExecErrors) {
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/bin/missing", root_).error(), Errno::kENOENT);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/bin", root_).error(), Errno::kEACCES);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/bin/noexec", root_).error(), Errno::kEACCES);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/bin/rootonly", user_).error(), Errno::kEACCES);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/loop1", root_).error(), Errno::kELOOP);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/etc/passwd/", root_).error(), Errno::kENOTDIR);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "", root_).error(), Errno::kENOENT);
  EXPECT_EQ(vfs_->OpenForExec(*fsctx_, "/dev/null", root_).error(), Errno::kEACCES);
}

TEST_F(VfsTest, LookPathSearchesLikeExecvp) {
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "sh", "/usr/bin:/bin").value(), "/bin/sh");
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "./x/y", "/bin").value(), "./x/y");
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "nope", "/usr/bin:/bin").error(), Errno::kENOENT);
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "noexec", "/bin").error(), Errno::kEACCES);
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "", "/bin").error(), Errno::kENOENT);
  fsctx_->SetCwd(Resolve("/bin").value());
  EXPECT_EQ(vfs_->LookPath(*fsctx_, "sh", "/usr/bin::").value(), "./sh");
}

TEST_F(VfsTest, NewFsContextRejectsNonDirectories) {
  EXPECT_EQ(vfs_->NewFsContext("/etc/passwd").error(), Errno::kENOTDIR);
  EXPECT_EQ(vfs_->NewFsContext("/nope").error(), Errno::kENOENT);
  auto c = vfs_->NewFsContext("/home/user");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Vfs::PathString(c.value()->root(), c.value()->cwd()), "/home/user");
  EXPECT_EQ(c.value()->umask(), 022u);
}

}  // namespace
}  // namespace fs::testing
