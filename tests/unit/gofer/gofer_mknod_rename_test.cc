// Protocol version 2: Mknod (FIFOs and sockets) and Rename2 (renameat2
// RENAME_NOREPLACE / RENAME_EXCHANGE), their malformed encodings, EROFS on a
// read-only mount, and the version negotiation that keeps a version-1 peer
// from using them.
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "gofer_test_util.h"

namespace gofer {
namespace {

namespace p = protocol;
using testing::ServerThread;
using testing::TempTree;

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class GoferV2Test : public ::testing::Test {
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
  std::string Host(const std::string& rel) const { return tree_.root() + "/" + rel; }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(GoferV2Test, MknodMakesFifoAndSocketNodesOwnedAsAsked) {
  Start(false);
  auto fifo = client_->Mknod(client_->root(), "newfifo", S_IFIFO | 0640, ::geteuid(), ::getegid());
  ASSERT_TRUE(fifo.ok()) << base::ErrnoName(fifo.error());
  EXPECT_EQ(fifo.value().attr.mode & S_IFMT, static_cast<uint32_t>(S_IFIFO));
  struct stat st {};
  ASSERT_EQ(::lstat(Host("newfifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(fifo.value().attr.ino, st.st_ino);
  // Opening it through the gofer is refused: the sandbox serves FIFOs.
  EXPECT_EQ(client_->Open(fifo.value().handle, O_RDONLY).error(), Errno::kEPERM);

  auto sock = client_->Mknod(client_->root(), "newsock", S_IFSOCK | 0600, ::geteuid(), ::getegid());
  ASSERT_TRUE(sock.ok()) << base::ErrnoName(sock.error());
  ASSERT_EQ(::lstat(Host("newsock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  // An existing name is the host's EEXIST.
  EXPECT_EQ(client_->Mknod(client_->root(), "file.txt", S_IFIFO | 0600, 0, 0).error(), Errno::kEEXIST);
}

TEST_F(GoferV2Test, ClientRefusesDeviceAndRegularMknodBeforeSending) {
  Start(false);
  EXPECT_EQ(client_->Mknod(client_->root(), "dev", S_IFCHR | 0600, 0, 0).error(), Errno::kEPERM);
  EXPECT_EQ(client_->Mknod(client_->root(), "blk", S_IFBLK | 0600, 0, 0).error(), Errno::kEPERM);
  EXPECT_EQ(client_->Mknod(client_->root(), "reg", S_IFREG | 0600, 0, 0).error(), Errno::kEPERM);
  EXPECT_EQ(client_->Mknod(client_->root(), "..", S_IFIFO | 0600, 0, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(client_->Rename2(client_->root(), "file.txt", client_->root(), "x", 4).error(), Errno::kEINVAL);
  EXPECT_EQ(client_->Rename2(client_->root(), "file.txt", client_->root(), "x", 3).error(), Errno::kEINVAL);
  struct stat st {};
  EXPECT_NE(::lstat(Host("dev").c_str(), &st), 0);
  EXPECT_NE(::lstat(Host("reg").c_str(), &st), 0);
}

TEST_F(GoferV2Test, Rename2NoreplaceRefusesAnExistingTarget) {
  Start(false);
  EXPECT_EQ(client_->Rename2(client_->root(), "file.txt", client_->root(), "fifo", p::kRenameNoreplace).error(),
            Errno::kEEXIST);
  EXPECT_EQ(Slurp(Host("file.txt")), "hello gofer");
  ASSERT_TRUE(client_->Rename2(client_->root(), "file.txt", client_->root(), "moved", p::kRenameNoreplace).ok());
  EXPECT_EQ(Slurp(Host("moved")), "hello gofer");
  struct stat st {};
  EXPECT_NE(::lstat(Host("file.txt").c_str(), &st), 0);
}

TEST_F(GoferV2Test, Rename2ExchangeSwapsTwoNames) {
  Start(false);
  auto dir = client_->Walk(client_->root(), std::vector<std::string>{"dir", "sub"});
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(dir.value().size(), 2u);
  ASSERT_TRUE(
      client_->Rename2(client_->root(), "file.txt", dir.value()[1].handle, "deep.txt", p::kRenameExchange).ok());
  EXPECT_EQ(Slurp(Host("file.txt")), "deep");
  EXPECT_EQ(Slurp(Host("dir/sub/deep.txt")), "hello gofer");
  EXPECT_EQ(client_->Rename2(client_->root(), "file.txt", client_->root(), "missing", p::kRenameExchange).error(),
            Errno::kENOENT);
}

TEST_F(GoferV2Test, ReadOnlyMountRefusesMknodAndRename2WithErofs) {
  Start(true);
  EXPECT_EQ(client_->Mknod(client_->root(), "f", S_IFIFO | 0600, 0, 0).error(), Errno::kEROFS);
  EXPECT_EQ(client_->Rename2(client_->root(), "file.txt", client_->root(), "x", p::kRenameNoreplace).error(),
            Errno::kEROFS);
  struct stat st {};
  EXPECT_NE(::lstat(Host("f").c_str(), &st), 0);
}

std::vector<uint8_t> Bytes(const p::Writer& w) { return {w.bytes().begin(), w.bytes().end()}; }

TEST_F(GoferV2Test, MalformedMknodAndRename2DropTheConnection) {
  std::vector<std::vector<uint8_t>> bad;
  for (uint32_t mode : {uint32_t{S_IFCHR | 0600}, uint32_t{S_IFBLK | 0600}, uint32_t{S_IFREG | 0600},
                        uint32_t{S_IFDIR | 0700}, uint32_t{0600}, uint32_t{S_IFIFO | 0600 | 0x100000}}) {
    p::Writer w;  // a type the gofer never makes, or stray bits
    p::EncodeRequestHeader(w, p::Op::kMknod);
    p::Encode(w, p::MknodReq{1, "n", mode, 0, 0});
    bad.push_back(Bytes(w));
  }
  {
    p::Writer w;  // a name with a slash
    p::EncodeRequestHeader(w, p::Op::kMknod);
    p::Encode(w, p::MknodReq{1, "a/b", S_IFIFO | 0600, 0, 0});
    bad.push_back(Bytes(w));
  }
  {
    p::Writer w;  // Mknod truncated
    p::EncodeRequestHeader(w, p::Op::kMknod);
    w.U64(1);
    w.Str("n");
    w.U32(S_IFIFO | 0600);
    bad.push_back(Bytes(w));
  }
  for (uint32_t flags : {0u, 3u, 4u, 0x80000000u}) {
    p::Writer w;  // no flag, both, RENAME_WHITEOUT, unknown
    p::EncodeRequestHeader(w, p::Op::kRename2);
    p::Encode(w, p::Rename2Req{1, "file.txt", 1, "x", flags});
    bad.push_back(Bytes(w));
  }
  {
    p::Writer w;  // Rename2 with a dot-dot name
    p::EncodeRequestHeader(w, p::Op::kRename2);
    p::Encode(w, p::Rename2Req{1, "..", 1, "x", p::kRenameNoreplace});
    bad.push_back(Bytes(w));
  }
  {
    p::Writer w;  // Rename2 with trailing bytes
    p::EncodeRequestHeader(w, p::Op::kRename2);
    p::Encode(w, p::Rename2Req{1, "file.txt", 1, "x", p::kRenameNoreplace});
    w.U32(0);
    bad.push_back(Bytes(w));
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
  EXPECT_NE(::lstat(Host("n").c_str(), &st), 0);
  EXPECT_NE(::lstat(Host("x").c_str(), &st), 0);
  EXPECT_EQ(Slurp(Host("file.txt")), "hello gofer");
}

// A version-1 peer is still served (version 1 answered), but the
// version-2 ops are malformed on that connection.
TEST_F(GoferV2Test, Version1PeerIsServedWithoutVersion2Ops) {
  ServerThread server(tree_.root(), /*read_only=*/false);
  base::UniqueFd sock = server.TakeClientSock();
  p::Writer v;
  p::EncodeRequestHeader(v, p::Op::kVersion);
  p::Encode(v, p::VersionReq{p::kMagic, 1});
  testing::SendRaw(sock.get(), v.bytes());
  std::vector<uint8_t> resp = testing::RecvRaw(sock.get());
  p::Reader r(resp);
  auto h = p::DecodeResponseHeader(r);
  ASSERT_TRUE(h.ok() && h.value().ok());
  auto vr = p::DecodeVersionResp(r);
  ASSERT_TRUE(vr.ok());
  EXPECT_EQ(vr.value().version, 1u);
  p::Writer w;
  p::EncodeRequestHeader(w, p::Op::kMknod);
  p::Encode(w, p::MknodReq{vr.value().root, "n", S_IFIFO | 0600, 0, 0});
  testing::SendRaw(sock.get(), w.bytes());
  EXPECT_TRUE(testing::RecvRaw(sock.get()).empty());
  EXPECT_EQ(server.Join(), kServeProtocolError);
  struct stat st {};
  EXPECT_NE(::lstat(Host("n").c_str(), &st), 0);
}

}  // namespace
}  // namespace gofer
