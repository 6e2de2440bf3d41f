// Malformed input to the server: each closes the connection (the server
// returns kServeProtocolError), none crashes it.
#include <poll.h>

#include <random>

#include "gofer_test_util.h"

namespace gofer {
namespace {

namespace p = protocol;
using testing::RecvRaw;
using testing::SendRaw;
using testing::ServerThread;
using testing::TempTree;

std::vector<uint8_t> Bytes(const p::Writer& w) { return {w.bytes().begin(), w.bytes().end()}; }

// Sends `msg` after a handshake; expects the connection to be dropped.
void ExpectDropped(const TempTree& tree, const std::vector<uint8_t>& msg, bool handshake = true) {
  ServerThread server(tree.root(), true);
  base::UniqueFd sock = server.TakeClientSock();
  if (handshake) testing::RawHandshake(sock.get());
  SendRaw(sock.get(), msg);
  EXPECT_TRUE(RecvRaw(sock.get()).empty());
  EXPECT_EQ(server.Join(), kServeProtocolError);
}

std::vector<uint8_t> ValidWalk(Handle root) {
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kWalk);
  p::Encode(w, p::WalkReq{root, {"dir", "sub"}});
  return Bytes(w);
}

TEST(GoferMalformed, TruncatedMessagesDropTheConnection) {
  TempTree tree;
  const std::vector<uint8_t> walk = ValidWalk(1);
  for (size_t len : {size_t{1}, size_t{3}, size_t{4}, size_t{8}, size_t{12}, walk.size() - 1}) {
    ExpectDropped(tree, std::vector<uint8_t>(walk.begin(), walk.begin() + static_cast<long>(len)));
  }
}

TEST(GoferMalformed, TrailingBytesDropTheConnection) {
  TempTree tree;
  std::vector<uint8_t> walk = ValidWalk(1);
  walk.push_back(0);
  ExpectDropped(tree, walk);
}

TEST(GoferMalformed, HugeCountsAndLengthsDropTheConnection) {
  TempTree tree;
  {
    p::Writer w;  // walk with 2^32-1 names
    p::EncodeRequestHeader(w, p::Op::kWalk);
    w.U64(1);
    w.U32(0xffffffff);
    w.Str("a");
    ExpectDropped(tree, Bytes(w));
  }
  {
    p::Writer w;  // walk with zero names
    p::EncodeRequestHeader(w, p::Op::kWalk);
    w.U64(1);
    w.U32(0);
    ExpectDropped(tree, Bytes(w));
  }
  {
    p::Writer w;  // string length far past the message
    p::EncodeRequestHeader(w, p::Op::kWalk);
    w.U64(1);
    w.U32(1);
    w.U32(0x7fffffff);
    w.U32(0);
    ExpectDropped(tree, Bytes(w));
  }
  {
    p::Writer w;  // symlink target longer than PATH_MAX
    p::EncodeRequestHeader(w, p::Op::kSymlink);
    w.U64(1);
    w.Str("x");
    w.Str(std::string(5000, 'a'));
    w.U32(0);
    w.U32(0);
    ExpectDropped(tree, Bytes(w));
  }
  // A datagram larger than any message.
  ExpectDropped(tree, std::vector<uint8_t>(p::kMaxMessageSize + 1, 0x02));
}

TEST(GoferMalformed, BadNamesDropTheConnection) {
  TempTree tree;
  for (std::string bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("/"), std::string("a\0b", 3), std::string(256, 'x')}) {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kMkdir);
    w.U64(1);
    w.Str(bad);
    w.U32(0755);
    w.U32(0);
    w.U32(0);
    ExpectDropped(tree, Bytes(w));
  }
}

TEST(GoferMalformed, UnknownOpAndBadHandshakeDropTheConnection) {
  TempTree tree;
  {
    p::Writer w;
    w.U32(999);
    ExpectDropped(tree, Bytes(w));
  }
  {
    p::Writer w;  // wrong magic
    p::EncodeRequestHeader(w, p::Op::kVersion);
    p::Encode(w, p::VersionReq{0xdeadbeef, p::kVersion});
    ExpectDropped(tree, Bytes(w), /*handshake=*/false);
  }
  {
    // A request before the handshake.
    ExpectDropped(tree, ValidWalk(1), /*handshake=*/false);
  }
  {
    // A second handshake.
    ExpectDropped(tree, testing::VersionRequest());
  }
  {
    p::Writer w;  // Unlink with unknown flags
    p::EncodeRequestHeader(w, p::Op::kUnlink);
    p::Encode(w, p::UnlinkReq{1, "file.txt", 0x1});
    ExpectDropped(tree, Bytes(w));
  }
}

TEST(GoferMalformed, OldProtocolVersionIsRefusedWithReason) {
  TempTree tree;
  ServerThread server(tree.root(), true);
  base::UniqueFd sock = server.TakeClientSock();
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kVersion);
  p::Encode(w, p::VersionReq{p::kMagic, 0});
  SendRaw(sock.get(), w.bytes());
  std::vector<uint8_t> resp = RecvRaw(sock.get());
  p::Reader r(resp);
  auto h = p::DecodeResponseHeader(r);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().status, Errno::kEPROTONOSUPPORT);
  EXPECT_EQ(server.Join(), kServeProtocolError);
}

// Mutates valid requests (flip, truncate, extend, random) 1000 times with a
// fixed seed. After each, the server either answers or drops the connection;
// if it answers, it still serves a valid Stat of the root correctly.
TEST(GoferMalformed, RandomlyMutatedMessagesNeverCrashTheServer) {
  TempTree tree;
  std::mt19937 rng(20240611);
  std::vector<std::vector<uint8_t>> seeds;
  {
    seeds.push_back(ValidWalk(1));
    p::Writer o;
    p::EncodeRequestHeader(o, p::Op::kOpen);
    p::Encode(o, p::OpenReq{2, O_RDONLY});
    seeds.push_back(Bytes(o));
    p::Writer s;
    p::EncodeRequestHeader(s, p::Op::kStat);
    p::Encode(s, p::HandleReq{1});
    seeds.push_back(Bytes(s));
    p::Writer m;
    p::EncodeRequestHeader(m, p::Op::kMkdir);
    p::Encode(m, p::MkdirReq{1, "x", 0755, 0, 0});
    seeds.push_back(Bytes(m));
    p::Writer rn;
    p::EncodeRequestHeader(rn, p::Op::kRename);
    p::Encode(rn, p::RenameReq{1, "file.txt", 2, "y"});
    seeds.push_back(Bytes(rn));
    p::Writer sl;
    p::EncodeRequestHeader(sl, p::Op::kSymlink);
    p::Encode(sl, p::SymlinkReq{1, "l", "/etc", 0, 0});
    seeds.push_back(Bytes(sl));
    p::Writer rl;
    p::EncodeRequestHeader(rl, p::Op::kReadlink);
    p::Encode(rl, p::HandleReq{3});
    seeds.push_back(Bytes(rl));
  }
  std::vector<uint8_t> stat_root;
  {
    p::Writer s;
    p::EncodeRequestHeader(s, p::Op::kStat);
    p::Encode(s, p::HandleReq{1});
    stat_root = Bytes(s);
  }

  std::unique_ptr<ServerThread> server;
  base::UniqueFd sock;
  int drops = 0, answers = 0;
  for (int i = 0; i < 1000; ++i) {
    if (!server) {
      server = std::make_unique<ServerThread>(tree.root(), /*read_only=*/true);
      sock = server->TakeClientSock();
      ASSERT_EQ(testing::RawHandshake(sock.get()), Handle{1});
    }
    std::vector<uint8_t> msg;
    switch (rng() % 4) {
      case 0:  // pure random bytes
        msg.resize(rng() % 64);
        for (auto& b : msg) b = static_cast<uint8_t>(rng());
        break;
      case 1:  // flip bytes of a valid message
        msg = seeds[rng() % seeds.size()];
        for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) msg[rng() % msg.size()] ^= 1u << (rng() % 8);
        break;
      case 2:  // truncate
        msg = seeds[rng() % seeds.size()];
        msg.resize(rng() % msg.size());
        break;
      default:  // valid header, random tail
        msg = seeds[rng() % seeds.size()];
        msg.resize(4 + rng() % 40);
        for (size_t k = 4; k < msg.size(); ++k) msg[k] = static_cast<uint8_t>(rng());
        break;
    }
    if (msg.empty()) msg.push_back(0);  // an empty datagram reads as end of stream
    SendRaw(sock.get(), msg);
    const bool is_release = msg.size() >= 4 && msg[0] == static_cast<uint8_t>(p::Op::kRelease) && msg[1] == 0 &&
                            msg[2] == 0 && msg[3] == 0;
    // A Release has no answer; probe with Stat(root) to see if we are alive.
    if (is_release) SendRaw(sock.get(), stat_root);
    std::vector<base::UniqueFd> fds;
    std::vector<uint8_t> resp = RecvRaw(sock.get(), &fds);
    if (resp.empty()) {
      ++drops;
      sock.Reset();
      EXPECT_EQ(server->Join(), kServeProtocolError);
      server.reset();
      continue;
    }
    ++answers;
    p::Reader r(resp);
    ASSERT_TRUE(p::DecodeResponseHeader(r).ok());
    if (!is_release) {
      SendRaw(sock.get(), stat_root);
      std::vector<uint8_t> st = RecvRaw(sock.get());
      p::Reader sr(st);
      auto h = p::DecodeResponseHeader(sr);
      ASSERT_TRUE(h.ok());
      // Root may be released only by name; it is never gone.
      EXPECT_TRUE(h.value().ok());
    }
  }
  EXPECT_GT(drops, 0);
  EXPECT_GT(answers, 0);
  sock.Reset();
}

}  // namespace
}  // namespace gofer
