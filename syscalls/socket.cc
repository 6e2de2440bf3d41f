// Socket syscalls (net/socket.c): AF_UNIX only, implemented by
// fs/unix_socket.h in the sentry. Other families are EAFNOSUPPORT: there is
// no TCP/IP stack yet (netstack/), and no app socket is ever a host socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/time/time.h"

#include "fs/unix_socket.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using fs::UnixSocket;

constexpr int kSockTypeMask = 0xf;
constexpr int kSockMax = 11;                // SOCK_MAX (include/linux/net.h)
constexpr size_t kSunPathOffset = offsetof(struct sockaddr_un, sun_path);

// The fd as a unix socket: EBADF, or ENOTSOCK for any other file.
Result<std::shared_ptr<UnixSocket>> GetSocket(Task& t, int fd) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  if (fs::AsUnixSocket(*f) == nullptr) return Errno::kENOTSOCK;
  return std::shared_ptr<UnixSocket>(f, fs::AsUnixSocket(*f));
}

// __sys_socket()/__sock_create()/unix_create(): the errno order of Linux.
// Returns the base type; `flags` gets SOCK_NONBLOCK/SOCK_CLOEXEC.
Result<int> CheckSocketArgs(int domain, int type, int protocol, int* flags) {
  *flags = type & ~kSockTypeMask;
  if (*flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return Errno::kEINVAL;
  int base = type & kSockTypeMask;
  if (domain < 0 || domain >= AF_MAX) return Errno::kEAFNOSUPPORT;
  if (base < 0 || base >= kSockMax) return Errno::kEINVAL;
  if (domain != AF_UNIX) return Errno::kEAFNOSUPPORT;  // no TCP/IP stack yet (netstack/)
  if (protocol != 0 && protocol != PF_UNIX) return Errno::kEPROTONOSUPPORT;
  if (base == SOCK_RAW) base = SOCK_DGRAM;  // unix_create(): as BSD does
  if (base != SOCK_STREAM && base != SOCK_DGRAM && base != SOCK_SEQPACKET) return Errno::kESOCKTNOSUPPORT;
  return base;
}

// A sockaddr_un from the app (unix_validate_addr, unix_mkname_bsd). An empty
// result is autobind (bind with only sun_family) when `allow_empty`.
Result<std::string> CopyInUnixAddr(Task& t, uint64_t addr, int64_t len, bool allow_empty) {
  if (len < 0 || static_cast<uint64_t>(len) > sizeof(sockaddr_un)) return Errno::kEINVAL;
  sockaddr_un sun{};
  if (len > 0) TRY(t.mm().CopyInBytes(addr, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&sun), len)));
  if (static_cast<size_t>(len) < sizeof(sa_family_t) || sun.sun_family != AF_UNIX) return Errno::kEINVAL;
  if (static_cast<size_t>(len) == kSunPathOffset) {
    if (allow_empty) return std::string();
    return Errno::kEINVAL;
  }
  const size_t n = static_cast<size_t>(len) - kSunPathOffset;
  if (sun.sun_path[0] == '\0') return std::string(sun.sun_path, n);  // abstract: every byte counts
  return std::string(sun.sun_path, strnlen(sun.sun_path, n));
}

// move_addr_to_user(): copies min(*ulen, len) bytes of the address and
// writes its full length to *ulen. `addr` as UnixSocket keeps it.
Result<void> CopyOutUnixAddr(Task& t, const std::string& name, uint64_t uaddr, uint64_t ulen_addr) {
  if (uaddr == 0 || ulen_addr == 0) return {};
  const int32_t ulen = TRY(t.mm().CopyIn(UserPtr<int32_t>(ulen_addr)));
  if (ulen < 0) return Errno::kEINVAL;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  const bool pathname = !name.empty() && name[0] != '\0';
  std::memcpy(sun.sun_path, name.data(), std::min(name.size(), sizeof(sun.sun_path)));
  const size_t full = std::min(kSunPathOffset + name.size() + (pathname ? 1 : 0), sizeof(sun));
  const size_t n = std::min<size_t>(full, static_cast<size_t>(ulen));
  if (n > 0) {
    TRY(t.mm().CopyOutBytes(uaddr, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&sun), n)));
  }
  TRY(t.mm().CopyOut(UserPtr<int32_t>(ulen_addr), static_cast<int32_t>(full)));
  return {};
}

// The destination of a sendto/sendmsg with an address.
Result<std::shared_ptr<UnixSocket>> SendTarget(Task& t, UnixSocket& s, uint64_t addr, int64_t len) {
  if (s.type() == SOCK_STREAM) {
    // unix_stream_sendmsg(): a stream socket takes no address.
    return s.peer_addr().ok() ? Errno::kEISCONN : Errno::kEOPNOTSUPP;
  }
  const std::string name = TRY(CopyInUnixAddr(t, addr, len, false));
  return s.Find(t, name);
}

// The common send: `data` already copied in.
Result<uint64_t> DoSend(Task& t, UnixSocket& s, std::span<const uint8_t> data, int flags,
                        const std::shared_ptr<UnixSocket>* target,
                        std::vector<std::shared_ptr<fs::FileDescription>>* rights = nullptr) {
  if (flags & MSG_OOB) return Errno::kEOPNOTSUPP;
  const size_t n = TRY(s.SendBlocking(t, data, flags, target, rights));
  return n;
}

Result<uint64_t> DoSendto(Task& t, int fd, uint64_t buf, uint64_t len, int flags, uint64_t addr, int64_t addrlen) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, fd));
  len = std::min(len, kMaxRwCount);
  std::shared_ptr<UnixSocket> target;
  if (addr != 0 && addrlen != 0 && s->type() != SOCK_SEQPACKET) target = TRY(SendTarget(t, *s, addr, addrlen));
  if (len > kBounceChunk && s->type() != SOCK_STREAM) return Errno::kEMSGSIZE;
  uint64_t done = 0;
  do {
    const size_t want = std::min<uint64_t>(len - done, kBounceChunk);
    std::span<uint8_t> chunk = t.BounceBuffer(want).subspan(0, want);
    Result<void> c = t.mm().CopyInBytes(buf + done, chunk);
    if (!c.ok()) return done > 0 ? Result<uint64_t>(done) : Result<uint64_t>(c.error());
    Result<uint64_t> n = DoSend(t, *s, chunk, flags, target != nullptr ? &target : nullptr);
    if (!n.ok()) return done > 0 ? Result<uint64_t>(done) : n;
    done += n.value();
    if (n.value() < want) break;
  } while (done < len);
  return done;
}

Result<uint64_t> DoRecvfrom(Task& t, int fd, uint64_t buf, uint64_t len, int flags, uint64_t addr, uint64_t addrlen) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, fd));
  if (flags & MSG_OOB) return Errno::kEINVAL;
  if (flags & MSG_ERRQUEUE) return Errno::kEAGAIN;  // no error queue on unix sockets
  const size_t want = std::min<uint64_t>(std::min(len, kMaxRwCount), kBounceChunk);
  std::span<uint8_t> chunk = t.BounceBuffer(want).subspan(0, want);
  const fs::UnixRecv r = TRY(s->RecvBlocking(t, chunk, flags));
  TRY(t.mm().CopyOutBytes(buf, std::span<const uint8_t>(chunk.data(), r.copied)));
  if (s->type() == SOCK_STREAM) {
    // unix_stream_recvmsg() gives no address.
    if (addr != 0 && addrlen != 0) TRY(t.mm().CopyOut(UserPtr<int32_t>(addrlen), int32_t{0}));
  } else if (r.from.empty()) {
    // unix_copy_addr(): an unnamed sender gives no address at all.
    if (addr != 0 && addrlen != 0) TRY(t.mm().CopyOut(UserPtr<int32_t>(addrlen), int32_t{0}));
  } else {
    TRY(CopyOutUnixAddr(t, r.from, addr, addrlen));
  }
  return (flags & MSG_TRUNC) && s->type() != SOCK_STREAM ? r.full : r.copied;
}

// Control messages of sendmsg (__scm_send): SCM_RIGHTS (the files, at most
// SCM_MAX_FD) and SCM_CREDENTIALS, which must name the sender itself.
Result<std::vector<std::shared_ptr<fs::FileDescription>>> SendControl(Task& t, uint64_t control,
                                                                     uint64_t controllen) {
  std::vector<std::shared_ptr<fs::FileDescription>> rights;
  if (controllen == 0) return rights;
  if (controllen > (1 << 16)) return Errno::kENOBUFS;
  std::vector<uint8_t> buf(controllen);
  TRY(t.mm().CopyInBytes(control, buf));
  size_t off = 0;
  while (off + sizeof(cmsghdr) <= buf.size()) {
    cmsghdr h;
    std::memcpy(&h, buf.data() + off, sizeof(h));
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > buf.size() - off) return Errno::kEINVAL;
    if (h.cmsg_level != SOL_SOCKET) {
      off += CMSG_ALIGN(h.cmsg_len);
      continue;
    }
    if (h.cmsg_type == SCM_CREDENTIALS) {
      if (h.cmsg_len != CMSG_LEN(sizeof(ucred))) return Errno::kEINVAL;
      ucred uc;
      std::memcpy(&uc, buf.data() + off + CMSG_LEN(0), sizeof(uc));
      const fs::UnixCred me = fs::CredOf(t);
      if (uc.pid != me.pid || uc.uid != me.uid || uc.gid != me.gid) return Errno::kEPERM;
    } else if (h.cmsg_type == SCM_RIGHTS) {
      const size_t n = (h.cmsg_len - CMSG_LEN(0)) / sizeof(int32_t);
      if (n == 0 || rights.size() + n > fs::kScmMaxFd) return Errno::kEINVAL;
      for (size_t i = 0; i < n; ++i) {
        int32_t fd;
        std::memcpy(&fd, buf.data() + off + CMSG_LEN(0) + i * sizeof(fd), sizeof(fd));
        // fget_raw(): O_PATH files travel too.
        rights.push_back(TRY(t.fds().Get(fd)));
      }
    } else {
      return Errno::kEINVAL;
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return rights;
}

Result<uint64_t> DoSendmsg(Task& t, int fd, uint64_t msg_addr, int flags) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, fd));
  const msghdr m = TRY(t.mm().CopyIn(UserPtr<msghdr>(msg_addr)));
  const std::vector<KIovec> iov = TRY(CopyInIovecs(t, reinterpret_cast<uint64_t>(m.msg_iov), m.msg_iovlen, Errno::kEMSGSIZE));
  std::vector<std::shared_ptr<fs::FileDescription>> rights =
      TRY(SendControl(t, reinterpret_cast<uint64_t>(m.msg_control), m.msg_controllen));
  std::shared_ptr<UnixSocket> target;
  if (m.msg_name != nullptr && m.msg_namelen != 0 && s->type() != SOCK_SEQPACKET) {
    target = TRY(SendTarget(t, *s, reinterpret_cast<uint64_t>(m.msg_name), m.msg_namelen));
  }
  uint64_t total = 0;
  for (const KIovec& v : iov) total += v.len;
  if (total > kBounceChunk && s->type() != SOCK_STREAM) return Errno::kEMSGSIZE;
  // Gathered into one buffer: one message for dgram and seqpacket. A stream
  // larger than the bounce buffer goes in pieces.
  const size_t cap = std::min<uint64_t>(total, kBounceChunk);
  std::span<uint8_t> buf = t.BounceBuffer(cap).subspan(0, cap);
  uint64_t done = 0;
  size_t vi = 0, voff = 0;
  do {
    size_t at = 0;
    while (at < buf.size() && vi < iov.size()) {
      const size_t n = std::min<uint64_t>(iov[vi].len - voff, buf.size() - at);
      TRY(t.mm().CopyInBytes(iov[vi].base + voff, std::span<uint8_t>(buf.data() + at, n)));
      at += n;
      voff += n;
      if (voff == iov[vi].len) {
        ++vi;
        voff = 0;
      }
    }
    Result<uint64_t> n = DoSend(t, *s, std::span<const uint8_t>(buf.data(), at), flags,
                                target != nullptr ? &target : nullptr, done == 0 ? &rights : nullptr);
    if (!n.ok()) return done > 0 ? Result<uint64_t>(done) : n;
    done += n.value();
    if (n.value() < at) break;
  } while (done < total);
  return done;
}

// Appends one control message to `out` as put_cmsg() does: MSG_CTRUNC when
// it does not fit in `room`.
void PutCmsg(std::vector<uint8_t>& out, size_t room, int level, int type, std::span<const uint8_t> data,
             int* msg_flags) {
  const size_t used = out.size();
  if (room < used + sizeof(cmsghdr)) {
    *msg_flags |= MSG_CTRUNC;
    return;
  }
  cmsghdr h{};
  h.cmsg_len = CMSG_LEN(data.size());
  h.cmsg_level = level;
  h.cmsg_type = type;
  std::vector<uint8_t> one(CMSG_SPACE(data.size()));
  std::memcpy(one.data(), &h, sizeof(h));
  std::memcpy(one.data() + CMSG_LEN(0), data.data(), data.size());
  size_t n = CMSG_SPACE(data.size());
  if (used + h.cmsg_len > room) {
    *msg_flags |= MSG_CTRUNC;
    n = room - used;
  } else {
    n = std::min(n, room - used);
  }
  out.insert(out.end(), one.begin(), one.begin() + static_cast<ptrdiff_t>(n));
}

Result<uint64_t> DoRecvmsg(Task& t, int fd, uint64_t msg_addr, int flags) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, fd));
  msghdr m = TRY(t.mm().CopyIn(UserPtr<msghdr>(msg_addr)));
  if (flags & MSG_OOB) return Errno::kEINVAL;
  if (flags & MSG_ERRQUEUE) return Errno::kEAGAIN;
  const std::vector<KIovec> iov = TRY(CopyInIovecs(t, reinterpret_cast<uint64_t>(m.msg_iov), m.msg_iovlen, Errno::kEMSGSIZE));
  uint64_t total = 0;
  for (const KIovec& v : iov) total += v.len;
  const size_t cap = std::min<uint64_t>(total, kBounceChunk);
  std::span<uint8_t> buf = t.BounceBuffer(cap).subspan(0, cap);
  const fs::UnixRecv r = TRY(s->RecvBlocking(t, buf, flags));
  // Scatter what came.
  size_t at = 0;
  for (const KIovec& v : iov) {
    if (at == r.copied) break;
    const size_t n = std::min<uint64_t>(v.len, r.copied - at);
    TRY(t.mm().CopyOutBytes(v.base, std::span<const uint8_t>(buf.data() + at, n)));
    at += n;
  }
  int msg_flags = flags & MSG_CMSG_CLOEXEC;  // ___sys_recvmsg() starts from it
  if (r.truncated) msg_flags |= MSG_TRUNC;
  // The address: none for streams (msg_namelen 0).
  socklen_t namelen = 0;
  if (m.msg_name != nullptr && s->type() != SOCK_STREAM && !r.from.empty()) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    const bool pathname = !r.from.empty() && r.from[0] != '\0';
    std::memcpy(sun.sun_path, r.from.data(), std::min(r.from.size(), sizeof(sun.sun_path)));
    const size_t full = std::min(kSunPathOffset + r.from.size() + (pathname ? 1 : 0), sizeof(sun));
    const size_t n = std::min<size_t>(full, m.msg_namelen);
    TRY(t.mm().CopyOutBytes(reinterpret_cast<uint64_t>(m.msg_name),
                            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&sun), n)));
    namelen = static_cast<socklen_t>(full);
  }
  // Control: SCM_CREDENTIALS with SO_PASSCRED.
  std::vector<uint8_t> control;
  const size_t room = m.msg_control != nullptr ? m.msg_controllen : 0;
  if (r.cred.has_value()) {
    const ucred uc{r.cred->pid, r.cred->uid, r.cred->gid};
    PutCmsg(control, room, SOL_SOCKET, SCM_CREDENTIALS,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&uc), sizeof(uc)), &msg_flags);
  }
  if (!r.rights.empty()) {
    // scm_detach_fds(): as many fds as fit are installed, the rest are
    // closed and MSG_CTRUNC says so.
    const size_t used = control.size();
    const size_t fit = room >= used + CMSG_LEN(0) ? (room - used - CMSG_LEN(0)) / sizeof(int32_t) : 0;
    const size_t n = std::min(fit, r.rights.size());
    if (n < r.rights.size()) msg_flags |= MSG_CTRUNC;
    std::vector<int32_t> fds;
    for (size_t i = 0; i < n; ++i) {
      Result<int> fd = t.fds().Install(r.rights[i], (flags & MSG_CMSG_CLOEXEC) != 0);
      if (!fd.ok()) {
        msg_flags |= MSG_CTRUNC;  // EMFILE: the rest are lost, as Linux
        break;
      }
      fds.push_back(fd.value());
    }
    if (!fds.empty()) {
      PutCmsg(control, room, SOL_SOCKET, SCM_RIGHTS,
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(fds.data()), fds.size() * sizeof(int32_t)),
              &msg_flags);
    }
  }
  if (!control.empty()) TRY(t.mm().CopyOutBytes(reinterpret_cast<uint64_t>(m.msg_control), control));
  TRY(t.mm().CopyOut(UserPtr<socklen_t>(msg_addr + offsetof(msghdr, msg_namelen)), namelen));
  TRY(t.mm().CopyOut(UserPtr<uint64_t>(msg_addr + offsetof(msghdr, msg_controllen)),
                     static_cast<uint64_t>(control.size())));
  TRY(t.mm().CopyOut(UserPtr<int32_t>(msg_addr + offsetof(msghdr, msg_flags)), msg_flags));
  return (flags & MSG_TRUNC) && s->type() != SOCK_STREAM ? r.full : r.copied;
}

Result<uint64_t> DoAccept(Task& t, int fd, uint64_t addr, uint64_t addrlen, int flags) {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return Errno::kEINVAL;
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, fd));
  std::shared_ptr<UnixSocket> conn = TRY(s->AcceptBlocking(t, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
  const std::string peer = conn->peer_addr().ok() ? conn->peer_addr().value() : std::string();
  // Like __sys_accept4_file: the address is copied out before the fd is
  // installed; a fault loses the connection.
  TRY(CopyOutUnixAddr(t, peer, addr, addrlen));
  const int nfd = TRY(t.fds().Install(std::move(conn), (flags & SOCK_CLOEXEC) != 0));
  return static_cast<uint64_t>(nfd);
}

}  // namespace

Result<uint64_t> Socket(Task& t, const SyscallArgs& args) {
  int flags = 0;
  const int type = TRY(CheckSocketArgs(args.I32(0), args.I32(1), args.I32(2), &flags));
  auto s = UnixSocket::Create(type, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0, fs::CredOf(t),
                              t.kernel().vfs().unix_names());
  const int fd = TRY(t.fds().Install(std::move(s), (flags & SOCK_CLOEXEC) != 0));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> Socketpair(Task& t, const SyscallArgs& args) {
  int flags = 0;
  const int type = TRY(CheckSocketArgs(args.I32(0), args.I32(1), args.I32(2), &flags));
  const UserPtr<int32_t> out = args.Ptr<int32_t>(3);
  auto [a, b] = UnixSocket::CreatePair(type, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0, fs::CredOf(t),
                                       t.kernel().vfs().unix_names());
  const bool cloexec = flags & SOCK_CLOEXEC;
  // As pipe2: install, and undo if the copy-out faults.
  const int fa = TRY(t.fds().Install(std::move(a), cloexec));
  Result<int> fb = t.fds().Install(std::move(b), cloexec);
  if (!fb.ok()) {
    (void)t.fds().Close(fa);
    return fb.error();
  }
  const std::array<int32_t, 2> fds = {fa, fb.value()};
  Result<void> c = t.mm().CopyOut(out, std::span<const int32_t>(fds));
  if (!c.ok()) {
    (void)t.fds().Close(fa);
    (void)t.fds().Close(fb.value());
    return c.error();
  }
  return 0;
}

Result<uint64_t> Connect(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  const std::string name = TRY(CopyInUnixAddr(t, args.U64(1), args.I32(2), false));
  TRY(s->ConnectBlocking(t, name));
  return 0;
}

Result<uint64_t> Accept(Task& t, const SyscallArgs& args) {
  return DoAccept(t, args.Fd(0), args.U64(1), args.U64(2), 0);
}

Result<uint64_t> Accept4(Task& t, const SyscallArgs& args) {
  return DoAccept(t, args.Fd(0), args.U64(1), args.U64(2), args.I32(3));
}

Result<uint64_t> Sendto(Task& t, const SyscallArgs& args) {
  return DoSendto(t, args.Fd(0), args.U64(1), args.U64(2), args.I32(3), args.U64(4), args.I32(5));
}

Result<uint64_t> Recvfrom(Task& t, const SyscallArgs& args) {
  return DoRecvfrom(t, args.Fd(0), args.U64(1), args.U64(2), args.I32(3), args.U64(4), args.U64(5));
}

Result<uint64_t> Sendmsg(Task& t, const SyscallArgs& args) { return DoSendmsg(t, args.Fd(0), args.U64(1), args.I32(2)); }
Result<uint64_t> Recvmsg(Task& t, const SyscallArgs& args) { return DoRecvmsg(t, args.Fd(0), args.U64(1), args.I32(2)); }

// sendmmsg(2)/recvmmsg(2): sendmsg/recvmsg per entry of a struct mmsghdr
// array, each entry's msg_len set; an error after the first message ends
// the batch with the count so far (__sys_sendmmsg, do_recvmmsg).
constexpr size_t kMmsgSize = sizeof(struct mmsghdr);

Result<uint64_t> Sendmmsg(Task& t, const SyscallArgs& args) {
  const uint64_t vec = args.U64(1);
  const uint32_t vlen = std::min<uint32_t>(args.U32(2), kUioMaxIov);
  const int flags = args.I32(3);
  TRY(GetSocket(t, args.Fd(0)));
  uint32_t i = 0;
  for (; i < vlen; ++i) {
    Result<uint64_t> n = DoSendmsg(t, args.Fd(0), vec + i * kMmsgSize, flags);
    if (!n.ok()) {
      if (i == 0) return n.error();
      break;
    }
    TRY(t.mm().CopyOut(UserPtr<uint32_t>(vec + i * kMmsgSize + offsetof(struct mmsghdr, msg_len)),
                       static_cast<uint32_t>(n.value())));
  }
  return i;
}

Result<uint64_t> Recvmmsg(Task& t, const SyscallArgs& args) {
  const uint64_t vec = args.U64(1);
  const uint32_t vlen = std::min<uint32_t>(args.U32(2), kUioMaxIov);
  int flags = args.I32(3);
  std::optional<absl::Time> deadline;
  if (args.U64(4) != 0) {
    const struct timespec ts = TRY(t.mm().CopyIn(UserPtr<struct timespec>(args.U64(4))));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  TRY(GetSocket(t, args.Fd(0)));
  uint32_t i = 0;
  for (; i < vlen; ++i) {
    Result<uint64_t> n = DoRecvmsg(t, args.Fd(0), vec + i * kMmsgSize, flags & ~MSG_WAITFORONE);
    if (!n.ok()) {
      if (i == 0) return n.error();
      break;
    }
    TRY(t.mm().CopyOut(UserPtr<uint32_t>(vec + i * kMmsgSize + offsetof(struct mmsghdr, msg_len)),
                       static_cast<uint32_t>(n.value())));
    if (flags & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
    // The timeout is only looked at between messages, as Linux does.
    if (deadline.has_value() && absl::Now() >= *deadline) {
      ++i;
      break;
    }
  }
  return i;
}

Result<uint64_t> Shutdown(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  TRY(s->Shutdown(args.I32(1)));
  return 0;
}

Result<uint64_t> Bind(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  const std::string name = TRY(CopyInUnixAddr(t, args.U64(1), args.I32(2), true));
  TRY(s->Bind(t, name));
  return 0;
}

Result<uint64_t> Listen(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  TRY(s->Listen(args.I32(1)));
  return 0;
}

Result<uint64_t> Getsockname(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  if (args.U64(1) == 0 || args.U64(2) == 0) return Errno::kEFAULT;
  TRY(CopyOutUnixAddr(t, s->local_addr(), args.U64(1), args.U64(2)));
  return 0;
}

Result<uint64_t> Getpeername(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  const std::string name = TRY(s->peer_addr());
  if (args.U64(1) == 0 || args.U64(2) == 0) return Errno::kEFAULT;
  TRY(CopyOutUnixAddr(t, name, args.U64(1), args.U64(2)));
  return 0;
}

Result<uint64_t> Setsockopt(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  const int32_t len = args.I32(4);
  if (len < 0) return Errno::kEINVAL;
  std::vector<uint8_t> val(std::min<size_t>(static_cast<size_t>(len), 256));
  if (!val.empty()) TRY(t.mm().CopyInBytes(args.U64(3), val));
  TRY(s->SetOption(args.I32(1), args.I32(2), val));
  return 0;
}

Result<uint64_t> Getsockopt(Task& t, const SyscallArgs& args) {
  std::shared_ptr<UnixSocket> s = TRY(GetSocket(t, args.Fd(0)));
  const UserPtr<int32_t> ulen = args.Ptr<int32_t>(4);
  const int32_t len = TRY(t.mm().CopyIn(ulen));
  if (len < 0) return Errno::kEINVAL;
  const std::vector<uint8_t> val = TRY(s->GetOption(args.I32(1), args.I32(2)));
  const size_t n = std::min<size_t>(val.size(), static_cast<size_t>(len));
  TRY(t.mm().CopyOutBytes(args.U64(3), std::span<const uint8_t>(val.data(), n)));
  TRY(t.mm().CopyOut(ulen, static_cast<int32_t>(n)));
  return 0;
}

}  // namespace syscalls
