#include "fs/unix_socket.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "fs/inode.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace fs {

UnixCred CredOf(sentry::kernel::Task& t) { return {t.pid(), t.creds().euid, t.creds().egid}; }
namespace {

using sentry::kernel::Task;
using sentry::kernel::Waiter;

// net.core.wmem_max / rmem_max: setsockopt doubles the value asked, up to
// twice these (sock_setsockopt SO_SNDBUF), and at least SOCK_MIN_*BUF.
constexpr int kUnixBufMax = 212992;
constexpr int kUnixMinSndbuf = 4608;
constexpr int kUnixMinRcvbuf = 2304;
// net.unix.max_dgram_qlen: a dgram receiver not connected back to the
// sender takes at most this many queued messages (unix_recvq_full).
constexpr size_t kUnixMaxDgramQlen = 10;
// What a queued datagram costs its sender beyond its bytes (skb overhead),
// so zero-length datagrams still fill a buffer.
constexpr size_t kUnixDgramOverhead = 64;
constexpr int kUnixSomaxconn = 4096;

uint64_t NextSocketIno() {
  // sockfs inodes come from get_next_ino() in Linux; one counter for the
  // sentry is as unique as the app can observe (st_dev tells them apart).
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

constexpr uint64_t kUnixReadEvents = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint64_t kUnixWriteEvents = EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR;

template <typename T>
std::vector<uint8_t> OptBytes(const T& v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

// A blocking socket call's wait ended by `e`: a timeout is EAGAIN, a signal
// restarts the call unless it had a timeout (sock_intr_errno).
Errno SocketWaitError(Errno e, bool timed) {
  if (e == Errno::kETIMEDOUT) return Errno::kEAGAIN;
  if (e == Errno::kEINTR) return timed ? Errno::kEINTR : Errno::kERESTARTSYS;
  return e;
}

// The node a pathname socket address names: (st_dev, st_ino).
Result<std::pair<uint64_t, uint64_t>> NodeOf(const struct stat& st) {
  if (!S_ISSOCK(st.st_mode)) return Errno::kECONNREFUSED;
  return std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
}

std::string PathOf(const std::string& addr) { return std::string(addr.c_str()); }  // up to the first NUL

}  // namespace

// ---- UnixNames

Result<void> UnixNames::BindAbstract(const std::string& name, const std::shared_ptr<UnixSocket>& s) {
  absl::MutexLock l(&mu_);
  auto it = abstract_.find(name);
  if (it != abstract_.end() && !it->second.expired()) return Errno::kEADDRINUSE;
  abstract_[name] = s;
  return {};
}

std::shared_ptr<UnixSocket> UnixNames::LookupAbstract(const std::string& name) {
  absl::MutexLock l(&mu_);
  auto it = abstract_.find(name);
  return it == abstract_.end() ? nullptr : it->second.lock();
}

void UnixNames::BindNode(std::pair<uint64_t, uint64_t> node, const std::shared_ptr<UnixSocket>& s) {
  absl::MutexLock l(&mu_);
  nodes_[node] = s;
}

std::shared_ptr<UnixSocket> UnixNames::LookupNode(std::pair<uint64_t, uint64_t> node) {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find(node);
  return it == nodes_.end() ? nullptr : it->second.lock();
}

void UnixNames::Unbind(const UnixSocket* s) {
  absl::MutexLock l(&mu_);
  // The socket is being destroyed: its weak pointers have expired, so
  // dropping every expired entry drops its names (and any stale ones).
  (void)s;
  absl::erase_if(abstract_, [](const auto& kv) { return kv.second.expired(); });
  absl::erase_if(nodes_, [](const auto& kv) { return kv.second.expired(); });
}

std::string UnixNames::AutobindName() {
  absl::MutexLock l(&mu_);
  for (int i = 0; i < 0x100000; ++i) {
    std::string name(1, '\0');
    name += fmt::format("{:05x}", next_auto_++ & 0xfffff);
    auto it = abstract_.find(name);
    if (it == abstract_.end() || it->second.expired()) return name;
  }
  return {};
}

std::shared_ptr<UnixNames> NewUnixNames() { return std::make_shared<UnixNames>(); }

// ---- UnixSocket: life

UnixSocket::UnixSocket(int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names)
    : FileDescription(O_RDWR | (flags & O_NONBLOCK)),
      type_(type),
      ino_(NextSocketIno()),
      names_(std::move(names)),
      cred_(cred) {}

std::shared_ptr<UnixSocket> UnixSocket::Create(int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names) {
  return std::make_shared<UnixSocket>(type, flags, cred, std::move(names));
}

std::pair<std::shared_ptr<UnixSocket>, std::shared_ptr<UnixSocket>> UnixSocket::CreatePair(
    int type, int flags, UnixCred cred, std::shared_ptr<UnixNames> names) {
  auto a = Create(type, flags, cred, names);
  auto b = Create(type, flags, cred, names);
  for (auto [x, y] : {std::make_pair(a.get(), b), std::make_pair(b.get(), a)}) {
    absl::MutexLock l(&x->mu_);
    x->state_ = State::kConnected;
    x->peer_ = y;
    x->peer_cred_ = cred;  // init_peercred() of both ends
    x->has_peer_cred_ = true;
  }
  return {std::move(a), std::move(b)};
}

UnixSocket::~UnixSocket() {
  std::shared_ptr<UnixSocket> peer;
  std::deque<Message> msgs;
  std::deque<std::shared_ptr<UnixSocket>> pending;
  bool unread = false;
  bool named = false;
  {
    absl::MutexLock l(&mu_);
    peer = peer_.lock();
    unread = !rq_.empty();
    msgs.swap(rq_);
    pending.swap(accept_q_);
    named = !addr_.empty();
  }
  if (named) names_->Unbind(this);
  for (Message& m : msgs) {
    if (auto s = m.sender.lock()) s->Uncharge(m.charge);
  }
  // unix_release_sock(): the peer of a connection sees EOF and EPOLLHUP,
  // and ECONNRESET if we leave data unread; connections not yet accepted
  // are released with the listener.
  if (peer != nullptr) peer->PeerReleased(unread);
  space_.Notify();
}

void UnixSocket::PeerReleased(bool unread) {
  {
    absl::MutexLock l(&mu_);
    if (connection()) {
      shut_ = kRcvShutdown | kSendShutdown;
      if (unread) error_ = ECONNRESET;
    }
  }
  Wake();
}

void UnixSocket::Uncharge(size_t n) {
  wmem_.fetch_sub(static_cast<int64_t>(n), std::memory_order_acq_rel);
  NotifyEvents(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
}

UnixSocket* AsUnixSocket(FileDescription& f) { return dynamic_cast<UnixSocket*>(&f); }

// ---- Data

void UnixSocket::EnqueueLocked(Message m) {
  rq_bytes_ += m.data.size();
  rq_.push_back(std::move(m));
}

Result<size_t> UnixSocket::Send(std::span<const uint8_t> data, const std::shared_ptr<UnixSocket>* target,
                                UnixCred cred, std::vector<std::shared_ptr<FileDescription>>* rights) {
  std::shared_ptr<UnixSocket> other;
  int sndbuf;
  std::string from;
  {
    absl::MutexLock l(&mu_);
    if (connection()) {
      if (state_ != State::kConnected) return Errno::kENOTCONN;
      if (shut_ & kSendShutdown) return Errno::kEPIPE;
      other = peer_.lock();
      if (other == nullptr) return Errno::kEPIPE;
    } else {
      if (shut_ & kSendShutdown) return Errno::kEPIPE;
      if (target != nullptr) {
        other = *target;
      } else {
        other = peer_.lock();
        if (other == nullptr) {
          if (state_ != State::kConnected) return Errno::kENOTCONN;
          // unix_dgram_sendmsg(): the connected peer died; forget it once.
          state_ = State::kUnconnected;
          peer_.reset();
          return Errno::kECONNREFUSED;
        }
      }
    }
    sndbuf = sndbuf_;
    from = addr_;
  }
  if (!stream() && data.size() > static_cast<size_t>(sndbuf) - 32) return Errno::kEMSGSIZE;
  const int64_t wmem = wmem_.load(std::memory_order_acquire);
  if (wmem >= sndbuf) return Errno::kEAGAIN;
  size_t n = data.size();
  if (stream()) n = std::min<size_t>(n, static_cast<size_t>(sndbuf - wmem));
  const size_t charge = stream() ? n : n + kUnixDgramOverhead;
  {
    absl::MutexLock l(&other->mu_);
    if (other->shut_ & kRcvShutdown) return Errno::kEPIPE;
    if (!connection()) {
      std::shared_ptr<UnixSocket> back = other->peer_.lock();
      // unix_may_send(): a socket connected elsewhere takes nothing from us.
      if (back != nullptr && back.get() != this) return Errno::kEPERM;
      if (back == nullptr && other->rq_.size() > kUnixMaxDgramQlen) return Errno::kEAGAIN;
    } else if (other->state_ != State::kConnected) {
      return Errno::kEPIPE;
    }
    Message m;
    m.data.assign(data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    m.sender = weak_from_this();
    m.charge = charge;
    m.from = std::move(from);
    m.cred = cred;
    if (rights != nullptr) m.rights = std::move(*rights);
    wmem_.fetch_add(static_cast<int64_t>(charge), std::memory_order_acq_rel);
    other->EnqueueLocked(std::move(m));
  }
  other->NotifyEvents(EPOLLIN | EPOLLRDNORM);
  return n;
}

Result<UnixRecv> UnixSocket::Recv(std::span<uint8_t> buf, int flags) {
  const bool peek = flags & MSG_PEEK;
  UnixRecv out;
  std::vector<std::pair<std::weak_ptr<UnixSocket>, size_t>> uncharge;
  {
    absl::MutexLock l(&mu_);
    if (type_ == SOCK_SEQPACKET && state_ != State::kConnected) return Errno::kENOTCONN;
    if (state_ == State::kListening) return Errno::kEINVAL;
    if (rq_.empty()) {
      if (error_ != 0) return static_cast<Errno>(std::exchange(error_, 0));
      if (shut_ & kRcvShutdown) return out;  // EOF
      if (stream() && state_ != State::kConnected) return Errno::kEINVAL;
      return Errno::kEAGAIN;
    }
    if (passcred_) out.cred = rq_.front().cred;
    out.from = rq_.front().from;
    if (stream()) {
      // Reads go across message boundaries (unix_stream_read_generic), but
      // not past files passed with SCM_RIGHTS: a read stops after the
      // message that carried them.
      size_t idx = 0;
      size_t skip = 0;
      while (out.copied < buf.size() && idx < rq_.size()) {
        Message& m = rq_[idx];
        const bool had_rights = !m.rights.empty();
        if (had_rights) {
          out.rights = peek ? m.rights : std::move(m.rights);
          m.rights.clear();
          if (peek) m.rights = out.rights;
        }
        const size_t at = m.off + skip;
        const size_t n = std::min(m.data.size() - at, buf.size() - out.copied);
        std::memcpy(buf.data() + out.copied, m.data.data() + at, n);
        out.copied += n;
        if (peek) {
          skip = 0;
          ++idx;
          if (had_rights) break;
          continue;
        }
        m.off += n;
        rq_bytes_ -= n;
        m.charge -= n;
        uncharge.emplace_back(m.sender, n);
        if (m.off == m.data.size()) rq_.pop_front();
        if (had_rights) break;
      }
      out.full = out.copied;
    } else {
      Message& m = rq_.front();
      const size_t n = std::min(m.data.size(), buf.size());
      std::memcpy(buf.data(), m.data.data(), n);
      out.copied = n;
      out.full = m.data.size();
      out.truncated = m.data.size() > buf.size();
      out.rights = m.rights;
      if (!peek) {
        rq_bytes_ -= m.data.size();
        uncharge.emplace_back(m.sender, m.charge);
        rq_.pop_front();
      }
    }
  }
  for (auto& [w, n] : uncharge) {
    if (auto s = w.lock()) s->Uncharge(n);
  }
  if (!uncharge.empty()) space_.Notify();
  return out;
}

std::optional<absl::Time> UnixSocket::Deadline(bool send) {
  absl::MutexLock l(&mu_);
  const absl::Duration d = send ? sndtimeo_ : rcvtimeo_;
  if (d == absl::ZeroDuration()) return std::nullopt;
  return absl::Now() + d;
}

Result<size_t> UnixSocket::SendBlocking(Task& t, std::span<const uint8_t> data, int flags,
                                        const std::shared_ptr<UnixSocket>* target,
                                        std::vector<std::shared_ptr<FileDescription>>* rights) {
  const bool nonblock = (flags & MSG_DONTWAIT) || (this->flags() & O_NONBLOCK);
  const UnixCred cred = CredOf(t);
  size_t done = 0;
  std::optional<Waiter> w;
  std::shared_ptr<UnixSocket> dest;  // whose space_ we wait on (dgram)
  std::optional<absl::Time> deadline;
  absl::Cleanup unregister = [&] {
    if (!w.has_value()) return;
    EventUnregister(&*w);
    if (dest != nullptr) dest->space_.Remove(&*w);
  };
  while (true) {
    Result<size_t> r = Send(data.subspan(done), target, cred, done == 0 ? rights : nullptr);
    if (r.ok()) {
      done += r.value();
      if (!stream() || done == data.size()) return done;
      continue;
    }
    const Errno e = r.error();
    // unix_stream_sendmsg() raises SIGPIPE; datagram sockets do not.
    if (e == Errno::kEPIPE && stream() && !(flags & MSG_NOSIGNAL)) t.SendSignal(SIGPIPE);
    if (e != Errno::kEAGAIN || nonblock) {
      if (done > 0) return done;
      return e;
    }
    if (!w.has_value()) {
      // Register, then try again before sleeping (waiter.h).
      w.emplace(t, kUnixWriteEvents);
      EventRegister(&*w);
      if (!stream()) {
        if (target != nullptr) {
          dest = *target;
        } else {
          absl::MutexLock l(&mu_);
          dest = peer_.lock();
        }
        if (dest != nullptr) dest->space_.Add(&*w);
      }
      deadline = Deadline(true);
      continue;
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok()) {
      if (done > 0) return done;
      return SocketWaitError(b.error(), deadline.has_value());
    }
  }
}

Result<UnixRecv> UnixSocket::RecvBlocking(Task& t, std::span<uint8_t> buf, int flags) {
  const bool nonblock = (flags & MSG_DONTWAIT) || (this->flags() & O_NONBLOCK);
  const bool waitall = (flags & MSG_WAITALL) && stream() && !(flags & MSG_PEEK);
  UnixRecv total;
  std::optional<Waiter> w;
  std::optional<absl::Time> deadline;
  absl::Cleanup unregister = [&] {
    if (w.has_value()) EventUnregister(&*w);
  };
  while (true) {
    Result<UnixRecv> r = Recv(buf.subspan(total.copied), flags);
    if (r.ok()) {
      if (!stream()) return r;
      if (total.copied == 0) {
        total.cred = r.value().cred;
        total.from = r.value().from;
      }
      const bool got_rights = !r.value().rights.empty();
      for (const auto& f : r.value().rights) total.rights.push_back(f);
      total.copied += r.value().copied;
      total.full = total.copied;
      if (r.value().copied == 0 || !waitall || total.copied == buf.size() || got_rights) return total;
      continue;
    }
    const Errno e = r.error();
    if (e != Errno::kEAGAIN || nonblock) {
      if (total.copied > 0) return total;
      return e;
    }
    if (!w.has_value()) {
      w.emplace(t, kUnixReadEvents);
      EventRegister(&*w);
      deadline = Deadline(false);
      continue;
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok()) {
      if (total.copied > 0) return total;
      return SocketWaitError(b.error(), deadline.has_value());
    }
  }
}

Result<void> UnixSocket::Shutdown(int how) {
  if (how < SHUT_RD || how > SHUT_RDWR) return Errno::kEINVAL;
  const int mode = how + 1;  // SHUT_RD -> RCV_SHUTDOWN, ... (unix_shutdown)
  std::shared_ptr<UnixSocket> peer;
  {
    absl::MutexLock l(&mu_);
    shut_ |= mode;
    if (connection()) peer = peer_.lock();
  }
  if (peer != nullptr) {
    const int peer_mode = ((mode & kRcvShutdown) ? kSendShutdown : 0) | ((mode & kSendShutdown) ? kRcvShutdown : 0);
    {
      absl::MutexLock l(&peer->mu_);
      peer->shut_ |= peer_mode;
    }
    peer->Wake();
  }
  Wake();
  space_.Notify();
  return {};
}

// ---- FileDescription

Result<size_t> UnixSocket::Read(std::span<uint8_t> buf) {
  const UnixRecv r = TRY(Recv(buf, 0));
  return r.copied;
}

Result<size_t> UnixSocket::Write(std::span<const uint8_t> buf) { return Send(buf, nullptr, cred_); }

Result<size_t> UnixSocket::TaskRead(Task& t, std::span<uint8_t> buf) {
  const UnixRecv r = TRY(RecvBlocking(t, buf, 0));
  return r.copied;
}

Result<size_t> UnixSocket::TaskWrite(Task& t, std::span<const uint8_t> buf) { return SendBlocking(t, buf, 0, nullptr); }

Result<struct stat> UnixSocket::Stat() {
  struct stat st {};
  st.st_dev = makedev(0, 8);  // sockfs, an anonymous-device filesystem
  st.st_ino = ino_;
  st.st_mode = S_IFSOCK | 0777;
  st.st_nlink = 1;
  st.st_uid = cred_.uid;
  st.st_gid = cred_.gid;
  st.st_blksize = 4096;
  return st;
}

Result<uint64_t> UnixSocket::Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) {
  int32_t n = 0;
  if (cmd == FIONREAD) {  // SIOCINQ (unix_inq_len)
    absl::MutexLock l(&mu_);
    if (state_ == State::kListening) return Errno::kEINVAL;
    size_t bytes = 0;
    if (type_ == SOCK_DGRAM) {
      if (!rq_.empty()) bytes = rq_.front().data.size();
    } else {
      for (const Message& m : rq_) bytes += m.data.size() - m.off;
    }
    n = static_cast<int32_t>(std::min<size_t>(bytes, INT32_MAX));
  } else if (cmd == TIOCOUTQ) {  // SIOCOUTQ: bytes sent and not yet read
    n = static_cast<int32_t>(std::clamp<int64_t>(wmem_.load(), 0, INT32_MAX));
  } else {
    return Errno::kENOTTY;
  }
  TRY(mm.CopyOut(sentry::mm::UserPtr<int32_t>(arg), n));
  return 0;
}

std::string UnixSocket::Path() const { return fmt::format("socket:[{}]", ino_); }

uint64_t UnixSocket::Readiness(uint64_t mask) {
  uint64_t r = 0;
  std::shared_ptr<UnixSocket> peer;
  int sndbuf;
  {
    absl::MutexLock l(&mu_);
    if (error_ != 0) r |= EPOLLERR;
    if (shut_ == (kRcvShutdown | kSendShutdown)) r |= EPOLLHUP;
    if (shut_ & kRcvShutdown) r |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
    if (!rq_.empty() || !accept_q_.empty()) r |= EPOLLIN | EPOLLRDNORM;
    // unix_poll(): an unconnected stream or seqpacket socket is hung up.
    if (connection() && state_ == State::kUnconnected) r |= EPOLLHUP;
    if (state_ == State::kListening) return r & (mask | EPOLLERR | EPOLLHUP);
    if (!connection()) peer = peer_.lock();
    sndbuf = sndbuf_;
  }
  // unix_writable(): a quarter of the send buffer or less in flight.
  bool writable = (wmem_.load(std::memory_order_acquire) << 2) <= sndbuf;
  if (writable && peer != nullptr) {
    // unix_dgram_poll(): a peer not connected back to us with a full queue.
    absl::MutexLock l(&peer->mu_);
    if (peer->peer_.lock().get() != this && peer->rq_.size() > kUnixMaxDgramQlen) writable = false;
  }
  if (writable) r |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
  return r & (mask | EPOLLERR | EPOLLHUP);
}

// ---- Names and connections

std::string UnixSocket::local_addr() const {
  absl::MutexLock l(&mu_);
  return addr_;
}

Result<std::string> UnixSocket::peer_addr() const {
  absl::MutexLock l(&mu_);
  if (state_ != State::kConnected) return Errno::kENOTCONN;
  return peer_name_;
}

Result<void> UnixSocket::Bind(Task& t, const std::string& addr_in) {
  std::string addr = addr_in;
  {
    absl::MutexLock l(&mu_);
    if (!addr_.empty()) return Errno::kEINVAL;
  }
  if (addr.empty()) addr = names_->AutobindName();  // unix_autobind()
  if (addr.empty()) return Errno::kENOSPC;
  if (addr[0] == '\0') {
    TRY(names_->BindAbstract(addr, shared_from_this()));
  } else {
    // unix_bind_bsd(): a socket node made with the caller's umask; an
    // existing name is EADDRINUSE.
    const std::string path = PathOf(addr);
    const Caller c = CallerOf(t);
    Vfs& vfs = t.kernel().vfs();
    Result<void> made = vfs.Mknod(c, AT_FDCWD, path, S_IFSOCK | 0777, 0);
    if (!made.ok()) return made.error() == Errno::kEEXIST ? Errno::kEADDRINUSE : made.error();
    const fs::Path p = TRY(vfs.ResolveAt(c, AT_FDCWD, path, ResolveOpts{.follow_final = false}));
    const struct stat st = TRY(vfs.Stat(c, p));
    names_->BindNode(TRY(NodeOf(st)), shared_from_this());
    addr = path;
  }
  absl::MutexLock l(&mu_);
  addr_ = addr;
  return {};
}

Result<void> UnixSocket::Listen(int backlog) {
  if (!connection()) return Errno::kEOPNOTSUPP;
  if (static_cast<unsigned>(backlog) > kUnixSomaxconn) backlog = kUnixSomaxconn;
  {
    absl::MutexLock l(&mu_);
    if (addr_.empty()) return Errno::kEINVAL;  // unix_listen(): not bound
    if (state_ == State::kConnected) return Errno::kEINVAL;
    state_ = State::kListening;
    backlog_ = backlog;
    // init_peercred(): a listener's SO_PEERCRED is its own.
    peer_cred_ = cred_;
    has_peer_cred_ = true;
  }
  Wake();
  return {};
}

Result<std::shared_ptr<UnixSocket>> UnixSocket::Find(Task& t, const std::string& addr) {
  if (addr.empty()) return Errno::kEINVAL;
  std::shared_ptr<UnixSocket> s;
  if (addr[0] == '\0') {
    s = names_->LookupAbstract(addr);
  } else {
    // unix_find_bsd(): the node must be a socket the caller may write.
    const Caller c = CallerOf(t);
    Vfs& vfs = t.kernel().vfs();
    const fs::Path p = TRY(vfs.ResolveAt(c, AT_FDCWD, PathOf(addr)));
    const struct stat st = TRY(vfs.Stat(c, p));
    TRY(CheckPermission(*c.creds, st, kMayWrite));
    s = names_->LookupNode(TRY(NodeOf(st)));
  }
  if (s == nullptr) return Errno::kECONNREFUSED;
  // unix_find_abstract() looks names up by type too; unix_find_bsd() finds
  // the node and then refuses the wrong type.
  if (s->type_ != type_) return addr[0] == '\0' ? Errno::kECONNREFUSED : Errno::kEPROTOTYPE;
  return s;
}

Result<void> UnixSocket::Connect(Task& t, const std::string& addr, bool* wait) {
  *wait = false;
  std::shared_ptr<UnixSocket> other = TRY(Find(t, addr));
  const UnixCred cred = CredOf(t);
  if (!connection()) {
    // A datagram connect sets the default destination (unix_dgram_connect).
    {
      absl::MutexLock l(&other->mu_);
      std::shared_ptr<UnixSocket> back = other->peer_.lock();
      if (back != nullptr && back.get() != this) return Errno::kEPERM;
    }
    absl::MutexLock l(&mu_);
    peer_ = other;
    peer_name_ = addr[0] == '\0' ? addr : PathOf(addr);
    state_ = State::kConnected;
    return {};
  }
  // Its own name: never a listener here (a listener cannot connect), and
  // locking both below would take one mutex twice.
  if (other.get() == this) {
    absl::MutexLock l(&mu_);
    if (state_ == State::kConnected) return Errno::kEISCONN;
    if (state_ == State::kListening) return Errno::kEINVAL;
    return Errno::kECONNREFUSED;
  }
  std::shared_ptr<UnixSocket> server;
  {
    absl::MutexLock l(&mu_);
    if (state_ == State::kConnected) return Errno::kEISCONN;
    if (state_ == State::kListening) return Errno::kEINVAL;
    absl::MutexLock ol(&other->mu_);  // lock order: connecting socket, then listener
    if (other->state_ != State::kListening || (other->shut_ & kRcvShutdown)) return Errno::kECONNREFUSED;
    if (other->accept_q_.size() > static_cast<size_t>(other->backlog_)) {
      *wait = true;
      return Errno::kEAGAIN;
    }
    // unix_stream_connect(): the server's end is made now and queued for
    // accept(2); the client is connected at once.
    server = Create(type_, 0, other->cred_, names_);
    {
      absl::MutexLock sl(&server->mu_);
      server->state_ = State::kConnected;
      server->peer_ = weak_from_this();
      server->addr_ = other->addr_;
      server->peer_name_ = addr_;
      server->peer_cred_ = cred;
      server->has_peer_cred_ = true;
    }
    other->accept_q_.push_back(server);
    state_ = State::kConnected;
    peer_ = server;
    peer_name_ = other->addr_;
    peer_cred_ = other->cred_;
    has_peer_cred_ = true;
  }
  other->NotifyEvents(EPOLLIN | EPOLLRDNORM);
  Wake();
  return {};
}

Result<void> UnixSocket::ConnectBlocking(Task& t, const std::string& addr) {
  bool wait = false;
  Result<void> r = Connect(t, addr, &wait);
  if (r.ok() || !wait || (flags() & O_NONBLOCK)) return r;
  // A full backlog: wait for an accept (unix_wait_for_peer).
  std::shared_ptr<UnixSocket> other = TRY(Find(t, addr));
  Waiter w(t, EPOLLOUT);
  other->EventRegister(&w);
  absl::Cleanup done = [&] { other->EventUnregister(&w); };
  const std::optional<absl::Time> deadline = Deadline(true);
  while (true) {
    r = Connect(t, addr, &wait);
    if (r.ok() || !wait) return r;
    Result<void> b = t.Block(w, deadline);
    if (!b.ok()) return SocketWaitError(b.error(), deadline.has_value());
  }
}

Result<std::shared_ptr<UnixSocket>> UnixSocket::AcceptBlocking(Task& t, int flags) {
  if (!connection()) return Errno::kEOPNOTSUPP;
  std::optional<Waiter> w;
  std::optional<absl::Time> deadline;
  absl::Cleanup unregister = [&] {
    if (w.has_value()) EventUnregister(&*w);
  };
  while (true) {
    std::shared_ptr<UnixSocket> s;
    {
      absl::MutexLock l(&mu_);
      if (state_ != State::kListening) return Errno::kEINVAL;
      if (!accept_q_.empty()) {
        s = std::move(accept_q_.front());
        accept_q_.pop_front();
      }
    }
    if (s != nullptr) {
      s->set_flags(O_RDWR | (flags & O_NONBLOCK));
      NotifyEvents(EPOLLOUT);  // a connect waiting for backlog room
      return s;
    }
    if (this->flags() & O_NONBLOCK) return Errno::kEAGAIN;
    {
      // unix_accept(): a shut-down listener has nothing more to wait for
      // (skb_recv_datagram returns no error and no connection: EINVAL).
      absl::MutexLock l(&mu_);
      if (shut_ & kRcvShutdown) return Errno::kEINVAL;
    }
    if (!w.has_value()) {
      w.emplace(t, kUnixReadEvents);
      EventRegister(&*w);
      deadline = Deadline(false);
      continue;
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok()) return SocketWaitError(b.error(), deadline.has_value());
  }
}

// ---- Options

Result<std::vector<uint8_t>> UnixSocket::GetOption(int level, int name) {
  if (level != SOL_SOCKET) return Errno::kEOPNOTSUPP;
  absl::MutexLock l(&mu_);
  auto timeval_of = [](absl::Duration d) { return OptBytes(absl::ToTimeval(d)); };
  switch (name) {
    case SO_TYPE: return OptBytes<int>(type_);
    case SO_DOMAIN: return OptBytes<int>(AF_UNIX);
    case SO_PROTOCOL: return OptBytes<int>(0);
    case SO_ERROR: return OptBytes<int>(std::exchange(error_, 0));
    case SO_SNDBUF: return OptBytes<int>(sndbuf_);
    case SO_RCVBUF: return OptBytes<int>(rcvbuf_);
    case SO_ACCEPTCONN: return OptBytes<int>(state_ == State::kListening);
    case SO_PASSCRED: return OptBytes<int>(passcred_);
    case SO_REUSEADDR:
    case SO_KEEPALIVE:
    case SO_BROADCAST:
    case SO_DONTROUTE:
    case SO_OOBINLINE:
    case SO_PRIORITY: return OptBytes<int>(0);
    case SO_RCVLOWAT:
    case SO_SNDLOWAT: return OptBytes<int>(1);
    case SO_LINGER: return OptBytes(linger{});
    case SO_RCVTIMEO: return timeval_of(rcvtimeo_);
    case SO_SNDTIMEO: return timeval_of(sndtimeo_);
    case SO_PEERCRED: {
      // cred_to_ucred(): no peer is pid 0 and the overflow ids.
      struct ucred uc = {0, 65534, 65534};
      if (has_peer_cred_) uc = {peer_cred_.pid, peer_cred_.uid, peer_cred_.gid};
      return OptBytes(uc);
    }
    default: return Errno::kENOPROTOOPT;
  }
}

Result<void> UnixSocket::SetOption(int level, int name, std::span<const uint8_t> val) {
  if (level != SOL_SOCKET) return Errno::kEOPNOTSUPP;
  if (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
    // sock_set_timeout(): a zero timeval means no timeout.
    struct timeval tv {};
    if (val.size() < sizeof(tv)) return Errno::kEINVAL;
    std::memcpy(&tv, val.data(), sizeof(tv));
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return Errno::kEDOM;
    absl::Duration d = tv.tv_sec < 0 ? absl::ZeroDuration() : absl::DurationFromTimeval(tv);
    absl::MutexLock l(&mu_);
    (name == SO_RCVTIMEO ? rcvtimeo_ : sndtimeo_) = d;
    return {};
  }
  if (name == SO_LINGER) {
    if (val.size() < sizeof(linger)) return Errno::kEINVAL;
    return {};  // nothing lingers: a close never waits for a reader
  }
  int v = 0;
  if (val.size() < sizeof(int)) return Errno::kEINVAL;
  std::memcpy(&v, val.data(), sizeof(int));
  switch (name) {
    case SO_SNDBUF: {
      {
        absl::MutexLock l(&mu_);
        sndbuf_ = std::max(std::clamp(v, 0, kUnixBufMax) * 2, kUnixMinSndbuf);
      }
      NotifyEvents(EPOLLOUT | EPOLLWRNORM);
      return {};
    }
    case SO_RCVBUF: {
      absl::MutexLock l(&mu_);
      rcvbuf_ = std::max(std::clamp(v, 0, kUnixBufMax) * 2, kUnixMinRcvbuf);
      return {};
    }
    case SO_PASSCRED: {
      absl::MutexLock l(&mu_);
      passcred_ = v != 0;
      return {};
    }
    case SO_REUSEADDR:
    case SO_KEEPALIVE:
    case SO_BROADCAST:
    case SO_DONTROUTE:
    case SO_OOBINLINE:
    case SO_PRIORITY:
    case SO_RCVLOWAT:
    case SO_SNDLOWAT: return {};  // accepted; no effect on unix sockets here
    default: return Errno::kENOPROTOOPT;
  }
}

}  // namespace fs
