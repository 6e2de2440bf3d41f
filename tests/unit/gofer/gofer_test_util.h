// Test helpers: a temporary host tree and a gofer server on a thread.
#ifndef TESTS_UNIT_GOFER_GOFER_TEST_UTIL_H_
#define TESTS_UNIT_GOFER_GOFER_TEST_UTIL_H_

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "gofer/client.h"
#include "gofer/protocol.h"
#include "gofer/server.h"

namespace gofer::testing {

inline void WriteFile(const std::string& path, const std::string& data) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

inline std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof(buf), static_cast<off_t>(out.size()))) > 0) out.append(buf, n);
  return out;
}

// A fresh directory holding `root/` (served) and `outside/` (must never be
// reachable). Layout:
//   root/file.txt            "hello gofer"
//   root/dir/sub/deep.txt    "deep"
//   root/link_rel -> file.txt
//   root/link_abs -> <outside>          (absolute, points outside the root)
//   root/fifo                           (a FIFO)
//   outside/secret           "OUTSIDE"
class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/gofer_test_XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    ::mkdir(root_.c_str(), 0755);
    ::mkdir(outside_.c_str(), 0755);
    WriteFile(outside_ + "/secret", "OUTSIDE");
    WriteFile(root_ + "/file.txt", "hello gofer");
    ::mkdir((root_ + "/dir").c_str(), 0755);
    ::mkdir((root_ + "/dir/sub").c_str(), 0755);
    WriteFile(root_ + "/dir/sub/deep.txt", "deep");
    EXPECT_EQ(::symlink("file.txt", (root_ + "/link_rel").c_str()), 0);
    EXPECT_EQ(::symlink(outside_.c_str(), (root_ + "/link_abs").c_str()), 0);
    EXPECT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  }
  ~TempTree() {
    ::nftw(
        base_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  const std::string& root() const { return root_; }
  const std::string& outside() const { return outside_; }

 private:
  std::string base_, root_, outside_;
};

// Serve() on a thread over a socketpair. Destroy (or close) the client end
// before this object: Join waits for the server to see end of stream.
class ServerThread {
 public:
  ServerThread(const std::string& root, bool read_only) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client_ = base::UniqueFd(sv[0]);
    base::UniqueFd server(sv[1]);
    thread_ = std::thread([this, root, read_only, s = std::move(server)]() mutable {
      code_ = Serve(std::move(s), root, read_only);
    });
  }
  ~ServerThread() {
    client_.Reset();
    if (thread_.joinable()) thread_.join();
  }
  base::UniqueFd TakeClientSock() { return std::move(client_); }
  int Join() {
    thread_.join();
    return code_;
  }

 private:
  base::UniqueFd client_;
  std::thread thread_;
  int code_ = -1;
};

// Raw protocol helpers, for tests that speak bytes to the server.
inline void SendRaw(int sock, std::span<const uint8_t> bytes) {
  ASSERT_TRUE(protocol::SendMessage(sock, bytes).ok());
}

inline std::vector<uint8_t> VersionRequest() {
  protocol::Writer w;
  protocol::EncodeRequestHeader(w, protocol::Op::kVersion);
  protocol::Encode(w, protocol::VersionReq{});
  return {w.bytes().begin(), w.bytes().end()};
}

// Waits for the next datagram; an empty vector means end of stream.
inline std::vector<uint8_t> RecvRaw(int sock, std::vector<base::UniqueFd>* fds = nullptr) {
  std::vector<uint8_t> buf(protocol::kMaxMessageSize);
  std::vector<base::UniqueFd> local;
  Result<size_t> n = protocol::RecvMessage(sock, buf, fds ? fds : &local);
  if (!n.ok()) return {};
  buf.resize(n.value());
  return buf;
}

// Performs the handshake on a raw socket; returns the root handle.
inline Handle RawHandshake(int sock) {
  SendRaw(sock, VersionRequest());
  std::vector<uint8_t> resp = RecvRaw(sock);
  protocol::Reader r(resp);
  auto h = protocol::DecodeResponseHeader(r);
  EXPECT_TRUE(h.ok() && h.value().ok());
  auto v = protocol::DecodeVersionResp(r);
  EXPECT_TRUE(v.ok());
  return v.ok() ? v.value().root : 0;
}

}  // namespace gofer::testing

#endif  // TESTS_UNIT_GOFER_GOFER_TEST_UTIL_H_
