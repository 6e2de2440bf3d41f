// tmpfs inodes directly: data, holes, links, rename, timestamps, xattrs.
#include "fs/tmpfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>

#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

class TmpfsTest : public ::testing::Test {
 protected:
  Caller C() { return Caller{&creds_}; }
  std::shared_ptr<TmpfsInode> File(std::string_view name) {
    auto r = root_->Create(C(), name, 0644);
    EXPECT_TRUE(r.ok());
    return std::static_pointer_cast<TmpfsInode>(r.value());
  }
  struct stat St(Inode& i) { return i.Stat(C()).value(); }

  sentry::kernel::Credentials creds_;
  std::shared_ptr<TmpfsInode> root_ = Tmpfs::NewRoot(01777);
};

TEST_F(TmpfsTest, WriteThenReadBackAndHolesReadAsZeros) {
  auto f = File("a");
  uint64_t end;
  const std::string data = "hello";
  ASSERT_TRUE(f->WriteAt({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, 10000, false, &end).ok());
  EXPECT_EQ(end, 10005u);
  EXPECT_EQ(f->size(), 10005u);
  std::vector<uint8_t> buf(10005, 0xff);
  ASSERT_EQ(f->ReadAt(buf, 0).value(), 10005u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(std::string(buf.begin() + 10000, buf.end()), "hello");
  // One page allocated: 8 blocks of 512 bytes.
  EXPECT_EQ(St(*f).st_blocks, 8);
  EXPECT_EQ(f->SeekDataHole(0, SEEK_DATA).value(), 8192u);
  EXPECT_EQ(f->SeekDataHole(0, SEEK_HOLE).value(), 0u);
  EXPECT_EQ(f->SeekDataHole(8192, SEEK_HOLE).value(), 10005u);
  EXPECT_EQ(f->SeekDataHole(10005, SEEK_DATA).error(), Errno::kENXIO);
}

TEST_F(TmpfsTest, AppendWritesAtEndAtomically) {
  auto f = File("a");
  uint64_t end;
  const uint8_t one[] = {'1', '2', '3'};
  ASSERT_TRUE(f->WriteAt(one, 0, false, &end).ok());
  ASSERT_TRUE(f->WriteAt(one, 0, true, &end).ok());
  EXPECT_EQ(end, 6u);
  EXPECT_EQ(f->size(), 6u);
}

TEST_F(TmpfsTest, TruncateShrinkThenGrowReadsZeros) {
  auto f = File("a");
  uint64_t end;
  const std::string data(100, 'x');
  ASSERT_TRUE(f->WriteAt({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, 0, false, &end).ok());
  SetAttrRequest r;
  r.size = 10;
  ASSERT_TRUE(f->SetAttr(C(), r).ok());
  r.size = 100;
  ASSERT_TRUE(f->SetAttr(C(), r).ok());
  std::vector<uint8_t> buf(100);
  ASSERT_EQ(f->ReadAt(buf, 0).value(), 100u);
  EXPECT_EQ(buf[9], 'x');
  EXPECT_EQ(buf[10], 0);
}

TEST_F(TmpfsTest, PunchHoleZerosRangeKeepsSize) {
  auto f = File("a");
  uint64_t end;
  const std::string data(3 * 4096, 'x');
  ASSERT_TRUE(f->WriteAt({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, 0, false, &end).ok());
  ASSERT_TRUE(f->Allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096).ok());
  EXPECT_EQ(f->size(), 3u * 4096);
  EXPECT_EQ(f->SeekDataHole(0, SEEK_HOLE).value(), 4096u);
  std::vector<uint8_t> buf(1);
  ASSERT_EQ(f->ReadAt(buf, 5000).value(), 1u);
  EXPECT_EQ(buf[0], 0);
  ASSERT_TRUE(f->Allocate(FALLOC_FL_KEEP_SIZE, 0, 1 << 20).ok());
  EXPECT_EQ(f->size(), 3u * 4096);
  ASSERT_TRUE(f->Allocate(0, 0, 1 << 20).ok());
  EXPECT_EQ(f->size(), 1u << 20);
}

TEST_F(TmpfsTest, HardLinksCountAndSurviveUnlink) {
  auto f = File("a");
  ASSERT_TRUE(root_->Link(C(), "b", f).ok());
  EXPECT_EQ(St(*f).st_nlink, 2u);
  EXPECT_EQ(root_->Link(C(), "b", f).error(), Errno::kEEXIST);
  ASSERT_TRUE(root_->Unlink(C(), "a").ok());
  EXPECT_EQ(St(*f).st_nlink, 1u);
  EXPECT_EQ(root_->Lookup(C(), "b").value(), f);
  EXPECT_EQ(root_->Lookup(C(), "a").error(), Errno::kENOENT);
}

TEST_F(TmpfsTest, DirectoryLinkCountsFollowSubdirectories) {
  EXPECT_EQ(St(*root_).st_nlink, 2u);
  auto d = root_->Mkdir(C(), "d", 0755).value();
  EXPECT_EQ(St(*root_).st_nlink, 3u);
  EXPECT_EQ(St(*d).st_nlink, 2u);
  ASSERT_TRUE(d->Mkdir(C(), "e", 0755).ok());
  EXPECT_EQ(root_->Rmdir(C(), "d").error(), Errno::kENOTEMPTY);
  EXPECT_EQ(root_->Unlink(C(), "d").error(), Errno::kEISDIR);
  ASSERT_TRUE(d->Rmdir(C(), "e").ok());
  ASSERT_TRUE(root_->Rmdir(C(), "d").ok());
  EXPECT_EQ(St(*root_).st_nlink, 2u);
  // A removed directory accepts no new entries.
  EXPECT_EQ(d->Create(C(), "x", 0644).error(), Errno::kENOENT);
}

TEST_F(TmpfsTest, RenameFollowsLinuxTypeRules) {
  auto a = File("a");
  File("b");
  auto d = root_->Mkdir(C(), "d", 0755).value();
  auto e = root_->Mkdir(C(), "e", 0755).value();
  EXPECT_EQ(root_->Rename(C(), "a", *root_, "d", 0).error(), Errno::kEISDIR);
  EXPECT_EQ(root_->Rename(C(), "d", *root_, "a", 0).error(), Errno::kENOTDIR);
  EXPECT_EQ(root_->Rename(C(), "a", *root_, "b", kRenameNoreplace).error(), Errno::kEEXIST);
  ASSERT_TRUE(e->Create(C(), "x", 0644).ok());
  EXPECT_EQ(root_->Rename(C(), "d", *root_, "e", 0).error(), Errno::kENOTEMPTY);
  ASSERT_TRUE(root_->Rename(C(), "a", *root_, "b", 0).ok());
  EXPECT_EQ(root_->Lookup(C(), "b").value(), a);
  ASSERT_TRUE(root_->Rename(C(), "d", *e, "d2", 0).ok());
  EXPECT_EQ(St(*root_).st_nlink, 3u);
  EXPECT_EQ(St(*e).st_nlink, 3u);
  ASSERT_TRUE(root_->Rename(C(), "b", *e, "x", kRenameExchange).ok());
  EXPECT_EQ(e->Lookup(C(), "x").value(), a);
  EXPECT_EQ(root_->Rename(C(), "zz", *root_, "b", kRenameExchange).error(), Errno::kENOENT);
}

TEST_F(TmpfsTest, WritesUpdateMtimeAndCtime) {
  auto f = File("a");
  SetAttrRequest r;
  r.atime = timespec{100, 0};
  r.mtime = timespec{200, 0};
  ASSERT_TRUE(f->SetAttr(C(), r).ok());
  EXPECT_EQ(St(*f).st_atim.tv_sec, 100);
  EXPECT_EQ(St(*f).st_mtim.tv_sec, 200);
  uint64_t end;
  const uint8_t b[] = {1};
  ASSERT_TRUE(f->WriteAt(b, 0, false, &end).ok());
  EXPECT_GT(St(*f).st_mtim.tv_sec, 200);
  EXPECT_EQ(St(*f).st_atim.tv_sec, 100);
}

TEST_F(TmpfsTest, XattrsCreateReplaceRemove) {
  auto f = File("a");
  EXPECT_EQ(f->GetXattr(C(), "user.k").error(), Errno::kENODATA);
  EXPECT_EQ(f->SetXattr(C(), "user.k", "v", kXattrReplace).error(), Errno::kENODATA);
  ASSERT_TRUE(f->SetXattr(C(), "user.k", "v", kXattrCreate).ok());
  EXPECT_EQ(f->SetXattr(C(), "user.k", "w", kXattrCreate).error(), Errno::kEEXIST);
  EXPECT_EQ(f->GetXattr(C(), "user.k").value(), "v");
  EXPECT_EQ(f->ListXattr(C()).value(), std::vector<std::string>{"user.k"});
  ASSERT_TRUE(f->RemoveXattr(C(), "user.k").ok());
  EXPECT_EQ(f->RemoveXattr(C(), "user.k").error(), Errno::kENODATA);
}

TEST_F(TmpfsTest, MemfdHasNoPathAndIsWritable) {
  auto f = NewMemfd(C(), "buf", O_RDWR);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value()->Path(), "/memfd:buf (deleted)");
  EXPECT_EQ(f.value()->location(), nullptr);
  const uint8_t b[] = {'a', 'b'};
  EXPECT_EQ(f.value()->Write(b).value(), 2u);
  EXPECT_EQ(f.value()->Stat().value().st_size, 2);
  EXPECT_EQ(f.value()->Stat().value().st_nlink, 0u);
}

}  // namespace
}  // namespace fs
