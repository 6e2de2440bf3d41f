// The overlay over a tmpfs lower layer (inspectable, unlike the host) and,
// through the Vfs, over the fake gofer: copy-up, whiteouts, opaque
// directories, merged readdir, rename, stable inode numbers.
#include "fs/overlay.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "fs/synthetic.h"
#include "sentry/kernel/task.h"
#include "tests/unit/fs/vfs_fixture.h"

namespace fs {
namespace {

std::vector<std::string> Names(std::vector<DirEntry> v) {
  std::vector<std::string> out;
  for (auto& e : v) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(Inode& i, const Caller& c) {
  auto f = i.Open(c, Path{}, O_RDONLY);
  EXPECT_TRUE(f.ok());
  std::vector<uint8_t> buf(4096);
  const size_t n = f.value()->PRead(buf, 0).value();
  return std::string(buf.begin(), buf.begin() + n);
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lower_ = Tmpfs::NewRoot(0755);
    auto etc = lower_->Mkdir(C(), "etc", 0755).value();
    auto passwd = std::static_pointer_cast<TmpfsInode>(etc->Create(C(), "passwd", 0644).value());
    uint64_t end;
    const std::string d = "root:x:0:0";
    ASSERT_TRUE(passwd->WriteAt({reinterpret_cast<const uint8_t*>(d.data()), d.size()}, 0, false, &end).ok());
    ASSERT_TRUE(etc->Create(C(), "hosts", 0644).ok());
    auto sub = etc->Mkdir(C(), "sub", 0755).value();
    ASSERT_TRUE(sub->Create(C(), "deep", 0644).ok());
    upper_ = Tmpfs::NewRoot();
    root_ = NewOverlayRoot(lower_, upper_).value();
  }
  Caller C() { return Caller{&creds_}; }
  std::shared_ptr<Inode> Get(std::shared_ptr<Inode> dir, std::string_view name) {
    auto r = dir->Lookup(C(), name);
    EXPECT_TRUE(r.ok()) << name;
    return r.ok() ? r.value() : nullptr;
  }
  std::shared_ptr<Inode> LowerEtc() { return lower_->Lookup(C(), "etc").value(); }

  sentry::kernel::Credentials creds_;
  std::shared_ptr<TmpfsInode> lower_, upper_;
  std::shared_ptr<Inode> root_;
};

TEST_F(OverlayTest, WriteCopiesUpAndLeavesLowerUntouched) {
  auto etc = Get(root_, "etc");
  auto passwd = Get(etc, "passwd");
  const ino_t ino = passwd->Stat(C()).value().st_ino;
  auto f = passwd->Open(C(), Path{}, O_WRONLY);
  ASSERT_TRUE(f.ok());
  const uint8_t b[] = {'R'};
  ASSERT_EQ(f.value()->PWrite(b, 0).value(), 1u);
  EXPECT_EQ(ReadFile(*passwd, C()), "Root:x:0:0");
  EXPECT_EQ(ReadFile(*Get(LowerEtc(), "passwd"), C()), "root:x:0:0");
  // The parent directory was copied up too; the inode number is stable.
  EXPECT_TRUE(upper_->Lookup(C(), "etc").ok());
  EXPECT_EQ(passwd->Stat(C()).value().st_ino, ino);
}

TEST_F(OverlayTest, ChmodCopiesUpMetadataOnly) {
  auto passwd = Get(Get(root_, "etc"), "passwd");
  SetAttrRequest r;
  r.mode = 0600;
  ASSERT_TRUE(passwd->SetAttr(C(), r).ok());
  EXPECT_EQ(passwd->Stat(C()).value().st_mode & 07777, 0600u);
  EXPECT_EQ(Get(LowerEtc(), "passwd")->Stat(C()).value().st_mode & 07777, 0644u);
  EXPECT_EQ(ReadFile(*passwd, C()), "root:x:0:0");
}

TEST_F(OverlayTest, UnlinkLeavesWhiteoutThatHidesLower) {
  auto etc = Get(root_, "etc");
  ASSERT_TRUE(etc->Unlink(C(), "hosts").ok());
  EXPECT_EQ(etc->Lookup(C(), "hosts").error(), Errno::kENOENT);
  EXPECT_EQ(Names(etc->ReadDir(C()).value()), (std::vector<std::string>{"passwd", "sub"}));
  EXPECT_TRUE(Get(LowerEtc(), "hosts") != nullptr);
  // The whiteout is a 0:0 character device in the upper directory.
  auto wh = upper_->Lookup(C(), "etc").value()->Lookup(C(), "hosts").value();
  EXPECT_TRUE(S_ISCHR(wh->mode()));
  // Creating the name again replaces the whiteout.
  ASSERT_TRUE(etc->Create(C(), "hosts", 0600).ok());
  EXPECT_EQ(ReadFile(*Get(etc, "hosts"), C()), "");
}

TEST_F(OverlayTest, DirectoryRecreatedOverWhiteoutIsOpaque) {
  auto etc = Get(root_, "etc");
  EXPECT_EQ(etc->Rmdir(C(), "sub").error(), Errno::kENOTEMPTY);
  ASSERT_TRUE(Get(etc, "sub")->Unlink(C(), "deep").ok());
  ASSERT_TRUE(etc->Rmdir(C(), "sub").ok());
  EXPECT_EQ(etc->Lookup(C(), "sub").error(), Errno::kENOENT);
  auto sub = etc->Mkdir(C(), "sub", 0755).value();
  EXPECT_EQ(sub->Lookup(C(), "deep").error(), Errno::kENOENT);
  EXPECT_TRUE(sub->ReadDir(C()).value().empty());
}

TEST_F(OverlayTest, MergedReaddirUnionsLayers) {
  auto etc = Get(root_, "etc");
  ASSERT_TRUE(etc->Create(C(), "new", 0644).ok());
  EXPECT_EQ(Names(etc->ReadDir(C()).value()), (std::vector<std::string>{"hosts", "new", "passwd", "sub"}));
  EXPECT_EQ(Names(root_->ReadDir(C()).value()), (std::vector<std::string>{"etc"}));
}

TEST_F(OverlayTest, RenameFileLeavesWhiteoutAndKeepsInode) {
  auto etc = Get(root_, "etc");
  const ino_t ino = Get(etc, "passwd")->Stat(C()).value().st_ino;
  ASSERT_TRUE(etc->Rename(C(), "passwd", *root_, "moved", 0).ok());
  EXPECT_EQ(etc->Lookup(C(), "passwd").error(), Errno::kENOENT);
  auto moved = Get(root_, "moved");
  EXPECT_EQ(ReadFile(*moved, C()), "root:x:0:0");
  EXPECT_EQ(moved->Stat(C()).value().st_ino, ino);
}

TEST_F(OverlayTest, RenameOfLowerDirectoryIsExdev) {
  EXPECT_EQ(root_->Rename(C(), "etc", *root_, "etc2", 0).error(), Errno::kEXDEV);
  auto d = root_->Mkdir(C(), "mine", 0755).value();
  ASSERT_TRUE(root_->Rename(C(), "mine", *root_, "mine2", 0).ok());
  EXPECT_TRUE(Get(root_, "mine2") != nullptr);
}

TEST_F(OverlayTest, HardLinkAfterCopyUpSharesInode) {
  auto etc = Get(root_, "etc");
  auto passwd = Get(etc, "passwd");
  ASSERT_TRUE(etc->Link(C(), "pw2", passwd).ok());
  auto pw2 = Get(etc, "pw2");
  EXPECT_EQ(pw2->Stat(C()).value().st_ino, passwd->Stat(C()).value().st_ino);
  EXPECT_EQ(pw2->Stat(C()).value().st_nlink, 2u);
}

TEST_F(OverlayTest, PrivateXattrsAreHidden) {
  auto passwd = Get(Get(root_, "etc"), "passwd");
  ASSERT_TRUE(passwd->SetXattr(C(), "user.a", "1", 0).ok());
  EXPECT_EQ(passwd->ListXattr(C()).value(), std::vector<std::string>{"user.a"});
  EXPECT_EQ(passwd->GetXattr(C(), "trusted.overlay.origin").error(), Errno::kENODATA);
  EXPECT_EQ(passwd->SetXattr(C(), "trusted.overlay.opaque", "y", 0).error(), Errno::kEPERM);
}

// Through the Vfs over the (read-only) fake gofer.
class OverlayVfsTest : public testing::VfsTest {
 protected:
  bool UseOverlay() const override { return true; }
};

TEST_F(OverlayVfsTest, RootIsWritableAndGoferIsNeverWritten) {
  Caller c = RootCaller();
  auto f = Open("/etc/passwd", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(f.ok()) << static_cast<int>(f.error());
  const uint8_t b[] = {'z'};
  ASSERT_EQ(f.value()->Write(b).value(), 1u);
  auto r = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ReadAll(*r.value()), "z");
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/etc/newdir", 0755).ok());
  EXPECT_EQ(vfs_->Mkdir(c, AT_FDCWD, "/etc/newdir", 0755).error(), Errno::kEEXIST);
  ASSERT_TRUE(vfs_->Unlink(c, AT_FDCWD, "/etc/shadow").ok());
  EXPECT_EQ(Resolve("/etc/shadow").error(), Errno::kENOENT);
  EXPECT_EQ(vfs_->Rmdir(c, AT_FDCWD, "/etc").error(), Errno::kENOTEMPTY);
  EXPECT_EQ(vfs_->Rename(c, AT_FDCWD, "/bin", AT_FDCWD, "/bin2", 0).error(), Errno::kEXDEV);
}

TEST_F(OverlayVfsTest, TmpIsASeparateTmpfsMount) {
  Caller c = RootCaller();
  ASSERT_TRUE(vfs_->Mkdir(c, AT_FDCWD, "/tmp/d", 0777).ok());
  auto st = vfs_->Stat(c, Resolve("/tmp/d").value());
  EXPECT_EQ(st.value().st_mode & 07777, 0755u);  // umask 022
  EXPECT_EQ(vfs_->Rename(c, AT_FDCWD, "/tmp/d", AT_FDCWD, "/d", 0).error(), Errno::kEXDEV);
  EXPECT_EQ(vfs_->Rmdir(c, AT_FDCWD, "/tmp").error(), Errno::kEBUSY);
  auto fs = vfs_->Statfs(c, AttrTarget::Of(Resolve("/tmp").value()));
  EXPECT_EQ(fs.value().f_type, 0x01021994);  // TMPFS_MAGIC
  EXPECT_TRUE(Resolve("/dev/shm").ok());
}

TEST_F(OverlayVfsTest, StickyTmpStopsOthersFromDeleting) {
  Caller root = RootCaller();
  ASSERT_TRUE(vfs_->Open(root, *fsctx_, fsctx_->cwd(), "/tmp/rootfile", O_CREAT | O_WRONLY, 0666).ok());
  Caller u = UserCaller();
  EXPECT_EQ(vfs_->Unlink(u, AT_FDCWD, "/tmp/rootfile").error(), Errno::kEPERM);
  ASSERT_TRUE(vfs_->Open(u, *fsctx_, fsctx_->cwd(), "/tmp/userfile", O_CREAT | O_WRONLY, 0666).ok());
  EXPECT_TRUE(vfs_->Unlink(u, AT_FDCWD, "/tmp/userfile").ok());
  EXPECT_EQ(vfs_->Mkdir(u, AT_FDCWD, "/etc/x", 0755).error(), Errno::kEACCES);
}

}  // namespace
}  // namespace fs
