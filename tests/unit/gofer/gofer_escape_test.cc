// Escape attempts against the gofer, named after the attack. The sentry is
// assumed compromised: tests speak raw protocol where the client would
// refuse. `outside/secret` ("OUTSIDE") must never be reachable.
#include <linux/fs.h>
#include <sys/syscall.h>

#include <atomic>

#include "gofer_test_util.h"

namespace gofer {
namespace {

namespace p = protocol;
using testing::ReadAll;
using testing::RecvRaw;
using testing::SendRaw;
using testing::ServerThread;
using testing::TempTree;

std::vector<uint8_t> RawWalk(Handle dir, const std::vector<std::string>& names) {
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kWalk);
  w.U64(dir);
  w.U32(static_cast<uint32_t>(names.size()));
  for (const auto& n : names) w.Str(n);  // unvalidated on purpose
  return {w.bytes().begin(), w.bytes().end()};
}

TEST(GoferEscape, WalkDotDotCannotLeaveRoot) {
  TempTree tree;
  {
    // The client refuses "..".
    ServerThread server(tree.root(), true);
    auto c = Client::Connect(server.TakeClientSock());
    ASSERT_TRUE(c.ok());
    auto s = c.value()->Walk(c.value()->root(), std::vector<std::string>{".."});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error(), Errno::kEINVAL);
  }
  for (std::vector<std::string> names : std::vector<std::vector<std::string>>{
           {".."}, {"dir", ".."}, {"dir", "..", ".."}, {"."}, {"../outside"}, {"dir/../../outside"}}) {
    // A compromised sentry sending them anyway loses its connection and
    // learns nothing.
    ServerThread server(tree.root(), true);
    base::UniqueFd sock = server.TakeClientSock();
    const Handle root = testing::RawHandshake(sock.get());
    SendRaw(sock.get(), RawWalk(root, names));
    EXPECT_TRUE(RecvRaw(sock.get()).empty()) << names.back();
    EXPECT_EQ(server.Join(), kServeProtocolError);
  }
}

TEST(GoferEscape, AbsoluteSymlinkIsReturnedNotFollowed) {
  TempTree tree;
  ServerThread server(tree.root(), true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  Client& client = *c.value();
  auto s = client.Walk(client.root(), std::vector<std::string>{"link_abs", "secret"});
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s.value().size(), 1u);  // stopped at the link
  EXPECT_TRUE(S_ISLNK(s.value()[0].attr.mode));
  auto target = client.Readlink(s.value()[0].handle);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target.value(), tree.outside());
  // Walking on from the symlink handle is not a walk through it.
  auto through = client.Walk(s.value()[0].handle, std::vector<std::string>{"secret"});
  ASSERT_FALSE(through.ok());
  EXPECT_EQ(through.error(), Errno::kENOTDIR);
}

TEST(GoferEscape, OpenOfSymlinkHandleDoesNotFollow) {
  TempTree tree;
  testing::WriteFile(tree.root() + "/placeholder", "");
  ASSERT_EQ(::symlink((tree.outside() + "/secret").c_str(), (tree.root() + "/to_secret").c_str()), 0);
  ServerThread server(tree.root(), false);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  Client& client = *c.value();
  for (const char* name : {"to_secret", "link_rel", "link_abs"}) {
    auto s = client.Walk(client.root(), std::vector<std::string>{name});
    ASSERT_TRUE(s.ok());
    for (int flags : {O_RDONLY, O_RDWR, O_WRONLY | O_TRUNC, O_RDONLY | O_DIRECTORY}) {
      auto fd = client.Open(s.value()[0].handle, flags);
      ASSERT_FALSE(fd.ok()) << name;
      EXPECT_EQ(fd.error(), Errno::kELOOP) << name;
    }
  }
  base::UniqueFd check(::open((tree.outside() + "/secret").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(ReadAll(check.get()), "OUTSIDE");
}

TEST(GoferEscape, SymlinkSwappedBetweenWalkStepsDoesNotEscape) {
  TempTree tree;
  // root/d is a directory holding an inside "secret"; root/s is a symlink to
  // outside/. A thread exchanges the two names as fast as it can while
  // walks of d/secret and s/secret run.
  ASSERT_EQ(::mkdir((tree.root() + "/d").c_str(), 0755), 0);
  testing::WriteFile(tree.root() + "/d/secret", "INSIDE");
  ASSERT_EQ(::symlink(tree.outside().c_str(), (tree.root() + "/s").c_str()), 0);
  struct stat outside_secret {};
  ASSERT_EQ(::stat((tree.outside() + "/secret").c_str(), &outside_secret), 0);

  ServerThread server(tree.root(), true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  Client& client = *c.value();

  base::UniqueFd rootfd(::open(tree.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (::syscall(SYS_renameat2, rootfd.get(), "d", rootfd.get(), "s", RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  int escapes = 0, full_walks = 0, stopped_at_link = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::vector<std::string> path = {i % 2 ? "d" : "s", "secret"};
    auto s = client.Walk(client.root(), path);
    if (!s.ok()) continue;  // ENOENT while a name is mid-exchange is fine
    for (const WalkStep& st : s.value()) {
      if (st.attr.ino == outside_secret.st_ino && st.attr.dev == outside_secret.st_dev) ++escapes;
    }
    if (s.value().size() == 2) {
      ++full_walks;
      auto fd = client.Open(s.value()[1].handle, O_RDONLY);
      if (fd.ok() && ReadAll(fd.value().get()) != "INSIDE") ++escapes;
    } else if (S_ISLNK(s.value()[0].attr.mode)) {
      ++stopped_at_link;
    }
    for (const WalkStep& st : s.value()) client.Release(st.handle);
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(escapes, 0);
  // The race was exercised: both outcomes happened.
  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(full_walks, 0);
  EXPECT_GT(stopped_at_link, 0);
}

TEST(GoferEscape, NameReplacedBySymlinkAfterWalkStillOpensWalkedFile) {
  // Walk file.txt, then (as another host process) move it away and put a
  // symlink to outside/secret in its place. Open must give the walked inode.
  TempTree tree;
  ServerThread server(tree.root(), true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  Client& client = *c.value();
  auto s = client.Walk(client.root(), std::vector<std::string>{"file.txt"});
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(::rename((tree.root() + "/file.txt").c_str(), (tree.root() + "/old.txt").c_str()), 0);
  ASSERT_EQ(::symlink((tree.outside() + "/secret").c_str(), (tree.root() + "/file.txt").c_str()), 0);
  auto fd = client.Open(s.value()[0].handle, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd.value().get()), "hello gofer");
}

TEST(GoferEscape, DonatedFdFromSentryIsRefused) {
  // A compromised sentry donating an fd (e.g. a directory outside the
  // sandbox) gets its connection dropped; the server never uses it.
  TempTree tree;
  ServerThread server(tree.root(), true);
  base::UniqueFd sock = server.TakeClientSock();
  testing::RawHandshake(sock.get());
  base::UniqueFd outside(::open(tree.outside().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kStat);
  p::Encode(w, p::HandleReq{1});
  ASSERT_TRUE(p::SendMessage(sock.get(), w.bytes(), outside.get()).ok());
  EXPECT_TRUE(RecvRaw(sock.get()).empty());
  EXPECT_EQ(server.Join(), kServeProtocolError);
}

TEST(GoferEscape, GuessedHandleNumbersAreEbadf) {
  TempTree tree;
  ServerThread server(tree.root(), true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  for (Handle h : {Handle{0}, Handle{2}, Handle{999}, ~Handle{0}}) {
    auto a = c.value()->Stat(h);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error(), Errno::kEBADF);
    auto fd = c.value()->Open(h, O_RDONLY);
    ASSERT_FALSE(fd.ok());
    EXPECT_EQ(fd.error(), Errno::kEBADF);
  }
}

}  // namespace
}  // namespace gofer
