// Writable mounts: the SetAttr, Link and xattr messages (round trips, EROFS
// on a read-only mount, malformed encodings) and escape attempts through the
// mutating messages (issue #4, #8).
#include <dirent.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

#include "gofer_test_util.h"

namespace gofer {
namespace {

namespace p = protocol;
using testing::ReadAll;
using testing::ServerThread;
using testing::TempTree;

class GoferWriteTest : public ::testing::Test {
 protected:
  void Start(bool read_only) {
    server_ = std::make_unique<ServerThread>(tree_.root(), read_only);
    auto c = Client::Connect(server_->TakeClientSock());
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
  }
  void TearDown() override {
    client_.reset();
    if (server_) {
      EXPECT_EQ(server_->Join(), kServeOk);
    }
  }
  Handle WalkTo(std::vector<std::string> names) {
    auto steps = client_->Walk(client_->root(), names);
    EXPECT_TRUE(steps.ok());
    if (!steps.ok()) return 0;
    EXPECT_EQ(steps.value().size(), names.size());
    return steps.value().back().handle;
  }
  std::string Host(const std::string& rel) const { return tree_.root() + "/" + rel; }
  std::string Outside(const std::string& rel) const { return tree_.outside() + "/" + rel; }
  // Every name in outside/ (the escape tests check it never changes).
  std::vector<std::string> OutsideNames() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(tree_.outside().c_str());
    while (struct dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(GoferWriteTest, SetAttrChangesModeOwnerSizeAndTimes) {
  Start(false);
  const Handle f = WalkTo({"file.txt"});
  SetAttrSpec s;
  s.mode = 0600;
  s.size = 5;
  s.mtime = timespec{1000000000, 123};
  s.atime = timespec{999, 0};
  s.uid = 1234;
  s.gid = 5678;
  auto a = client_->SetAttr(f, s);
  ASSERT_TRUE(a.ok()) << base::ErrnoName(a.error());
  EXPECT_EQ(a.value().mode & 07777, 0600u);
  EXPECT_EQ(a.value().size, 5u);
  struct stat st {};
  ASSERT_EQ(::stat(Host("file.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123);
  EXPECT_EQ(st.st_atim.tv_sec, 999);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
  }
  base::UniqueFd check(::open(Host("file.txt").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(check.get()), "hello");
}

TEST_F(GoferWriteTest, SetAttrOnDirectoryAndSymlink) {
  Start(false);
  SetAttrSpec mode;
  mode.mode = 0700;
  ASSERT_TRUE(client_->SetAttr(WalkTo({"dir"}), mode).ok());
  struct stat st {};
  ASSERT_EQ(::stat(Host("dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  SetAttrSpec size;
  size.size = 0;
  auto dir_trunc = client_->SetAttr(WalkTo({"dir"}), size);
  ASSERT_FALSE(dir_trunc.ok());
  EXPECT_EQ(dir_trunc.error(), Errno::kEISDIR);
  // chmod of a symlink is EOPNOTSUPP and must not reach what it points at.
  struct stat before {};
  ASSERT_EQ(::stat(tree_.outside().c_str(), &before), 0);
  auto link_chmod = client_->SetAttr(WalkTo({"link_abs"}), mode);
  ASSERT_FALSE(link_chmod.ok());
  EXPECT_EQ(link_chmod.error(), Errno::kEOPNOTSUPP);
  ASSERT_EQ(::stat(tree_.outside().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, before.st_mode);
}

TEST_F(GoferWriteTest, LinkMakesASecondNameForTheHeldInode) {
  Start(false);
  const Handle f = WalkTo({"file.txt"});
  auto a = client_->Link(WalkTo({"dir"}), "hard", f);
  ASSERT_TRUE(a.ok()) << base::ErrnoName(a.error());
  EXPECT_EQ(a.value().nlink, 2u);
  struct stat s1 {}, s2 {};
  ASSERT_EQ(::stat(Host("file.txt").c_str(), &s1), 0);
  ASSERT_EQ(::stat(Host("dir/hard").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_ino, s2.st_ino);
  auto dir_link = client_->Link(client_->root(), "d2", WalkTo({"dir"}));
  ASSERT_FALSE(dir_link.ok());
  EXPECT_EQ(dir_link.error(), Errno::kEPERM);
  auto exists = client_->Link(client_->root(), "file.txt", f);
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.error(), Errno::kEEXIST);
}

TEST_F(GoferWriteTest, XattrsRoundTripInTheUserNamespaceOnly) {
  Start(false);
  const Handle f = WalkTo({"file.txt"});
  const std::string value("v\0with nul", 10);
  auto set = client_->SetXattr(f, "user.test", value, 0);
  if (!set.ok() && set.error() == Errno::kEOPNOTSUPP) GTEST_SKIP() << "host filesystem has no user xattrs";
  ASSERT_TRUE(set.ok()) << base::ErrnoName(set.error());
  auto got = client_->GetXattr(f, "user.test");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), value);
  char host[32];
  ASSERT_EQ(::getxattr(Host("file.txt").c_str(), "user.test", host, sizeof(host)), 10);
  auto names = client_->ListXattr(f);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names.value(), std::vector<std::string>{"user.test"});
  auto create = client_->SetXattr(f, "user.test", "x", XATTR_CREATE);
  ASSERT_FALSE(create.ok());
  EXPECT_EQ(create.error(), Errno::kEEXIST);
  // Namespaces with host meaning are refused (security.capability would
  // give a host binary file capabilities).
  for (const char* name : {"security.capability", "trusted.x", "system.posix_acl_access"}) {
    auto s = client_->SetXattr(f, name, "x", 0);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.error(), Errno::kEOPNOTSUPP) << name;
  }
  ASSERT_TRUE(client_->RemoveXattr(f, "user.test").ok());
  auto gone = client_->GetXattr(f, "user.test");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error(), Errno::kENODATA);
  // Symlinks have no user xattrs (Linux: EPERM).
  auto on_link = client_->SetXattr(WalkTo({"link_abs"}), "user.x", "1", 0);
  ASSERT_FALSE(on_link.ok());
  EXPECT_EQ(on_link.error(), Errno::kEPERM);
}

TEST_F(GoferWriteTest, ReadOnlyMountRefusesNewMutationsWithErofs) {
  Start(true);
  const Handle f = WalkTo({"file.txt"});
  SetAttrSpec s;
  s.mode = 0777;
  auto sa = client_->SetAttr(f, s);
  ASSERT_FALSE(sa.ok());
  EXPECT_EQ(sa.error(), Errno::kEROFS);
  auto ln = client_->Link(client_->root(), "x", f);
  ASSERT_FALSE(ln.ok());
  EXPECT_EQ(ln.error(), Errno::kEROFS);
  auto sx = client_->SetXattr(f, "user.x", "1", 0);
  ASSERT_FALSE(sx.ok());
  EXPECT_EQ(sx.error(), Errno::kEROFS);
  auto rx = client_->RemoveXattr(f, "user.x");
  ASSERT_FALSE(rx.ok());
  EXPECT_EQ(rx.error(), Errno::kEROFS);
  struct stat st {};
  ASSERT_EQ(::stat(Host("file.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_NE(::access(Host("x").c_str(), F_OK), 0);
  // Reads still work.
  EXPECT_TRUE(client_->ListXattr(f).ok());
}

// ---- Escapes: writes never land outside the root.

TEST_F(GoferWriteTest, MutationsWithDotDotOrSlashNamesNeverReachTheHost) {
  Start(false);
  const Handle root = client_->root();
  const Handle f = WalkTo({"file.txt"});
  const auto before = OutsideNames();
  for (const std::string& bad : std::vector<std::string>{"..", ".", "../outside/x", "/tmp/x", "a/b"}) {
    EXPECT_FALSE(client_->Create(root, bad, O_RDWR, 0644, 0, 0).ok()) << bad;
    EXPECT_FALSE(client_->Mkdir(root, bad, 0755, 0, 0).ok()) << bad;
    EXPECT_FALSE(client_->Symlink(root, bad, "x", 0, 0).ok()) << bad;
    EXPECT_FALSE(client_->Link(root, bad, f).ok()) << bad;
    EXPECT_FALSE(client_->Unlink(root, bad, 0).ok()) << bad;
    EXPECT_FALSE(client_->Rename(root, "file.txt", root, bad).ok()) << bad;
    EXPECT_FALSE(client_->Rename(root, bad, root, "y").ok()) << bad;
  }
  EXPECT_EQ(OutsideNames(), before);
  EXPECT_EQ(::access(Host("file.txt").c_str(), F_OK), 0);
}

TEST_F(GoferWriteTest, RawDotDotNamesAreMalformed) {
  // The client refuses bad names itself; a hostile sentry sends them raw.
  struct Req {
    std::vector<uint8_t> bytes;
  };
  std::vector<Req> reqs;
  {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kLink);
    p::Encode(w, p::LinkReq{1, "..", 1});
    reqs.push_back({{w.bytes().begin(), w.bytes().end()}});
  }
  {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kRename);
    p::Encode(w, p::RenameReq{1, "file.txt", 1, "../escaped"});
    reqs.push_back({{w.bytes().begin(), w.bytes().end()}});
  }
  {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kUnlink);
    p::Encode(w, p::UnlinkReq{1, "..", AT_REMOVEDIR});
    reqs.push_back({{w.bytes().begin(), w.bytes().end()}});
  }
  for (const Req& r : reqs) {
    ServerThread server(tree_.root(), /*read_only=*/false);
    base::UniqueFd sock = server.TakeClientSock();
    testing::RawHandshake(sock.get());
    testing::SendRaw(sock.get(), r.bytes);
    EXPECT_TRUE(testing::RecvRaw(sock.get()).empty());  // dropped, no answer
    EXPECT_EQ(server.Join(), kServeProtocolError);
  }
  EXPECT_EQ(::access(Host("file.txt").c_str(), F_OK), 0);
  EXPECT_NE(::access((tree_.root() + "/../escaped").c_str(), F_OK), 0);
}

TEST_F(GoferWriteTest, WritesThroughAnAbsoluteSymlinkStayInside) {
  Start(false);
  const auto before = OutsideNames();
  // link_abs -> outside/. Creating, linking, renaming *at* that name acts
  // on the link itself (or fails), never on its target.
  const Handle root = client_->root();
  auto cr = client_->Create(root, "link_abs", O_RDWR, 0644, 0, 0);
  ASSERT_FALSE(cr.ok());
  EXPECT_EQ(cr.error(), Errno::kEEXIST);
  auto mk = client_->Mkdir(root, "link_abs", 0755, 0, 0);
  ASSERT_FALSE(mk.ok());
  EXPECT_EQ(mk.error(), Errno::kEEXIST);
  // Mkdir *under* the symlink: the walk stops at the symlink, so there is
  // no directory handle for outside/ to create in.
  auto steps = client_->Walk(root, std::vector<std::string>{"link_abs", "secret"});
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps.value().size(), 1u);
  auto under = client_->Mkdir(steps.value()[0].handle, "evil", 0755, 0, 0);
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.error(), Errno::kENOTDIR);
  // Renaming a file over the symlink replaces the link, not outside/.
  ASSERT_TRUE(client_->Rename(root, "file.txt", root, "link_abs").ok());
  struct stat st {};
  ASSERT_EQ(::lstat(Host("link_abs").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Unlinking the symlink removes the link only.
  ASSERT_TRUE(client_->Symlink(root, "l2", tree_.outside() + "/secret", 0, 0).ok());
  ASSERT_TRUE(client_->Unlink(root, "l2", 0).ok());
  EXPECT_EQ(::access(Outside("secret").c_str(), F_OK), 0);
  // SetAttr/xattrs on a symlink handle never reach the target.
  SetAttrSpec sz;
  sz.size = 0;
  auto tr = client_->SetAttr(WalkTo({"link_rel"}), sz);
  ASSERT_FALSE(tr.ok());
  EXPECT_EQ(tr.error(), Errno::kEINVAL);
  EXPECT_EQ(OutsideNames(), before);
  base::UniqueFd secret(::open(Outside("secret").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(secret.get()), "OUTSIDE");
}

TEST_F(GoferWriteTest, DirectorySwappedForSymlinkAfterWalkDoesNotRedirectWrites) {
  Start(false);
  // Walk to dir/ and hold its handle; then a host process moves the real
  // directory away and puts a symlink to outside/ at its name. Creating in
  // the held handle writes into the real (moved) directory, never outside/.
  const Handle dir = WalkTo({"dir"});
  ASSERT_EQ(::rename(Host("dir").c_str(), Host("moved").c_str()), 0);
  ASSERT_EQ(::symlink(tree_.outside().c_str(), Host("dir").c_str()), 0);
  const auto before = OutsideNames();
  auto cr = client_->Create(dir, "new.txt", O_RDWR, 0644, 0, 0);
  ASSERT_TRUE(cr.ok());
  ASSERT_EQ(::write(cr.value().second.get(), "in", 2), 2);
  ASSERT_TRUE(client_->Mkdir(dir, "newdir", 0755, 0, 0).ok());
  ASSERT_TRUE(client_->Symlink(dir, "newlink", "x", 0, 0).ok());
  ASSERT_TRUE(client_->Link(dir, "hard", WalkTo({"file.txt"})).ok());
  ASSERT_TRUE(client_->Rename(dir, "new.txt", dir, "renamed.txt").ok());
  EXPECT_EQ(OutsideNames(), before);
  EXPECT_EQ(::access(Host("moved/renamed.txt").c_str(), F_OK), 0);
  EXPECT_EQ(::access(Host("moved/newdir").c_str(), F_OK), 0);
  EXPECT_EQ(::access(Host("moved/hard").c_str(), F_OK), 0);
  // A fresh walk through the swapped name stops at the symlink.
  auto steps = client_->Walk(client_->root(), std::vector<std::string>{"dir", "secret"});
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps.value().size(), 1u);
  EXPECT_TRUE(S_ISLNK(steps.value()[0].attr.mode));
}

TEST_F(GoferWriteTest, FileSwappedForSymlinkAfterWalkKeepsSetAttrOnTheWalkedInode) {
  Start(false);
  const Handle f = WalkTo({"file.txt"});
  ASSERT_EQ(::rename(Host("file.txt").c_str(), Host("old.txt").c_str()), 0);
  ASSERT_EQ(::symlink(Outside("secret").c_str(), Host("file.txt").c_str()), 0);
  struct stat before {};
  ASSERT_EQ(::stat(Outside("secret").c_str(), &before), 0);
  SetAttrSpec s;
  s.mode = 0777;
  s.size = 1;
  ASSERT_TRUE(client_->SetAttr(f, s).ok());
  (void)client_->SetXattr(f, "user.k", "v", 0);  // whatever the host allows, on old.txt
  struct stat after {};
  ASSERT_EQ(::stat(Outside("secret").c_str(), &after), 0);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(::stat(Host("old.txt").c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 07777, 0777u);
  EXPECT_EQ(after.st_size, 1);
  // Link of the held handle names the walked inode, not the symlink's target.
  ASSERT_TRUE(client_->Link(client_->root(), "again", f).ok());
  struct stat a {}, o {};
  ASSERT_EQ(::lstat(Host("again").c_str(), &a), 0);
  ASSERT_EQ(::stat(Host("old.txt").c_str(), &o), 0);
  EXPECT_EQ(a.st_ino, o.st_ino);
}

// ---- Malformed encodings of the new messages drop the connection.

TEST_F(GoferWriteTest, MalformedNewMessagesDropTheConnection) {
  std::vector<std::vector<uint8_t>> bad;
  auto bytes = [](const p::Writer& w) { return std::vector<uint8_t>(w.bytes().begin(), w.bytes().end()); };
  {
    p::Writer w;  // SetAttr with an unknown mask bit
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    p::Encode(w, p::SetAttrReq{1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetAttr with an empty mask
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    p::Encode(w, p::SetAttrReq{1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetAttr mode with file type bits
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    p::Encode(w, p::SetAttrReq{1, p::kSetMode, S_IFREG | 0644, 0, 0, 0, 0, 0, 0, 0});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetAttr with tv_nsec out of range (UTIME_NOW must be resolved)
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    p::Encode(w, p::SetAttrReq{1, p::kSetMtime, 0, 0, 0, 0, 0, 0, 0, UTIME_NOW});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetAttr truncated
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    w.U64(1);
    w.U32(p::kSetMode);
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetXattr with unknown flags
    p::EncodeRequestHeader(w, p::Op::kSetXattr);
    p::Encode(w, p::SetXattrReq{1, "user.x", "v", 4});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // SetXattr with a value over the bound
    p::EncodeRequestHeader(w, p::Op::kSetXattr);
    p::Encode(w, p::SetXattrReq{1, "user.x", std::string(p::kMaxXattrValue + 1, 'a'), 0});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // GetXattr with an empty name
    p::EncodeRequestHeader(w, p::Op::kGetXattr);
    p::Encode(w, p::XattrReq{1, ""});
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // Link with trailing bytes
    p::EncodeRequestHeader(w, p::Op::kLink);
    p::Encode(w, p::LinkReq{1, "n", 1});
    w.U32(0);
    bad.push_back(bytes(w));
  }
  {
    p::Writer w;  // ListXattr truncated handle
    p::EncodeRequestHeader(w, p::Op::kListXattr);
    w.U32(1);
    bad.push_back(bytes(w));
  }
  for (size_t i = 0; i < bad.size(); ++i) {
    ServerThread server(tree_.root(), /*read_only=*/false);
    base::UniqueFd sock = server.TakeClientSock();
    testing::RawHandshake(sock.get());
    testing::SendRaw(sock.get(), bad[i]);
    EXPECT_TRUE(testing::RecvRaw(sock.get()).empty()) << i;
    EXPECT_EQ(server.Join(), kServeProtocolError) << i;
  }
  struct stat st {};
  ASSERT_EQ(::stat(Host("file.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST_F(GoferWriteTest, ClientChecksArgumentsBeforeSending) {
  Start(false);
  const Handle f = WalkTo({"file.txt"});
  EXPECT_EQ(client_->SetXattr(f, "", "v", 0).error(), Errno::kERANGE);
  EXPECT_EQ(client_->SetXattr(f, "user.x", std::string(p::kMaxXattrValue + 1, 'a'), 0).error(), Errno::kE2BIG);
  EXPECT_EQ(client_->SetXattr(f, "user.x", "v", 8).error(), Errno::kEINVAL);
  SetAttrSpec s;
  s.mtime = timespec{0, 2000000000};
  EXPECT_EQ(client_->SetAttr(f, s).error(), Errno::kEINVAL);
  EXPECT_EQ(client_->Link(client_->root(), "..", f).error(), Errno::kEINVAL);
  // The connection is still good.
  EXPECT_TRUE(client_->Stat(f).ok());
}

}  // namespace
}  // namespace gofer
