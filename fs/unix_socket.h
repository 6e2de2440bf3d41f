// AF_UNIX sockets, entirely in the sentry (invariant 1: never a host socket
// on the app's behalf), after Linux net/unix/af_unix.c. SOCK_STREAM,
// SOCK_SEQPACKET and SOCK_DGRAM; socketpair(2), and socket(2) with
// bind/listen/connect/accept on abstract names (a per-sandbox table,
// UnixNames) and pathname names (a S_IFSOCK node in the VFS, found again by
// its device and inode number).
//
// Each socket owns a receive queue of messages. A sender charges the bytes
// it queued in a peer to its own write allocation (sk_wmem_alloc) until the
// reader consumes them, so SO_SNDBUF bounds a writer as in Linux, and a
// reader that frees room wakes the writer. Send/Recv never block; the
// *Blocking variants wait through Task::Block (invariant 5) unless
// O_NONBLOCK or MSG_DONTWAIT, with SO_SNDTIMEO/SO_RCVTIMEO deadlines.
//
// Lock order: a connecting socket's mu_ before the listener's mu_;
// UnixNames::mu_ is taken with no socket lock held. Otherwise one socket
// lock at a time.
#ifndef FS_UNIX_SOCKET_H_
#define FS_UNIX_SOCKET_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fs/file_description.h"

namespace sentry::kernel {
class Task;
}

namespace fs {

class UnixSocket;
struct Caller;
class Vfs;

// Linux's wmem_default/rmem_default (net.core.*), what a new socket gets.
constexpr int kUnixDefaultBuf = 212992;

struct UnixCred {
  int32_t pid = 0;
  uint32_t uid = 0, gid = 0;
};
// The credentials `t` shows a peer (SO_PEERCRED, SCM_CREDENTIALS): its
// process id and effective ids.
UnixCred CredOf(sentry::kernel::Task& t);

// The names bound in one sandbox: abstract names by their bytes, pathname
// names by the (st_dev, st_ino) of their socket node.
class UnixNames {
 public:
  // EADDRINUSE if the name is taken by a live socket.
  Result<void> BindAbstract(const std::string& name, const std::shared_ptr<UnixSocket>& s);
  std::shared_ptr<UnixSocket> LookupAbstract(const std::string& name);
  void BindNode(std::pair<uint64_t, uint64_t> node, const std::shared_ptr<UnixSocket>& s);
  std::shared_ptr<UnixSocket> LookupNode(std::pair<uint64_t, uint64_t> node);
  // Forgets whatever `s` bound (its release).
  void Unbind(const UnixSocket* s);
  // An unused autobind name ("\0" and five hex digits), as unix_autobind().
  std::string AutobindName();

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<UnixSocket>> abstract_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::weak_ptr<UnixSocket>> nodes_ ABSL_GUARDED_BY(mu_);
  uint32_t next_auto_ ABSL_GUARDED_BY(mu_) = 0;
};

std::shared_ptr<UnixNames> NewUnixNames();

// What one receive got.
struct UnixRecv {
  size_t copied = 0;      // bytes put in the buffer
  size_t full = 0;        // the message's whole length (dgram, seqpacket)
  bool truncated = false;  // MSG_TRUNC in msg_flags
  std::string from;       // sender's bound address (sun_path bytes), if any
  std::optional<UnixCred> cred;  // with SO_PASSCRED
  std::vector<std::shared_ptr<FileDescription>> rights;  // SCM_RIGHTS
};

// SCM_MAX_FD: the most files one SCM_RIGHTS message may carry.
constexpr size_t kScmMaxFd = 253;

class UnixSocket final : public FileDescription, public std::enable_shared_from_this<UnixSocket> {
 public:
  // An unconnected socket of `type` (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET);
  // `flags` may hold O_NONBLOCK.
  static std::shared_ptr<UnixSocket> Create(int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names);
  static std::pair<std::shared_ptr<UnixSocket>, std::shared_ptr<UnixSocket>> CreatePair(
      int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names);
  UnixSocket(int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names);
  ~UnixSocket() override;

  int type() const { return type_; }
  uint64_t ino() const { return ino_; }

  // ---- Data. Never block: EAGAIN when the caller should wait.
  // `to` (sendto's address, sun_path bytes) only for dgram; `target` is the
  // socket it names. Returns the bytes queued (a stream send may be short).
  // `rights` (SCM_RIGHTS) go with the first byte queued, and are taken
  // only if something was.
  Result<size_t> Send(std::span<const uint8_t> data, const std::shared_ptr<UnixSocket>* target, UnixCred cred,
                      std::vector<std::shared_ptr<FileDescription>>* rights = nullptr);
  // `flags`: MSG_PEEK, MSG_TRUNC.
  Result<UnixRecv> Recv(std::span<uint8_t> buf, int flags);
  // Blocking forms; `flags` may add MSG_DONTWAIT, MSG_NOSIGNAL, MSG_WAITALL.
  // EPIPE on a stream socket sends SIGPIPE unless MSG_NOSIGNAL.
  Result<size_t> SendBlocking(sentry::kernel::Task& t, std::span<const uint8_t> data, int flags,
                              const std::shared_ptr<UnixSocket>* target,
                              std::vector<std::shared_ptr<FileDescription>>* rights = nullptr);
  Result<UnixRecv> RecvBlocking(sentry::kernel::Task& t, std::span<uint8_t> buf, int flags);

  Result<void> Shutdown(int how);

  // ---- Names and connections. Addresses are sun_path bytes: empty is
  // unnamed, a leading NUL is abstract.
  Result<void> Bind(sentry::kernel::Task& t, const std::string& addr);
  Result<void> Listen(int backlog);
  Result<void> ConnectBlocking(sentry::kernel::Task& t, const std::string& addr);
  Result<std::shared_ptr<UnixSocket>> AcceptBlocking(sentry::kernel::Task& t, int flags);
  // The socket bound at `addr` (ECONNREFUSED, ENOENT, ...).
  Result<std::shared_ptr<UnixSocket>> Find(sentry::kernel::Task& t, const std::string& addr);
  std::string local_addr() const;
  Result<std::string> peer_addr() const;

  // ---- Options (SOL_SOCKET). The value as getsockopt copies it out.
  Result<std::vector<uint8_t>> GetOption(int level, int name);
  Result<void> SetOption(int level, int name, std::span<const uint8_t> val);

  // ---- FileDescription.
  Result<size_t> Read(std::span<uint8_t> buf) override;
  Result<size_t> Write(std::span<const uint8_t> buf) override;
  bool OwnBlocking() const override { return true; }
  Result<size_t> TaskRead(sentry::kernel::Task& t, std::span<uint8_t> buf) override;
  Result<size_t> TaskWrite(sentry::kernel::Task& t, std::span<const uint8_t> buf) override;
  Result<struct stat> Stat() override;
  Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override;
  std::string Path() const override;
  uint64_t Readiness(uint64_t mask) override;
  bool Pollable() const override { return true; }

  // Called when a message this socket sent leaves a receive queue.
  void Uncharge(size_t n);

 private:
  enum class State { kUnconnected, kListening, kConnected };
  struct Message {
    std::vector<uint8_t> data;
    size_t off = 0;  // stream: bytes already read
    std::weak_ptr<UnixSocket> sender;
    size_t charge = 0;  // what the sender is still charged for it
    std::string from;
    UnixCred cred;
    std::vector<std::shared_ptr<FileDescription>> rights;
  };
  static constexpr int kRcvShutdown = 1, kSendShutdown = 2;

  bool stream() const { return type_ == SOCK_STREAM; }
  bool connection() const { return type_ != SOCK_DGRAM; }
  void Wake() { NotifyEvents(~0ull); }
  // Queues `m` here (the receiver), under mu_.
  void EnqueueLocked(Message m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The peer's side of a connection going away.
  void PeerReleased(bool unread);
  Result<void> Connect(sentry::kernel::Task& t, const std::string& addr, bool* wait);
  std::optional<absl::Time> Deadline(bool send);

  const int type_;
  const uint64_t ino_;
  const std::shared_ptr<UnixNames> names_;
  std::atomic<int64_t> wmem_{0};
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kUnconnected;
  std::weak_ptr<UnixSocket> peer_ ABSL_GUARDED_BY(mu_);
  std::deque<Message> rq_ ABSL_GUARDED_BY(mu_);
  size_t rq_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int shut_ ABSL_GUARDED_BY(mu_) = 0;
  int error_ ABSL_GUARDED_BY(mu_) = 0;  // SO_ERROR, cleared when read
  int sndbuf_ ABSL_GUARDED_BY(mu_) = kUnixDefaultBuf;
  int rcvbuf_ ABSL_GUARDED_BY(mu_) = kUnixDefaultBuf;
  bool passcred_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration rcvtimeo_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Duration sndtimeo_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::string addr_ ABSL_GUARDED_BY(mu_);       // bound name
  std::string peer_name_ ABSL_GUARDED_BY(mu_);  // the peer's name at connect
  UnixCred cred_;                                // at creation
  UnixCred peer_cred_ ABSL_GUARDED_BY(mu_);
  bool has_peer_cred_ ABSL_GUARDED_BY(mu_) = false;
  int backlog_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<UnixSocket>> accept_q_ ABSL_GUARDED_BY(mu_);
  // Dgram senders to this socket wait here for room (Linux's peer_wait).
  sentry::kernel::WaiterQueue space_;
};

// f as a unix socket, or null.
UnixSocket* AsUnixSocket(FileDescription& f);

}  // namespace fs

#endif  // FS_UNIX_SOCKET_H_
