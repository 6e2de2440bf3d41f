// Client <-> server round trips over a socketpair on a temporary tree.
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include <atomic>

#include "gofer_test_util.h"

namespace gofer {
namespace {

using testing::ReadAll;
using testing::ServerThread;
using testing::TempTree;

class GoferTest : public ::testing::Test {
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
  Result<std::vector<WalkStep>> Walk(std::vector<std::string> names, Handle from = 0) {
    return client_->Walk(from ? from : client_->root(), names);
  }
  Handle WalkTo(std::vector<std::string> names) {
    auto steps = Walk(names);
    EXPECT_TRUE(steps.ok());
    EXPECT_EQ(steps.value().size(), names.size());
    return steps.value().back().handle;
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(GoferTest, HandshakeGivesRootDirectoryAttr) {
  Start(true);
  struct stat st {};
  ASSERT_EQ(::stat(tree_.root().c_str(), &st), 0);
  EXPECT_NE(client_->root(), 0u);
  EXPECT_TRUE(S_ISDIR(client_->root_attr().mode));
  EXPECT_EQ(client_->root_attr().ino, st.st_ino);
}

TEST_F(GoferTest, WalkReturnsEveryStepWithAttr) {
  Start(true);
  auto steps = Walk({"dir", "sub", "deep.txt"});
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps.value().size(), 3u);
  EXPECT_TRUE(S_ISDIR(steps.value()[0].attr.mode));
  EXPECT_TRUE(S_ISDIR(steps.value()[1].attr.mode));
  EXPECT_TRUE(S_ISREG(steps.value()[2].attr.mode));
  EXPECT_EQ(steps.value()[2].attr.size, 4u);
  struct stat st {};
  ASSERT_EQ(::stat((tree_.root() + "/dir/sub/deep.txt").c_str(), &st), 0);
  EXPECT_EQ(steps.value()[2].attr.ino, st.st_ino);
  // Handles are distinct.
  EXPECT_NE(steps.value()[0].handle, steps.value()[1].handle);
}

TEST_F(GoferTest, WalkStopsBeforeMissingName) {
  Start(true);
  auto steps = Walk({"dir", "nope", "x"});
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps.value().size(), 1u);
  auto first = Walk({"nope"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error(), Errno::kENOENT);
}

TEST_F(GoferTest, WalkStopsAfterSymlink) {
  Start(true);
  auto steps = Walk({"link_rel", "x"});
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps.value().size(), 1u);
  EXPECT_TRUE(S_ISLNK(steps.value()[0].attr.mode));
}

TEST_F(GoferTest, WalkStopsAfterNonDirectory) {
  Start(true);
  auto steps = Walk({"file.txt", "x"});
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps.value().size(), 1u);
  EXPECT_TRUE(S_ISREG(steps.value()[0].attr.mode));
}

TEST_F(GoferTest, WalkFromNonDirectoryIsEnotdir) {
  Start(true);
  Handle f = WalkTo({"file.txt"});
  auto steps = client_->Walk(f, std::vector<std::string>{"x"});
  ASSERT_FALSE(steps.ok());
  EXPECT_EQ(steps.error(), Errno::kENOTDIR);
}

TEST_F(GoferTest, LongWalkIsSplitIntoChunks) {
  // 70 nested directories: more than one Walk message can carry.
  std::string p = tree_.root();
  std::vector<std::string> names;
  for (int i = 0; i < 70; ++i) {
    names.push_back("d" + std::to_string(i));
    p += "/" + names.back();
    ASSERT_EQ(::mkdir(p.c_str(), 0755), 0);
  }
  Start(true);
  auto steps = Walk(names);
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps.value().size(), 70u);
}

TEST_F(GoferTest, OpenedFileReadsTheRightData) {
  Start(true);
  auto fd = client_->Open(WalkTo({"dir", "sub", "deep.txt"}), O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd.value().get()), "deep");
  EXPECT_EQ(::fcntl(fd.value().get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(GoferTest, OpenedDirectoryListsWithGetdents) {
  Start(true);
  auto fd = client_->Open(WalkTo({"dir"}), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(fd.ok());
  char buf[4096];
  const long n = ::syscall(SYS_getdents64, fd.value().get(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  bool found = false;
  for (long off = 0; off < n;) {
    auto* d = reinterpret_cast<struct dirent64*>(buf + off);
    if (std::string(d->d_name) == "sub") found = true;
    off += d->d_reclen;
  }
  EXPECT_TRUE(found);
}

TEST_F(GoferTest, OpenDirectoryForWriteIsEisdir) {
  Start(false);
  auto fd = client_->Open(WalkTo({"dir"}), O_RDWR);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error(), Errno::kEISDIR);
}

TEST_F(GoferTest, OpenFifoIsRefused) {
  Start(true);
  auto fd = client_->Open(WalkTo({"fifo"}), O_RDONLY | O_NONBLOCK);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error(), Errno::kEPERM);
}

TEST_F(GoferTest, OpenWithCreationFlagsIsEinval) {
  Start(false);
  auto fd = client_->Open(WalkTo({"file.txt"}), O_RDONLY | O_CREAT);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error(), Errno::kEINVAL);
}

TEST_F(GoferTest, OpenForWriteWritesTheHostFile) {
  Start(false);
  auto fd = client_->Open(WalkTo({"file.txt"}), O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(::write(fd.value().get(), "new", 3), 3);
  base::UniqueFd check(::open((tree_.root() + "/file.txt").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(check.get()), "new");
}

TEST_F(GoferTest, ReadlinkReturnsTarget) {
  Start(true);
  auto t = client_->Readlink(WalkTo({"link_rel"}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value(), "file.txt");
  auto bad = client_->Readlink(WalkTo({"file.txt"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Errno::kEINVAL);
}

TEST_F(GoferTest, StatSeesHostChanges) {
  Start(true);
  Handle h = WalkTo({"file.txt"});
  testing::WriteFile(tree_.root() + "/file.txt", "a longer content");
  auto a = client_->Stat(h);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().size, 16u);
  EXPECT_TRUE(S_ISREG(a.value().mode));
}

TEST_F(GoferTest, StatfsMatchesHost) {
  Start(true);
  auto s = client_->Statfs(client_->root());
  ASSERT_TRUE(s.ok());
  struct statfs host {};
  ASSERT_EQ(::statfs(tree_.root().c_str(), &host), 0);
  EXPECT_EQ(s.value().type, static_cast<uint64_t>(host.f_type));
  EXPECT_EQ(s.value().bsize, static_cast<uint64_t>(host.f_bsize));
}

TEST_F(GoferTest, ReleasedHandleIsEbadf) {
  Start(true);
  Handle h = WalkTo({"file.txt"});
  client_->Release(h);
  auto a = client_->Stat(h);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error(), Errno::kEBADF);
  // Releasing the root is ignored: it lives as long as the connection.
  client_->Release(client_->root());
  EXPECT_TRUE(client_->Stat(client_->root()).ok());
}

TEST_F(GoferTest, MkdirCreatesDirectoryWithMode) {
  Start(false);
  auto s = client_->Mkdir(client_->root(), "newdir", 0750, ::getuid(), ::getgid());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(S_ISDIR(s.value().attr.mode));
  EXPECT_EQ(s.value().attr.mode & 07777, 0750u);
  struct stat st {};
  ASSERT_EQ(::stat((tree_.root() + "/newdir").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, s.value().attr.ino);
  auto again = client_->Mkdir(client_->root(), "newdir", 0750, 0, 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), Errno::kEEXIST);
}

TEST_F(GoferTest, CreateDonatesWritableFdOfNewFile) {
  Start(false);
  auto r = client_->Create(WalkTo({"dir"}), "made.txt", O_RDWR, 0640, ::getuid(), ::getgid());
  ASSERT_TRUE(r.ok());
  auto& [step, fd] = r.value();
  EXPECT_TRUE(S_ISREG(step.attr.mode));
  EXPECT_EQ(step.attr.mode & 07777, 0640u);
  ASSERT_EQ(::write(fd.get(), "xyz", 3), 3);
  base::UniqueFd check(::open((tree_.root() + "/dir/made.txt").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(check.get()), "xyz");
  // The new handle works like a walked one.
  auto a = client_->Stat(step.handle);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().size, 3u);
  auto exists = client_->Create(WalkTo({"dir"}), "made.txt", O_RDWR, 0640, 0, 0);
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.error(), Errno::kEEXIST);
}

TEST_F(GoferTest, CreateOverSymlinkDoesNotFollowIt) {
  Start(false);
  // link_abs points at outside/; creating "link_abs" must not write there.
  auto r = client_->Create(client_->root(), "link_abs", O_RDWR, 0644, 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEEXIST);
}

TEST_F(GoferTest, SymlinkCreatesLinkWithTarget) {
  Start(false);
  auto s = client_->Symlink(client_->root(), "newlink", "/some/where", ::getuid(), ::getgid());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(S_ISLNK(s.value().attr.mode));
  auto t = client_->Readlink(s.value().handle);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value(), "/some/where");
}

TEST_F(GoferTest, UnlinkRemovesFilesAndDirectories) {
  Start(false);
  ASSERT_TRUE(client_->Unlink(client_->root(), "file.txt", 0).ok());
  EXPECT_NE(::access((tree_.root() + "/file.txt").c_str(), F_OK), 0);
  auto notempty = client_->Unlink(client_->root(), "dir", AT_REMOVEDIR);
  ASSERT_FALSE(notempty.ok());
  EXPECT_EQ(notempty.error(), Errno::kENOTEMPTY);
  ASSERT_TRUE(client_->Unlink(WalkTo({"dir", "sub"}), "deep.txt", 0).ok());
  ASSERT_TRUE(client_->Unlink(WalkTo({"dir"}), "sub", AT_REMOVEDIR).ok());
  auto missing = client_->Unlink(client_->root(), "nope", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), Errno::kENOENT);
}

TEST_F(GoferTest, RenameMovesBetweenDirectories) {
  Start(false);
  Handle sub = WalkTo({"dir", "sub"});
  ASSERT_TRUE(client_->Rename(client_->root(), "file.txt", sub, "moved.txt").ok());
  base::UniqueFd check(::open((tree_.root() + "/dir/sub/moved.txt").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(check.get()), "hello gofer");
}

TEST_F(GoferTest, ReadOnlyMountRefusesEveryMutationWithErofs) {
  Start(true);
  const Handle root = client_->root();
  auto mk = client_->Mkdir(root, "x", 0755, 0, 0);
  ASSERT_FALSE(mk.ok());
  EXPECT_EQ(mk.error(), Errno::kEROFS);
  auto cr = client_->Create(root, "x", O_RDWR, 0644, 0, 0);
  ASSERT_FALSE(cr.ok());
  EXPECT_EQ(cr.error(), Errno::kEROFS);
  auto sl = client_->Symlink(root, "x", "y", 0, 0);
  ASSERT_FALSE(sl.ok());
  EXPECT_EQ(sl.error(), Errno::kEROFS);
  auto ul = client_->Unlink(root, "file.txt", 0);
  ASSERT_FALSE(ul.ok());
  EXPECT_EQ(ul.error(), Errno::kEROFS);
  auto rn = client_->Rename(root, "file.txt", root, "y");
  ASSERT_FALSE(rn.ok());
  EXPECT_EQ(rn.error(), Errno::kEROFS);
  const Handle f = WalkTo({"file.txt"});
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    auto fd = client_->Open(f, flags);
    ASSERT_FALSE(fd.ok()) << flags;
    EXPECT_EQ(fd.error(), Errno::kEROFS);
  }
  EXPECT_TRUE(client_->Open(f, O_RDONLY).ok());
  EXPECT_EQ(::access((tree_.root() + "/file.txt").c_str(), F_OK), 0);
}

TEST_F(GoferTest, ClientRejectsBadNamesWithoutSending) {
  Start(true);
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "a/b", std::string("a\0b", 3)}) {
    auto s = Walk({bad});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error(), Errno::kEINVAL);
  }
  auto longname = Walk({std::string(256, 'a')});
  ASSERT_FALSE(longname.ok());
  EXPECT_EQ(longname.error(), Errno::kENAMETOOLONG);
  // The connection is still fine.
  EXPECT_TRUE(Walk({"file.txt"}).ok());
}

TEST_F(GoferTest, ConcurrentCallersGetTheirOwnAnswers) {
  Start(true);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::string> path = t % 2 ? std::vector<std::string>{"file.txt"}
                                                  : std::vector<std::string>{"dir", "sub", "deep.txt"};
      const uint64_t want = t % 2 ? 11 : 4;
      for (int i = 0; i < 200; ++i) {
        auto s = client_->Walk(client_->root(), path);
        if (!s.ok() || s.value().back().attr.size != want) {
          ++bad;
          continue;
        }
        client_->Release(s.value().back().handle);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(GoferServe, MissingRootIsSetupError) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  base::UniqueFd client(sv[0]);
  EXPECT_EQ(Serve(base::UniqueFd(sv[1]), "/nonexistent/gofer/root", true), kServeSetupError);
}

}  // namespace
}  // namespace gofer
