// Protocol version 3: every Attr after the handshake carries the host's
// birth time (statx STATX_BTIME) or kNoBtime; a version-2 peer gets the
// 88-byte Attr it knows. Version 4: the handshake's root Attr too.
#include <fcntl.h>
#include <sys/stat.h>

#include "gofer_test_util.h"

namespace gofer {
namespace {

namespace p = protocol;
using testing::ServerThread;
using testing::TempTree;

std::optional<int64_t> HostBtime(const std::string& path) {
  struct statx sx {};
  EXPECT_EQ(::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx), 0);
  if (!(sx.stx_mask & STATX_BTIME)) return std::nullopt;
  return static_cast<int64_t>(sx.stx_btime.tv_sec) * 1'000'000'000 + sx.stx_btime.tv_nsec;
}

TEST(GoferProtocol, AttrCarriesBirthTimeOnlyWhenAgreed) {
  Attr a;
  a.mode = 0100644;
  a.btime_ns = 1234567890123;
  Attr none;
  for (bool btime : {false, true}) {
    p::Writer w;
    w.set_btime(btime);
    w.PutAttr(a);
    w.PutAttr(none);
    EXPECT_EQ(w.size(), btime ? 2 * 96u : 2 * 88u);
    p::Reader r(w.bytes());
    r.set_btime(btime);
    auto got = r.GetAttr();
    auto got_none = r.GetAttr();
    ASSERT_TRUE(got.ok() && got_none.ok());
    EXPECT_TRUE(r.Finish().ok());
    EXPECT_EQ(got.value().btime_ns, btime ? a.btime_ns : std::nullopt);
    EXPECT_EQ(got_none.value().btime_ns, std::nullopt);
  }
}

TEST(GoferBtime, WalkAndStatReportTheHostsBirthTime) {
  TempTree tree;
  ServerThread server(tree.root(), /*read_only=*/true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  auto steps = c.value()->Walk(c.value()->root(), std::vector<std::string>{"file.txt"});
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps.value().size(), 1u);
  const std::optional<int64_t> host = HostBtime(tree.root() + "/file.txt");
  EXPECT_EQ(steps.value()[0].attr.btime_ns, host);
  auto st = c.value()->Stat(steps.value()[0].handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().btime_ns, host);
  base::UniqueFd path(::open((tree.root() + "/file.txt").c_str(), O_PATH | O_CLOEXEC));
  auto local = HostAttr(path.get());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local.value().btime_ns, host);
  EXPECT_EQ(local.value().ino, st.value().ino);
  c.value().reset();
  EXPECT_EQ(server.Join(), kServeOk);
}

TEST(GoferBtime, HandshakeRootAttrCarriesTheRootsBirthTime) {
  TempTree tree;
  ServerThread server(tree.root(), /*read_only=*/true);
  auto c = Client::Connect(server.TakeClientSock());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value()->root_attr().btime_ns, HostBtime(tree.root()));
  EXPECT_TRUE(S_ISDIR(c.value()->root_attr().mode));
  c.value().reset();
  EXPECT_EQ(server.Join(), kServeOk);
}

TEST(GoferBtime, Version3PeerGetsAHandshakeAttrWithoutBirthTime) {
  TempTree tree;
  ServerThread server(tree.root(), /*read_only=*/true);
  base::UniqueFd sock = server.TakeClientSock();
  p::Writer v;
  p::EncodeRequestHeader(v, p::Op::kVersion);
  p::Encode(v, p::VersionReq{p::kMagic, 3});
  testing::SendRaw(sock.get(), v.bytes());
  std::vector<uint8_t> resp = testing::RecvRaw(sock.get());
  p::Reader r(resp);
  ASSERT_TRUE(p::DecodeResponseHeader(r).ok());
  EXPECT_EQ(r.remaining(), 4u + 8u + 88u);  // version, root, the version-3 handshake Attr
  auto vr = p::DecodeVersionResp(r);
  ASSERT_TRUE(vr.ok());
  EXPECT_EQ(vr.value().version, 3u);
  EXPECT_FALSE(vr.value().attr.btime_ns.has_value());
  sock.Reset();
  EXPECT_EQ(server.Join(), kServeOk);
}

TEST(GoferBtime, Version2PeerGetsAttrsWithoutBirthTime) {
  TempTree tree;
  ServerThread server(tree.root(), /*read_only=*/true);
  base::UniqueFd sock = server.TakeClientSock();
  p::Writer v;
  p::EncodeRequestHeader(v, p::Op::kVersion);
  p::Encode(v, p::VersionReq{p::kMagic, 2});
  testing::SendRaw(sock.get(), v.bytes());
  std::vector<uint8_t> resp = testing::RecvRaw(sock.get());
  p::Reader r(resp);
  ASSERT_TRUE(p::DecodeResponseHeader(r).ok());
  auto vr = p::DecodeVersionResp(r);
  ASSERT_TRUE(vr.ok());
  EXPECT_EQ(vr.value().version, 2u);
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kStat);
  p::Encode(w, p::HandleReq{vr.value().root});
  testing::SendRaw(sock.get(), w.bytes());
  std::vector<uint8_t> stat = testing::RecvRaw(sock.get());
  p::Reader sr(stat);
  auto h = p::DecodeResponseHeader(sr);
  ASSERT_TRUE(h.ok() && h.value().ok());
  EXPECT_EQ(sr.remaining(), 88u);  // the version-1/2 Attr
  auto attr = sr.GetAttr();
  ASSERT_TRUE(attr.ok());
  EXPECT_TRUE(S_ISDIR(attr.value().mode));
  EXPECT_FALSE(attr.value().btime_ns.has_value());
  sock.Reset();
  EXPECT_EQ(server.Join(), kServeOk);
}

}  // namespace
}  // namespace gofer
