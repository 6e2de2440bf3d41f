#include "gofer/protocol.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

namespace gofer::protocol {

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kVersion: return "Version";
    case Op::kWalk: return "Walk";
    case Op::kOpen: return "Open";
    case Op::kReadlink: return "Readlink";
    case Op::kStat: return "Stat";
    case Op::kStatfs: return "Statfs";
    case Op::kRelease: return "Release";
    case Op::kMkdir: return "Mkdir";
    case Op::kCreate: return "Create";
    case Op::kSymlink: return "Symlink";
    case Op::kUnlink: return "Unlink";
    case Op::kRename: return "Rename";
    case Op::kSetAttr: return "SetAttr";
    case Op::kLink: return "Link";
    case Op::kGetXattr: return "GetXattr";
    case Op::kListXattr: return "ListXattr";
    case Op::kSetXattr: return "SetXattr";
    case Op::kRemoveXattr: return "RemoveXattr";
    case Op::kMknod: return "Mknod";
    case Op::kRename2: return "Rename2";
  }
  return "?";
}

uint32_t OpVersion(Op op) { return op == Op::kMknod || op == Op::kRename2 ? 2 : 1; }

bool IsKnownOp(uint32_t op) {
  return op >= static_cast<uint32_t>(Op::kVersion) && op <= static_cast<uint32_t>(kLastOp);
}

// ---- Writer / Reader ----

void Writer::PutAttr(const Attr& a) {
  U32(a.mode);
  U32(a.uid);
  U32(a.gid);
  U32(a.blksize);
  U64(a.nlink);
  U64(a.size);
  U64(a.blocks);
  U64(a.ino);
  U64(a.dev);
  U64(a.rdev);
  I64(a.atime_ns);
  I64(a.mtime_ns);
  I64(a.ctime_ns);
  if (btime_) I64(a.btime_ns.value_or(kNoBtime));
}

void Writer::PutStatFs(const StatFs& s) {
  for (uint64_t v : {s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.namelen, s.frsize, s.flags}) {
    U64(v);
  }
}

Result<std::string> Reader::Str(size_t max_len) {
  const uint32_t len = TRY(U32());
  // Bound before allocating: the length is untrusted.
  if (len > max_len || len > remaining()) return Errno::kEBADMSG;
  std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
  pos_ += len;
  if (s.find('\0') != std::string::npos) return Errno::kEBADMSG;
  return s;
}

Result<std::string> Reader::Bytes(size_t max_len) {
  const uint32_t len = TRY(U32());
  if (len > max_len || len > remaining()) return Errno::kEBADMSG;
  std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
  pos_ += len;
  return s;
}

Result<std::string> Reader::Name() {
  std::string s = TRY(Str(kMaxNameLen));
  if (!ValidateName(s).ok()) return Errno::kEBADMSG;
  return s;
}

Result<Attr> Reader::GetAttr() {
  Attr a;
  a.mode = TRY(U32());
  a.uid = TRY(U32());
  a.gid = TRY(U32());
  a.blksize = TRY(U32());
  a.nlink = TRY(U64());
  a.size = TRY(U64());
  a.blocks = TRY(U64());
  a.ino = TRY(U64());
  a.dev = TRY(U64());
  a.rdev = TRY(U64());
  a.atime_ns = TRY(I64());
  a.mtime_ns = TRY(I64());
  a.ctime_ns = TRY(I64());
  if (btime_) {
    const int64_t b = TRY(I64());
    if (b != kNoBtime) a.btime_ns = b;
  }
  return a;
}

Result<StatFs> Reader::GetStatFs() {
  StatFs s;
  for (uint64_t* f : {&s.type, &s.bsize, &s.blocks, &s.bfree, &s.bavail, &s.files, &s.ffree, &s.namelen, &s.frsize,
                      &s.flags}) {
    *f = TRY(U64());
  }
  return s;
}

Result<WalkStep> Reader::GetStep() {
  WalkStep s;
  s.handle = TRY(U64());
  if (s.handle == kInvalidHandle) return Errno::kEBADMSG;
  s.attr = TRY(GetAttr());
  return s;
}

Result<void> Reader::Finish() const {
  if (remaining() != 0) return Errno::kEBADMSG;
  return {};
}

Result<void> ValidateName(std::string_view name) {
  if (name.size() > kMaxNameLen) return Errno::kENAMETOOLONG;
  if (name.empty() || name == "." || name == "..") return Errno::kEINVAL;
  if (name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) return Errno::kEINVAL;
  return {};
}

Result<void> ValidateTarget(std::string_view target) {
  if (target.size() > kMaxPathLen) return Errno::kENAMETOOLONG;
  if (target.empty()) return Errno::kENOENT;  // symlink(2) with "" is ENOENT
  if (target.find('\0') != std::string_view::npos) return Errno::kEINVAL;
  return {};
}

Result<void> ValidateXattrName(std::string_view name) {
  if (name.empty() || name.size() > 255) return Errno::kERANGE;
  if (name.find('\0') != std::string_view::npos) return Errno::kEINVAL;
  return {};
}

// ---- Headers ----

void EncodeRequestHeader(Writer& w, Op op) { w.U32(static_cast<uint32_t>(op)); }

Result<Op> DecodeRequestHeader(Reader& r) {
  const uint32_t op = TRY(r.U32());
  if (!IsKnownOp(op)) return Errno::kEBADMSG;
  return static_cast<Op>(op);
}

void EncodeResponseHeader(Writer& w, Op op, int status) {
  w.U32(static_cast<uint32_t>(op));
  w.U32(static_cast<uint32_t>(status));
}

Result<ResponseHeader> DecodeResponseHeader(Reader& r) {
  const uint32_t op = TRY(r.U32());
  const uint32_t status = TRY(r.U32());
  // Errno values are 1..4095 (MAX_ERRNO); anything else is not a Linux errno.
  if (!IsKnownOp(op) || status > 4095) return Errno::kEBADMSG;
  return ResponseHeader{static_cast<Op>(op), static_cast<Errno>(status)};
}

// ---- Requests ----

void Encode(Writer& w, const VersionReq& m) {
  w.U32(m.magic);
  w.U32(m.version);
}
void Encode(Writer& w, const WalkReq& m) { EncodeWalkReq(w, m.dir, m.names); }
void EncodeWalkReq(Writer& w, Handle dir, std::span<const std::string> names) {
  w.U64(dir);
  w.U32(static_cast<uint32_t>(names.size()));
  for (const std::string& n : names) w.Str(n);
}
void Encode(Writer& w, const OpenReq& m) {
  w.U64(m.h);
  w.U32(m.flags);
}
void Encode(Writer& w, const HandleReq& m) { w.U64(m.h); }
void Encode(Writer& w, const MkdirReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.U32(m.mode);
  w.U32(m.uid);
  w.U32(m.gid);
}
void Encode(Writer& w, const CreateReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.U32(m.flags);
  w.U32(m.mode);
  w.U32(m.uid);
  w.U32(m.gid);
}
void Encode(Writer& w, const SymlinkReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.Str(m.target);
  w.U32(m.uid);
  w.U32(m.gid);
}
void Encode(Writer& w, const UnlinkReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.U32(m.flags);
}
void Encode(Writer& w, const RenameReq& m) {
  w.U64(m.old_dir);
  w.Str(m.old_name);
  w.U64(m.new_dir);
  w.Str(m.new_name);
}
void Encode(Writer& w, const MknodReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.U32(m.mode);
  w.U32(m.uid);
  w.U32(m.gid);
}
void Encode(Writer& w, const Rename2Req& m) {
  w.U64(m.old_dir);
  w.Str(m.old_name);
  w.U64(m.new_dir);
  w.Str(m.new_name);
  w.U32(m.flags);
}

void Encode(Writer& w, const SetAttrReq& m) {
  w.U64(m.h);
  w.U32(m.mask);
  w.U32(m.mode);
  w.U32(m.uid);
  w.U32(m.gid);
  w.U64(m.size);
  w.I64(m.atime_sec);
  w.I64(m.atime_nsec);
  w.I64(m.mtime_sec);
  w.I64(m.mtime_nsec);
}
void Encode(Writer& w, const LinkReq& m) {
  w.U64(m.dir);
  w.Str(m.name);
  w.U64(m.target);
}
void Encode(Writer& w, const XattrReq& m) {
  w.U64(m.h);
  w.Str(m.name);
}
void Encode(Writer& w, const SetXattrReq& m) {
  w.U64(m.h);
  w.Str(m.name);
  w.Str(m.value);
  w.U32(m.flags);
}

Result<VersionReq> DecodeVersionReq(Reader& r) {
  VersionReq m;
  m.magic = TRY(r.U32());
  m.version = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<WalkReq> DecodeWalkReq(Reader& r) {
  WalkReq m;
  m.dir = TRY(r.U64());
  const uint32_t n = TRY(r.U32());
  // Bound the count before reserving: it is untrusted.
  if (n == 0 || n > kMaxWalkNames) return Errno::kEBADMSG;
  m.names.reserve(n);
  for (uint32_t i = 0; i < n; ++i) m.names.push_back(TRY(r.Name()));
  TRY(r.Finish());
  return m;
}

Result<OpenReq> DecodeOpenReq(Reader& r) {
  OpenReq m;
  m.h = TRY(r.U64());
  m.flags = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<HandleReq> DecodeHandleReq(Reader& r) {
  HandleReq m;
  m.h = TRY(r.U64());
  TRY(r.Finish());
  return m;
}

Result<MkdirReq> DecodeMkdirReq(Reader& r) {
  MkdirReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.mode = TRY(r.U32());
  m.uid = TRY(r.U32());
  m.gid = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<CreateReq> DecodeCreateReq(Reader& r) {
  CreateReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.flags = TRY(r.U32());
  m.mode = TRY(r.U32());
  m.uid = TRY(r.U32());
  m.gid = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<SymlinkReq> DecodeSymlinkReq(Reader& r) {
  SymlinkReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.target = TRY(r.Str(kMaxPathLen));
  if (m.target.empty()) return Errno::kEBADMSG;
  m.uid = TRY(r.U32());
  m.gid = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<UnlinkReq> DecodeUnlinkReq(Reader& r) {
  UnlinkReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.flags = TRY(r.U32());
  if (m.flags & ~static_cast<uint32_t>(AT_REMOVEDIR)) return Errno::kEBADMSG;
  TRY(r.Finish());
  return m;
}

Result<RenameReq> DecodeRenameReq(Reader& r) {
  RenameReq m;
  m.old_dir = TRY(r.U64());
  m.old_name = TRY(r.Name());
  m.new_dir = TRY(r.U64());
  m.new_name = TRY(r.Name());
  TRY(r.Finish());
  return m;
}

Result<MknodReq> DecodeMknodReq(Reader& r) {
  MknodReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.mode = TRY(r.U32());
  const uint32_t type = m.mode & S_IFMT;
  if ((type != S_IFIFO && type != S_IFSOCK) || (m.mode & ~(S_IFMT | 07777))) return Errno::kEBADMSG;
  m.uid = TRY(r.U32());
  m.gid = TRY(r.U32());
  TRY(r.Finish());
  return m;
}

Result<Rename2Req> DecodeRename2Req(Reader& r) {
  Rename2Req m;
  m.old_dir = TRY(r.U64());
  m.old_name = TRY(r.Name());
  m.new_dir = TRY(r.U64());
  m.new_name = TRY(r.Name());
  m.flags = TRY(r.U32());
  if (m.flags != kRenameNoreplace && m.flags != kRenameExchange) return Errno::kEBADMSG;
  TRY(r.Finish());
  return m;
}

Result<SetAttrReq> DecodeSetAttrReq(Reader& r) {
  SetAttrReq m;
  m.h = TRY(r.U64());
  m.mask = TRY(r.U32());
  m.mode = TRY(r.U32());
  m.uid = TRY(r.U32());
  m.gid = TRY(r.U32());
  m.size = TRY(r.U64());
  m.atime_sec = TRY(r.I64());
  m.atime_nsec = TRY(r.I64());
  m.mtime_sec = TRY(r.I64());
  m.mtime_nsec = TRY(r.I64());
  if (m.mask == 0 || (m.mask & ~kSetAll) != 0) return Errno::kEBADMSG;
  if ((m.mask & kSetMode) && (m.mode & ~07777u)) return Errno::kEBADMSG;
  if ((m.mask & kSetSize) && m.size > static_cast<uint64_t>(INT64_MAX)) return Errno::kEBADMSG;
  for (int64_t ns : {m.atime_nsec, m.mtime_nsec}) {
    if (ns < 0 || ns >= 1'000'000'000) return Errno::kEBADMSG;
  }
  TRY(r.Finish());
  return m;
}

Result<LinkReq> DecodeLinkReq(Reader& r) {
  LinkReq m;
  m.dir = TRY(r.U64());
  m.name = TRY(r.Name());
  m.target = TRY(r.U64());
  TRY(r.Finish());
  return m;
}

Result<XattrReq> DecodeXattrReq(Reader& r) {
  XattrReq m;
  m.h = TRY(r.U64());
  m.name = TRY(r.Str(255));
  if (!ValidateXattrName(m.name).ok()) return Errno::kEBADMSG;
  TRY(r.Finish());
  return m;
}

Result<SetXattrReq> DecodeSetXattrReq(Reader& r) {
  SetXattrReq m;
  m.h = TRY(r.U64());
  m.name = TRY(r.Str(255));
  if (!ValidateXattrName(m.name).ok()) return Errno::kEBADMSG;
  m.value = TRY(r.Bytes(kMaxXattrValue));
  m.flags = TRY(r.U32());
  if (m.flags & ~3u) return Errno::kEBADMSG;  // XATTR_CREATE | XATTR_REPLACE
  TRY(r.Finish());
  return m;
}

// ---- Responses ----

void Encode(Writer& w, const VersionResp& m) {
  w.U32(m.version);
  w.U64(m.root);
  w.set_btime(m.version >= kRootBtimeVersion);
  w.PutAttr(m.attr);
}

Result<VersionResp> DecodeVersionResp(Reader& r) {
  VersionResp m;
  m.version = TRY(r.U32());
  m.root = TRY(r.U64());
  if (m.root == kInvalidHandle) return Errno::kEBADMSG;
  r.set_btime(m.version >= kRootBtimeVersion);
  m.attr = TRY(r.GetAttr());
  TRY(r.Finish());
  return m;
}

void EncodeSteps(Writer& w, std::span<const WalkStep> steps) {
  w.U32(static_cast<uint32_t>(steps.size()));
  for (const WalkStep& s : steps) w.PutStep(s);
}

Result<std::vector<WalkStep>> DecodeSteps(Reader& r, size_t max_steps) {
  const uint32_t n = TRY(r.U32());
  if (n > max_steps) return Errno::kEBADMSG;
  std::vector<WalkStep> steps;
  steps.reserve(n);
  for (uint32_t i = 0; i < n; ++i) steps.push_back(TRY(r.GetStep()));
  TRY(r.Finish());
  return steps;
}

// ---- Transport ----

Result<void> SendMessage(int sock, std::span<const uint8_t> bytes, int fd) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      // SEQPACKET sends whole datagrams or fails.
      if (static_cast<size_t>(n) != bytes.size()) return Errno::kEIO;
      return {};
    }
    const Errno e = base::FromHost(errno);
    if (e != Errno::kEINTR) return e;
  }
}

Result<size_t> RecvMessage(int sock, std::span<uint8_t> buf, std::vector<base::UniqueFd>* fds) {
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (fds != nullptr) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    const Errno e = base::FromHost(errno);
    if (e != Errno::kEINTR) return e;
  }
  // Take ownership of every delivered fd first, so each error path closes them.
  bool bad_control = false;
  if (fds != nullptr) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) {
        bad_control = true;
        continue;
      }
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds->emplace_back(fd);
      }
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return Errno::kEBADMSG;
  if (bad_control) return Errno::kEBADMSG;
  return static_cast<size_t>(n);
}

}  // namespace gofer::protocol
