// The gofer server. One connection, one thread: requests are handled in
// order, so the handle table needs no lock. See README.md for the security
// argument; the short form: every host name lookup is one openat() of one
// validated component, relative to an fd we already hold, with O_NOFOLLOW.
#include "gofer/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cerrno>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/logging.h"
#include "base/result.h"
#include "gofer/protocol.h"

namespace gofer {
namespace {

using base::UniqueFd;
namespace p = protocol;

// Open flags the sentry may pass through to the host open. Creation flags
// (O_CREAT, O_EXCL, O_TMPFILE) go through Create; O_PATH is never donated.
constexpr uint32_t kOpenFlagsAllowed = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT |
                                       O_NOATIME | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
constexpr uint32_t kCreateFlagsAllowed = kOpenFlagsAllowed | O_CREAT | O_EXCL;


// The only way a name is looked up on the host.
Result<UniqueFd> OpenPathAt(int dirfd, const std::string& name) {
  const int fd = ::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return base::FromHost(errno);
  return UniqueFd(fd);
}

struct Node {
  UniqueFd fd;      // O_PATH|O_NOFOLLOW
  uint32_t type;    // S_IFMT bits; an inode's type never changes
};

class Server {
 public:
  Server(UniqueFd sock, UniqueFd proc_self_fd, bool read_only)
      : sock_(std::move(sock)), proc_self_fd_(std::move(proc_self_fd)), read_only_(read_only) {}

  int Run(UniqueFd root);

 private:
  // Ok(false) ends the connection cleanly; an error is a protocol violation.
  Result<bool> HandleOne();
  Result<void> Dispatch(p::Op op, p::Reader& r);
  Result<void> Handshake();

  // Handlers: decode errors are returned (and drop the connection); host
  // errors go to the peer as a status.
  Result<void> DoWalk(p::Reader& r);
  Result<void> DoOpen(p::Reader& r);
  Result<void> DoReadlink(p::Reader& r);
  Result<void> DoStat(p::Reader& r);
  Result<void> DoStatfs(p::Reader& r);
  Result<void> DoRelease(p::Reader& r);
  Result<void> DoMkdir(p::Reader& r);
  Result<void> DoCreate(p::Reader& r);
  Result<void> DoSymlink(p::Reader& r);
  Result<void> DoUnlink(p::Reader& r);
  Result<void> DoRename(p::Reader& r);
  Result<void> DoSetAttr(p::Reader& r);
  Result<void> DoLink(p::Reader& r);
  Result<void> DoGetXattr(p::Reader& r);
  Result<void> DoListXattr(p::Reader& r);
  Result<void> DoSetXattr(p::Reader& r);
  Result<void> DoRemoveXattr(p::Reader& r);
  Result<void> DoMknod(p::Reader& r);
  Result<void> DoRename2(p::Reader& r);

  Result<void> SendError(p::Op op, Errno e);
  // A success response is built in one buffer: OkHeader, then the payload.
  p::Writer OkHeader(p::Op op) const;
  Result<void> Send(const p::Writer& w, int fd = -1);

  Result<Node*> Lookup(Handle h);
  Result<Node*> LookupDir(Handle h);
  Handle Insert(UniqueFd fd, uint32_t type);
  // Walks one new node from `dirfd`; returns its step (handle inserted).
  Result<WalkStep> NewStep(int dirfd, const std::string& name);
  // The step for a name just created in `dirfd` (mkdir, symlink, mknod):
  // walked, chowned to the caller's ids, with its attributes.
  Result<WalkStep> CreatedStep(int dirfd, const std::string& name, uint32_t uid, uint32_t gid);
  // Replies to `op` with the step, or with its error.
  Result<void> ReplyStep(p::Op op, const Result<WalkStep>& step);
  Result<UniqueFd> Reopen(const Node& n, int flags);
  // A data fd for metadata calls that need one (fchmod, futimens,
  // ftruncate, f*xattr): regular files and directories only.
  Result<UniqueFd> ReopenForMeta(const Node& n, int flags);
  Result<void> SetAttr(const Node& n, const p::SetAttrReq& req);
  void Chown(int fd, uint32_t uid, uint32_t gid);

  UniqueFd sock_;
  UniqueFd proc_self_fd_;
  const bool read_only_;
  Handle root_ = p::kInvalidHandle;
  uint32_t version_ = 0;  // agreed at the handshake
  Handle next_handle_ = 1;
  absl::flat_hash_map<Handle, Node> nodes_;
  std::array<uint8_t, p::kMaxMessageSize> buf_;
};

int Server::Run(UniqueFd root) {
  auto st = HostAttr(root.get());
  if (!st.ok() || !S_ISDIR(st.value().mode)) {
    logging::Error("gofer: root is not a directory");
    return kServeSetupError;
  }
  root_ = Insert(std::move(root), S_IFDIR);
  if (auto r = Handshake(); !r.ok()) {
    logging::Error("gofer: handshake failed: {}", base::ErrnoName(r.error()));
    return kServeProtocolError;
  }
  for (;;) {
    Result<bool> more = HandleOne();
    if (!more.ok()) return kServeProtocolError;  // HandleOne logged why
    if (!more.value()) return kServeOk;
  }
}

Result<void> Server::Handshake() {
  const size_t n = TRY(p::RecvMessage(sock_.get(), buf_, nullptr));
  if (n == 0) return Errno::kECONNRESET;
  p::Reader r(std::span<const uint8_t>(buf_.data(), n));
  const p::Op op = TRY(p::DecodeRequestHeader(r));
  if (op != p::Op::kVersion) return Errno::kEBADMSG;
  const p::VersionReq req = TRY(p::DecodeVersionReq(r));
  if (req.magic != p::kMagic) return Errno::kEBADMSG;
  if (req.version < p::kMinVersion) {
    // Tell the peer why before hanging up.
    TRY(SendError(op, Errno::kEPROTONOSUPPORT));
    return Errno::kEPROTONOSUPPORT;
  }
  auto st = HostAttr(nodes_.at(root_).fd.get());
  if (!st.ok()) return SendError(op, st.error());
  p::Writer w = OkHeader(op);
  version_ = std::min(req.version, p::kVersion);
  p::Encode(w, p::VersionResp{version_, root_, st.value()});
  return Send(w);
}

Result<bool> Server::HandleOne() {
  // No fds accepted from the peer: the kernel drops any it sends and we see
  // MSG_CTRUNC, which is a protocol error.
  Result<size_t> n = p::RecvMessage(sock_.get(), buf_, nullptr);
  if (!n.ok()) {
    logging::Error("gofer: dropping connection: receive failed: {}", base::ErrnoName(n.error()));
    return n.error();
  }
  if (n.value() == 0) return false;
  p::Reader r(std::span<const uint8_t>(buf_.data(), n.value()));
  Result<p::Op> op = p::DecodeRequestHeader(r);
  if (!op.ok()) {
    logging::Error("gofer: dropping connection: unknown request ({} bytes)", n.value());
    return op.error();
  }
  // Dispatch fails only on a malformed request or a dead socket; host
  // errors were sent to the peer as a status.
  if (auto res = Dispatch(op.value(), r); !res.ok()) {
    logging::Error("gofer: dropping connection: {} request ({} bytes): {}", p::OpName(op.value()), n.value(),
                   base::ErrnoName(res.error()));
    return res.error();
  }
  return true;
}

Result<void> Server::Dispatch(p::Op op, p::Reader& r) {
  if (p::OpVersion(op) > version_) return Errno::kEBADMSG;  // not in the agreed version
  switch (op) {
    case p::Op::kVersion: return Errno::kEBADMSG;  // only once, first
    case p::Op::kWalk: return DoWalk(r);
    case p::Op::kOpen: return DoOpen(r);
    case p::Op::kReadlink: return DoReadlink(r);
    case p::Op::kStat: return DoStat(r);
    case p::Op::kStatfs: return DoStatfs(r);
    case p::Op::kRelease: return DoRelease(r);
    case p::Op::kMkdir: return DoMkdir(r);
    case p::Op::kCreate: return DoCreate(r);
    case p::Op::kSymlink: return DoSymlink(r);
    case p::Op::kUnlink: return DoUnlink(r);
    case p::Op::kRename: return DoRename(r);
    case p::Op::kSetAttr: return DoSetAttr(r);
    case p::Op::kLink: return DoLink(r);
    case p::Op::kGetXattr: return DoGetXattr(r);
    case p::Op::kListXattr: return DoListXattr(r);
    case p::Op::kSetXattr: return DoSetXattr(r);
    case p::Op::kRemoveXattr: return DoRemoveXattr(r);
    case p::Op::kMknod: return DoMknod(r);
    case p::Op::kRename2: return DoRename2(r);
  }
  return Errno::kEBADMSG;
}

Result<void> Server::SendError(p::Op op, Errno e) {
  p::Writer w;
  p::EncodeResponseHeader(w, op, base::ToInt(e));
  return p::SendMessage(sock_.get(), w.bytes());
}

p::Writer Server::OkHeader(p::Op op) const {
  p::Writer w;
  w.set_btime(version_ >= p::kBtimeVersion);
  p::EncodeResponseHeader(w, op, 0);
  return w;
}

Result<void> Server::Send(const p::Writer& w, int fd) { return p::SendMessage(sock_.get(), w.bytes(), fd); }

Result<Node*> Server::Lookup(Handle h) {
  auto it = nodes_.find(h);
  if (it == nodes_.end()) return Errno::kEBADF;
  return &it->second;
}

Result<Node*> Server::LookupDir(Handle h) {
  Node* n = TRY(Lookup(h));
  if (n->type != S_IFDIR) return Errno::kENOTDIR;
  return n;
}

Handle Server::Insert(UniqueFd fd, uint32_t type) {
  const Handle h = next_handle_++;  // never reused: a stale handle is EBADF
  nodes_.emplace(h, Node{std::move(fd), type});
  return h;
}

Result<WalkStep> Server::NewStep(int dirfd, const std::string& name) {
  UniqueFd fd = TRY(OpenPathAt(dirfd, name));
  const Attr a = TRY(HostAttr(fd.get()));
  const Handle h = Insert(std::move(fd), a.mode & S_IFMT);
  return WalkStep{h, a};
}

Result<void> Server::DoWalk(p::Reader& r) {
  const p::WalkReq req = TRY(p::DecodeWalkReq(r));
  auto dir = LookupDir(req.dir);
  if (!dir.ok()) return SendError(p::Op::kWalk, dir.error());
  std::vector<WalkStep> steps;
  steps.reserve(req.names.size());
  int cur = dir.value()->fd.get();
  for (const std::string& name : req.names) {
    Result<WalkStep> step = NewStep(cur, name);
    if (!step.ok()) {
      if (steps.empty()) return SendError(p::Op::kWalk, step.error());
      break;  // partial walk: the sentry re-walks the rest and sees the error
    }
    steps.push_back(step.value());
    const Node& n = nodes_.at(step.value().handle);
    // Symlinks are returned, never followed: the sentry resolves them in its
    // own mount namespace. Non-directories end the walk too.
    if (n.type != S_IFDIR) break;
    cur = n.fd.get();
  }
  p::Writer w = OkHeader(p::Op::kWalk);
  p::EncodeSteps(w, steps);
  return Send(w);
}

// Re-opens a walked node for data without looking up any name.
// Directories: openat(fd, ".") from the O_PATH directory fd.
// Regular files: through the /proc/self/fd/N magic link of the O_PATH fd.
// That link designates exactly the inode we hold (it is not a path walk, so
// no component can be swapped under us); it is used only for regular files,
// never for symlink nodes, and the result is checked to be the same inode.
Result<UniqueFd> Server::Reopen(const Node& n, int flags) {
  flags |= O_CLOEXEC | O_NOCTTY;
  int fd;
  if (n.type == S_IFDIR) {
    fd = ::openat(n.fd.get(), ".", flags | O_NOFOLLOW);
  } else {
    if (!proc_self_fd_.valid()) return Errno::kEACCES;
    if (flags & O_DIRECTORY) return Errno::kENOTDIR;
    // O_NOFOLLOW would refuse the magic link itself; the node is known not
    // to be a symlink (checked by the caller).
    fd = ::openat(proc_self_fd_.get(), std::to_string(n.fd.get()).c_str(), flags & ~O_NOFOLLOW);
  }
  if (fd < 0) return base::FromHost(errno);
  UniqueFd out(fd);
  struct stat a {}, b {};
  if (::fstat(out.get(), &a) != 0 || ::fstatat(n.fd.get(), "", &b, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 ||
      a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
    logging::Error("gofer: re-open of fd {} yielded a different inode", n.fd.get());
    return Errno::kEIO;
  }
  return out;
}

Result<void> Server::DoOpen(p::Reader& r) {
  const p::OpenReq req = TRY(p::DecodeOpenReq(r));
  auto open = [&]() -> Result<UniqueFd> {
    const Node* n = TRY(Lookup(req.h));
    const int flags = static_cast<int>(req.flags);
    if (req.flags & ~kOpenFlagsAllowed) return Errno::kEINVAL;
    const int acc = flags & O_ACCMODE;
    if (acc == O_ACCMODE) return Errno::kEINVAL;
    const bool writes = acc != O_RDONLY || (flags & O_TRUNC);
    switch (n->type) {
      case S_IFLNK: return Errno::kELOOP;  // what open(O_NOFOLLOW) says
      case S_IFDIR:
        if (writes) return Errno::kEISDIR;
        break;
      case S_IFREG:
        if (flags & O_DIRECTORY) return Errno::kENOTDIR;
        if (writes && read_only_) return Errno::kEROFS;
        break;
      case S_IFSOCK: return Errno::kENXIO;  // as open(2) on a socket
      default:
        // FIFOs would block this single-threaded server in open(); device
        // nodes in a rootfs must not reach host devices. The sentry serves
        // pipes and /dev itself.
        return Errno::kEPERM;
    }
    return Reopen(*n, flags);
  };
  Result<UniqueFd> fd = open();
  if (!fd.ok()) return SendError(p::Op::kOpen, fd.error());
  return Send(OkHeader(p::Op::kOpen), fd.value().get());
}

Result<void> Server::DoReadlink(p::Reader& r) {
  const p::HandleReq req = TRY(p::DecodeHandleReq(r));
  auto read = [&]() -> Result<std::string> {
    const Node* n = TRY(Lookup(req.h));
    if (n->type != S_IFLNK) return Errno::kEINVAL;
    std::string buf(p::kMaxPathLen + 1, '\0');
    const ssize_t len = ::readlinkat(n->fd.get(), "", buf.data(), buf.size());
    if (len < 0) return base::FromHost(errno);
    if (static_cast<size_t>(len) > p::kMaxPathLen) return Errno::kENAMETOOLONG;
    buf.resize(static_cast<size_t>(len));
    return buf;
  };
  Result<std::string> target = read();
  if (!target.ok()) return SendError(p::Op::kReadlink, target.error());
  p::Writer w = OkHeader(p::Op::kReadlink);
  w.Str(target.value());
  return Send(w);
}

Result<void> Server::DoStat(p::Reader& r) {
  const p::HandleReq req = TRY(p::DecodeHandleReq(r));
  auto n = Lookup(req.h);
  if (!n.ok()) return SendError(p::Op::kStat, n.error());
  auto st = HostAttr(n.value()->fd.get());
  if (!st.ok()) return SendError(p::Op::kStat, st.error());
  p::Writer w = OkHeader(p::Op::kStat);
  w.PutAttr(st.value());
  return Send(w);
}

Result<void> Server::DoStatfs(p::Reader& r) {
  const p::HandleReq req = TRY(p::DecodeHandleReq(r));
  auto n = Lookup(req.h);
  if (!n.ok()) return SendError(p::Op::kStatfs, n.error());
  struct statfs sf {};
  if (::fstatfs(n.value()->fd.get(), &sf) != 0) return SendError(p::Op::kStatfs, base::FromHost(errno));
  StatFs out{static_cast<uint64_t>(sf.f_type), static_cast<uint64_t>(sf.f_bsize), sf.f_blocks, sf.f_bfree,
             sf.f_bavail, sf.f_files, sf.f_ffree, static_cast<uint64_t>(sf.f_namelen),
             static_cast<uint64_t>(sf.f_frsize), static_cast<uint64_t>(sf.f_flags)};
  p::Writer w = OkHeader(p::Op::kStatfs);
  w.PutStatFs(out);
  return Send(w);
}

Result<void> Server::DoRelease(p::Reader& r) {
  const p::HandleReq req = TRY(p::DecodeHandleReq(r));
  // The root lives as long as the connection; unknown handles are a sentry
  // bug worth a line but not worth the connection.
  if (req.h == root_) return {};
  if (nodes_.erase(req.h) == 0) logging::Warn("gofer: Release of unknown handle {}", req.h);
  return {};  // one-way: no response
}

void Server::Chown(int fd, uint32_t uid, uint32_t gid) {
  // Best effort: a gofer without CAP_CHOWN (rootless) keeps its own ids.
  if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    logging::Debug("gofer: fchownat(fd {}, {}, {}) failed: {}", fd, uid, gid, base::ErrnoName(base::FromHost(errno)));
  }
}

Result<WalkStep> Server::CreatedStep(int dirfd, const std::string& name, uint32_t uid, uint32_t gid) {
  WalkStep step = TRY(NewStep(dirfd, name));
  const int fd = nodes_.at(step.handle).fd.get();
  Chown(fd, uid, gid);
  step.attr = TRY(HostAttr(fd));
  return step;
}

Result<void> Server::ReplyStep(p::Op op, const Result<WalkStep>& step) {
  if (!step.ok()) return SendError(op, step.error());
  p::Writer w = OkHeader(op);
  w.PutStep(step.value());
  return Send(w);
}

Result<void> Server::DoMkdir(p::Reader& r) {
  const p::MkdirReq req = TRY(p::DecodeMkdirReq(r));
  auto mk = [&]() -> Result<WalkStep> {
    const Node* dir = TRY(LookupDir(req.dir));
    if (read_only_) return Errno::kEROFS;
    const int dirfd = dir->fd.get();
    if (::mkdirat(dirfd, req.name.c_str(), req.mode & 07777) != 0) return base::FromHost(errno);
    // Another host process could swap the new name before we open it; with
    // O_NOFOLLOW we then get whatever sits there, never a path outside.
    return CreatedStep(dirfd, req.name, req.uid, req.gid);
  };
  return ReplyStep(p::Op::kMkdir, mk());
}

Result<void> Server::DoCreate(p::Reader& r) {
  const p::CreateReq req = TRY(p::DecodeCreateReq(r));
  auto create = [&]() -> Result<std::pair<WalkStep, UniqueFd>> {
    const Node* dir = TRY(LookupDir(req.dir));
    if (read_only_) return Errno::kEROFS;
    if (req.flags & ~kCreateFlagsAllowed) return Errno::kEINVAL;
    if ((req.flags & O_ACCMODE) == O_ACCMODE || (req.flags & O_DIRECTORY)) return Errno::kEINVAL;
    // O_EXCL always: Create makes a new file, and O_CREAT|O_EXCL never
    // follows a symlink at the name (open(2)).
    const int flags = static_cast<int>(req.flags) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    const int fd = ::openat(dir->fd.get(), req.name.c_str(), flags, req.mode & 07777);
    if (fd < 0) return base::FromHost(errno);
    UniqueFd data(fd);
    if (::fchown(data.get(), req.uid, req.gid) != 0) {
      logging::Debug("gofer: fchown of new file failed: {}", base::ErrnoName(base::FromHost(errno)));
    }
    // The handle designates the inode we created, not whatever the name
    // points to now: an O_PATH re-open of the data fd's magic link.
    if (!proc_self_fd_.valid()) return Errno::kEACCES;
    const int pfd = ::openat(proc_self_fd_.get(), std::to_string(data.get()).c_str(), O_PATH | O_CLOEXEC);
    if (pfd < 0) return base::FromHost(errno);
    UniqueFd path(pfd);
    const Attr a = TRY(HostAttr(path.get()));
    const Handle h = Insert(std::move(path), S_IFREG);
    return std::pair<WalkStep, UniqueFd>(WalkStep{h, a}, std::move(data));
  };
  Result<std::pair<WalkStep, UniqueFd>> res = create();
  if (!res.ok()) return SendError(p::Op::kCreate, res.error());
  p::Writer w = OkHeader(p::Op::kCreate);
  w.PutStep(res.value().first);
  return Send(w, res.value().second.get());
}

Result<void> Server::DoSymlink(p::Reader& r) {
  const p::SymlinkReq req = TRY(p::DecodeSymlinkReq(r));
  auto mk = [&]() -> Result<WalkStep> {
    const Node* dir = TRY(LookupDir(req.dir));
    if (read_only_) return Errno::kEROFS;
    const int dirfd = dir->fd.get();
    // The target is stored, never resolved here.
    if (::symlinkat(req.target.c_str(), dirfd, req.name.c_str()) != 0) return base::FromHost(errno);
    return CreatedStep(dirfd, req.name, req.uid, req.gid);
  };
  return ReplyStep(p::Op::kSymlink, mk());
}

Result<void> Server::DoUnlink(p::Reader& r) {
  const p::UnlinkReq req = TRY(p::DecodeUnlinkReq(r));
  auto rm = [&]() -> Result<void> {
    const Node* dir = TRY(LookupDir(req.dir));
    if (read_only_) return Errno::kEROFS;
    if (::unlinkat(dir->fd.get(), req.name.c_str(), static_cast<int>(req.flags)) != 0) return base::FromHost(errno);
    return {};
  };
  Result<void> res = rm();
  if (!res.ok()) return SendError(p::Op::kUnlink, res.error());
  return Send(OkHeader(p::Op::kUnlink));
}

Result<void> Server::DoRename(p::Reader& r) {
  const p::RenameReq req = TRY(p::DecodeRenameReq(r));
  auto mv = [&]() -> Result<void> {
    const Node* from = TRY(LookupDir(req.old_dir));
    const Node* to = TRY(LookupDir(req.new_dir));
    if (read_only_) return Errno::kEROFS;
    if (::renameat(from->fd.get(), req.old_name.c_str(), to->fd.get(), req.new_name.c_str()) != 0) {
      return base::FromHost(errno);
    }
    return {};
  };
  Result<void> res = mv();
  if (!res.ok()) return SendError(p::Op::kRename, res.error());
  return Send(OkHeader(p::Op::kRename));
}

// A FIFO or socket node: mknodat of one name in a held directory. Nothing
// is ever opened through it (Open refuses both types): the sandbox's own
// pipe serves a FIFO.
Result<void> Server::DoMknod(p::Reader& r) {
  const p::MknodReq req = TRY(p::DecodeMknodReq(r));
  auto mk = [&]() -> Result<WalkStep> {
    const Node* dir = TRY(LookupDir(req.dir));
    if (read_only_) return Errno::kEROFS;
    const int dirfd = dir->fd.get();
    if (::mknodat(dirfd, req.name.c_str(), req.mode, 0) != 0) return base::FromHost(errno);
    return CreatedStep(dirfd, req.name, req.uid, req.gid);
  };
  return ReplyStep(p::Op::kMknod, mk());
}

Result<void> Server::DoRename2(p::Reader& r) {
  const p::Rename2Req req = TRY(p::DecodeRename2Req(r));
  auto mv = [&]() -> Result<void> {
    const Node* from = TRY(LookupDir(req.old_dir));
    const Node* to = TRY(LookupDir(req.new_dir));
    if (read_only_) return Errno::kEROFS;
    if (::renameat2(from->fd.get(), req.old_name.c_str(), to->fd.get(), req.new_name.c_str(), req.flags) != 0) {
      return base::FromHost(errno);
    }
    return {};
  };
  Result<void> res = mv();
  if (!res.ok()) return SendError(p::Op::kRename2, res.error());
  return Send(OkHeader(p::Op::kRename2));
}

Result<UniqueFd> Server::ReopenForMeta(const Node& n, int flags) {
  if (n.type != S_IFREG && n.type != S_IFDIR) return Errno::kEPERM;
  if (n.type == S_IFDIR) flags |= O_DIRECTORY;
  return Reopen(n, flags | O_NONBLOCK);
}

// notify_change() order: owner first (the host clears set-id bits on a
// chown, and a mode set in the same request then wins), then mode, size,
// times. Each step is on the inode the handle holds, never a name.
Result<void> Server::SetAttr(const Node& n, const p::SetAttrReq& req) {
  if (req.mask & (p::kSetUid | p::kSetGid)) {
    const uid_t uid = (req.mask & p::kSetUid) ? req.uid : static_cast<uid_t>(-1);
    const gid_t gid = (req.mask & p::kSetGid) ? req.gid : static_cast<gid_t>(-1);
    if (::fchownat(n.fd.get(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return base::FromHost(errno);
  }
  UniqueFd data;  // opened once for the calls below that need a real fd
  if (req.mask & p::kSetSize) {
    if (n.type == S_IFDIR) return Errno::kEISDIR;
    if (n.type != S_IFREG) return Errno::kEINVAL;
    data = TRY(ReopenForMeta(n, O_WRONLY));
  }
  if (req.mask & (p::kSetMode | p::kSetAtime | p::kSetMtime)) {
    // chmod of a symlink is EOPNOTSUPP on Linux (fchmodat
    // AT_SYMLINK_NOFOLLOW); FIFOs, sockets and device nodes have no data
    // fd we would open (see DoOpen), so their mode and times stay.
    if (n.type == S_IFLNK && (req.mask & p::kSetMode)) return Errno::kEOPNOTSUPP;
    if (!data.valid() && n.type != S_IFLNK) data = TRY(ReopenForMeta(n, O_RDONLY));
  }
  if (req.mask & p::kSetMode) {
    if (::fchmod(data.get(), req.mode & 07777) != 0) return base::FromHost(errno);
  }
  if (req.mask & p::kSetSize) {
    if (::ftruncate(data.get(), static_cast<off_t>(req.size)) != 0) return base::FromHost(errno);
  }
  if (req.mask & (p::kSetAtime | p::kSetMtime)) {
    struct timespec ts[2];
    ts[0] = (req.mask & p::kSetAtime) ? timespec{req.atime_sec, req.atime_nsec} : timespec{0, UTIME_OMIT};
    ts[1] = (req.mask & p::kSetMtime) ? timespec{req.mtime_sec, req.mtime_nsec} : timespec{0, UTIME_OMIT};
    const int r = data.valid() ? ::futimens(data.get(), ts)
                               : ::utimensat(n.fd.get(), "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (r != 0) return base::FromHost(errno);
  }
  return {};
}

Result<void> Server::DoSetAttr(p::Reader& r) {
  const p::SetAttrReq req = TRY(p::DecodeSetAttrReq(r));
  auto set = [&]() -> Result<Attr> {
    const Node* n = TRY(Lookup(req.h));
    if (read_only_) return Errno::kEROFS;
    TRY(SetAttr(*n, req));
    return HostAttr(n->fd.get());
  };
  Result<Attr> attr = set();
  if (!attr.ok()) return SendError(p::Op::kSetAttr, attr.error());
  p::Writer w = OkHeader(p::Op::kSetAttr);
  w.PutAttr(attr.value());
  return Send(w);
}

Result<void> Server::DoLink(p::Reader& r) {
  const p::LinkReq req = TRY(p::DecodeLinkReq(r));
  auto link = [&]() -> Result<Attr> {
    const Node* dir = TRY(LookupDir(req.dir));
    const Node* target = TRY(Lookup(req.target));
    if (read_only_) return Errno::kEROFS;
    if (target->type == S_IFDIR) return Errno::kEPERM;  // link(2) on a directory
    // The new name designates the inode the target handle holds, never a
    // name looked up now: linkat of the O_PATH fd itself (AT_EMPTY_PATH,
    // needs CAP_DAC_READ_SEARCH), else of its /proc/self/fd magic link
    // with AT_SYMLINK_FOLLOW (what linkat(2) documents for unprivileged
    // callers; for regular files only, as in Reopen).
    if (::linkat(target->fd.get(), "", dir->fd.get(), req.name.c_str(), AT_EMPTY_PATH) != 0) {
      const int e = errno;
      if (e != ENOENT && e != EPERM) return base::FromHost(e);  // ENOENT: no CAP_DAC_READ_SEARCH
      if (target->type != S_IFREG || !proc_self_fd_.valid()) return base::FromHost(e);
      if (::linkat(proc_self_fd_.get(), std::to_string(target->fd.get()).c_str(), dir->fd.get(), req.name.c_str(),
                   AT_SYMLINK_FOLLOW) != 0) {
        return base::FromHost(errno);
      }
    }
    return HostAttr(target->fd.get());  // nlink changed
  };
  Result<Attr> attr = link();
  if (!attr.ok()) return SendError(p::Op::kLink, attr.error());
  p::Writer w = OkHeader(p::Op::kLink);
  w.PutAttr(attr.value());
  return Send(w);
}

// Extended attributes: the "user." namespace only. Others reach host
// policy the sandbox must not touch (security.capability would give a
// binary host file capabilities, trusted.* needs host CAP_SYS_ADMIN,
// system.posix_acl_* would change host permission checks): EOPNOTSUPP, as
// a filesystem without that namespace answers. Like Linux, user.* exists
// only on regular files and directories (EPERM elsewhere).
namespace {
bool UserXattr(std::string_view name) { return name.size() > 5 && name.substr(0, 5) == "user."; }
}  // namespace

Result<void> Server::DoGetXattr(p::Reader& r) {
  const p::XattrReq req = TRY(p::DecodeXattrReq(r));
  auto get = [&]() -> Result<std::string> {
    const Node* n = TRY(Lookup(req.h));
    if (!UserXattr(req.name)) return Errno::kEOPNOTSUPP;
    if (n->type != S_IFREG && n->type != S_IFDIR) return Errno::kENODATA;
    UniqueFd fd = TRY(ReopenForMeta(*n, O_RDONLY));
    std::string buf(p::kMaxXattrValue, '\0');
    const ssize_t len = ::fgetxattr(fd.get(), req.name.c_str(), buf.data(), buf.size());
    if (len < 0) return base::FromHost(errno == ERANGE ? E2BIG : errno);
    buf.resize(static_cast<size_t>(len));
    return buf;
  };
  Result<std::string> value = get();
  if (!value.ok()) return SendError(p::Op::kGetXattr, value.error());
  p::Writer w = OkHeader(p::Op::kGetXattr);
  w.Str(value.value());
  return Send(w);
}

Result<void> Server::DoListXattr(p::Reader& r) {
  const p::HandleReq req = TRY(p::DecodeHandleReq(r));
  auto list = [&]() -> Result<std::vector<std::string>> {
    const Node* n = TRY(Lookup(req.h));
    std::vector<std::string> names;
    if (n->type != S_IFREG && n->type != S_IFDIR) return names;
    UniqueFd fd = TRY(ReopenForMeta(*n, O_RDONLY));
    std::string buf(16 * 1024, '\0');
    const ssize_t len = ::flistxattr(fd.get(), buf.data(), buf.size());
    if (len < 0) return base::FromHost(errno == ERANGE ? E2BIG : errno);
    size_t total = 0;
    for (size_t pos = 0; pos < static_cast<size_t>(len);) {
      const size_t end = buf.find('\0', pos);
      if (end == std::string::npos || end > static_cast<size_t>(len)) break;
      std::string name = buf.substr(pos, end - pos);
      pos = end + 1;
      if (!UserXattr(name)) continue;
      total += 4 + name.size();
      if (names.size() == p::kMaxXattrNames || total > p::kMaxMessageSize - 64) return Errno::kE2BIG;
      names.push_back(std::move(name));
    }
    return names;
  };
  Result<std::vector<std::string>> names = list();
  if (!names.ok()) return SendError(p::Op::kListXattr, names.error());
  p::Writer w = OkHeader(p::Op::kListXattr);
  w.U32(static_cast<uint32_t>(names.value().size()));
  for (const std::string& n : names.value()) w.Str(n);
  return Send(w);
}

Result<void> Server::DoSetXattr(p::Reader& r) {
  const p::SetXattrReq req = TRY(p::DecodeSetXattrReq(r));
  auto set = [&]() -> Result<void> {
    const Node* n = TRY(Lookup(req.h));
    if (read_only_) return Errno::kEROFS;
    if (!UserXattr(req.name)) return Errno::kEOPNOTSUPP;
    if (n->type != S_IFREG && n->type != S_IFDIR) return Errno::kEPERM;
    UniqueFd fd = TRY(ReopenForMeta(*n, O_RDONLY));
    if (::fsetxattr(fd.get(), req.name.c_str(), req.value.data(), req.value.size(), static_cast<int>(req.flags)) != 0) {
      return base::FromHost(errno);
    }
    return {};
  };
  Result<void> res = set();
  if (!res.ok()) return SendError(p::Op::kSetXattr, res.error());
  return Send(OkHeader(p::Op::kSetXattr));
}

Result<void> Server::DoRemoveXattr(p::Reader& r) {
  const p::XattrReq req = TRY(p::DecodeXattrReq(r));
  auto rm = [&]() -> Result<void> {
    const Node* n = TRY(Lookup(req.h));
    if (read_only_) return Errno::kEROFS;
    if (!UserXattr(req.name)) return Errno::kEOPNOTSUPP;
    if (n->type != S_IFREG && n->type != S_IFDIR) return Errno::kEPERM;
    UniqueFd fd = TRY(ReopenForMeta(*n, O_RDONLY));
    if (::fremovexattr(fd.get(), req.name.c_str()) != 0) return base::FromHost(errno);
    return {};
  };
  Result<void> res = rm();
  if (!res.ok()) return SendError(p::Op::kRemoveXattr, res.error());
  return Send(OkHeader(p::Op::kRemoveXattr));
}

}  // namespace

int ServeFds(UniqueFd sock, UniqueFd root, UniqueFd proc_self_fd, bool read_only) {
  ::umask(0);
  // Normalize both to O_PATH directory fds we own, whatever the caller opened.
  UniqueFd root_path(::openat(root.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_path.valid()) {
    logging::Error("gofer: cannot open root: {}", base::ErrnoName(base::FromHost(errno)));
    return kServeSetupError;
  }
  UniqueFd proc;
  if (proc_self_fd.valid()) {
    proc = UniqueFd(::openat(proc_self_fd.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  if (!proc.valid()) {
    logging::Error("gofer: no /proc/self/fd; regular files cannot be opened");
  }
  Server server(std::move(sock), std::move(proc), read_only);
  return server.Run(std::move(root_path));
}

int Serve(UniqueFd sock, const std::string& root_path, bool read_only) {
  // The operator's path is resolved once, here, by the host; everything the
  // sentry asks for afterwards is relative to this fd.
  UniqueFd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    logging::Error("gofer: open root '{}': {}", root_path, base::ErrnoName(base::FromHost(errno)));
    return kServeSetupError;
  }
  UniqueFd proc(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) {
    logging::Error("gofer: open /proc/self/fd: {}", base::ErrnoName(base::FromHost(errno)));
    return kServeSetupError;
  }
  return ServeFds(std::move(sock), std::move(root), std::move(proc), read_only);
}

}  // namespace gofer
