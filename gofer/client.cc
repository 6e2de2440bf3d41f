// gofer::Client over the protocol in protocol.h. One request in flight at a
// time (mu_): a call is one sendmsg and one recvmsg into a buffer allocated
// once. Release is one-way (one sendmsg). A broken connection (peer gone or a
// malformed answer) makes every later call fail with EIO.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <array>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "gofer/client.h"
#include "gofer/protocol.h"

namespace gofer {

Result<Attr> HostAttr(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0) {
    return base::FromHost(errno);
  }
  auto ns = [](const struct statx_timestamp& t) { return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; };
  Attr a;
  a.mode = sx.stx_mode;
  a.uid = sx.stx_uid;
  a.gid = sx.stx_gid;
  a.nlink = sx.stx_nlink;
  a.size = sx.stx_size;
  a.blocks = sx.stx_blocks;
  a.blksize = sx.stx_blksize;
  a.ino = sx.stx_ino;
  a.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  a.rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  a.atime_ns = ns(sx.stx_atime);
  a.mtime_ns = ns(sx.stx_mtime);
  a.ctime_ns = ns(sx.stx_ctime);
  if (sx.stx_mask & STATX_BTIME) a.btime_ns = ns(sx.stx_btime);
  return a;
}

namespace {

using base::UniqueFd;
namespace p = protocol;

class SocketClient final : public Client {
 public:
  explicit SocketClient(UniqueFd sock) : sock_(std::move(sock)) {}

  Result<void> Handshake() {
    absl::MutexLock l(&mu_);
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kVersion);
    p::Encode(w, p::VersionReq{});
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kVersion, w, fds, 0));
    const p::VersionResp resp = TRY(Check(p::DecodeVersionResp(r)));
    if (resp.version < p::kMinVersion || resp.version > p::kVersion) return Broken(Errno::kEPROTONOSUPPORT);
    version_ = resp.version;
    root_ = resp.root;
    root_attr_ = resp.attr;
    return {};
  }

  Handle root() const override { return root_; }
  Attr root_attr() const override { return root_attr_; }

  Result<std::vector<WalkStep>> Walk(Handle dir, std::span<const std::string> names) override {
    for (const std::string& n : names) TRY(p::ValidateName(n));
    std::vector<WalkStep> all;
    // Long walks go in chunks; each chunk starts where the last one ended.
    while (all.size() < names.size()) {
      const Handle from = all.empty() ? dir : all.back().handle;
      const size_t chunk = std::min<size_t>(names.size() - all.size(), p::kMaxWalkNames);
      Result<std::vector<WalkStep>> steps = WalkOnce(from, names.subspan(all.size(), chunk));
      if (!steps.ok()) {
        if (all.empty()) return steps.error();
        break;  // partial: the caller re-walks the rest and sees the error
      }
      const size_t got = steps.value().size();
      all.insert(all.end(), steps.value().begin(), steps.value().end());
      if (got < chunk || (all.back().attr.mode & S_IFMT) != S_IFDIR) break;
    }
    return all;
  }

  Result<UniqueFd> Open(Handle h, int flags) override {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kOpen);
    p::Encode(w, p::OpenReq{h, static_cast<uint32_t>(flags)});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kOpen, w, fds, 1));
    TRY(Check(r.Finish()));
    return std::move(fds[0]);
  }

  Result<std::string> Readlink(Handle h) override {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kReadlink);
    p::Encode(w, p::HandleReq{h});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kReadlink, w, fds, 0));
    std::string target = TRY(Check(r.Str(p::kMaxPathLen)));
    TRY(Check(r.Finish()));
    return target;
  }

  Result<Attr> Stat(Handle h) override {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kStat);
    p::Encode(w, p::HandleReq{h});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kStat, w, fds, 0));
    const Attr a = TRY(Check(r.GetAttr()));
    TRY(Check(r.Finish()));
    return a;
  }

  Result<StatFs> Statfs(Handle h) override {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kStatfs);
    p::Encode(w, p::HandleReq{h});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kStatfs, w, fds, 0));
    const StatFs s = TRY(Check(r.GetStatFs()));
    TRY(Check(r.Finish()));
    return s;
  }

  void Release(Handle h) override {
    if (h == root_ || h == p::kInvalidHandle) return;
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kRelease);
    p::Encode(w, p::HandleReq{h});
    absl::MutexLock l(&mu_);
    if (broken_) return;
    if (auto r = p::SendMessage(sock_.get(), w.bytes()); !r.ok()) (void)Broken(r.error());
  }

  Result<WalkStep> Mkdir(Handle dir, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid) override {
    TRY(p::ValidateName(name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kMkdir);
    p::Encode(w, p::MkdirReq{dir, name, mode, uid, gid});
    return StepCall(p::Op::kMkdir, w);
  }

  Result<std::pair<WalkStep, UniqueFd>> Create(Handle dir, const std::string& name, int flags, uint32_t mode,
                                               uint32_t uid, uint32_t gid) override {
    TRY(p::ValidateName(name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kCreate);
    p::Encode(w, p::CreateReq{dir, name, static_cast<uint32_t>(flags), mode, uid, gid});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kCreate, w, fds, 1));
    const WalkStep step = TRY(Check(r.GetStep()));
    TRY(Check(r.Finish()));
    return std::pair<WalkStep, UniqueFd>(step, std::move(fds[0]));
  }

  Result<WalkStep> Symlink(Handle dir, const std::string& name, const std::string& target, uint32_t uid,
                           uint32_t gid) override {
    TRY(p::ValidateName(name));
    TRY(p::ValidateTarget(target));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kSymlink);
    p::Encode(w, p::SymlinkReq{dir, name, target, uid, gid});
    return StepCall(p::Op::kSymlink, w);
  }

  Result<void> Unlink(Handle dir, const std::string& name, int flags) override {
    TRY(p::ValidateName(name));
    if (flags & ~AT_REMOVEDIR) return Errno::kEINVAL;
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kUnlink);
    p::Encode(w, p::UnlinkReq{dir, name, static_cast<uint32_t>(flags)});
    return EmptyCall(p::Op::kUnlink, w);
  }

  Result<void> Rename(Handle old_dir, const std::string& old_name, Handle new_dir,
                      const std::string& new_name) override {
    TRY(p::ValidateName(old_name));
    TRY(p::ValidateName(new_name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kRename);
    p::Encode(w, p::RenameReq{old_dir, old_name, new_dir, new_name});
    return EmptyCall(p::Op::kRename, w);
  }

  Result<WalkStep> Mknod(Handle dir, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid) override {
    TRY(p::ValidateName(name));
    if (version_ < p::OpVersion(p::Op::kMknod)) return Errno::kEPERM;
    const uint32_t type = mode & S_IFMT;
    if ((type != S_IFIFO && type != S_IFSOCK) || (mode & ~(S_IFMT | 07777))) return Errno::kEPERM;
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kMknod);
    p::Encode(w, p::MknodReq{dir, name, mode, uid, gid});
    return StepCall(p::Op::kMknod, w);
  }

  Result<void> Rename2(Handle old_dir, const std::string& old_name, Handle new_dir, const std::string& new_name,
                       unsigned flags) override {
    TRY(p::ValidateName(old_name));
    TRY(p::ValidateName(new_name));
    if (version_ < p::OpVersion(p::Op::kRename2)) return Errno::kEINVAL;
    if (flags != p::kRenameNoreplace && flags != p::kRenameExchange) return Errno::kEINVAL;
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kRename2);
    p::Encode(w, p::Rename2Req{old_dir, old_name, new_dir, new_name, flags});
    return EmptyCall(p::Op::kRename2, w);
  }

  Result<Attr> SetAttr(Handle h, const SetAttrSpec& s) override {
    p::SetAttrReq req{};
    req.h = h;
    if (s.mode) req.mask |= p::kSetMode, req.mode = *s.mode & 07777;
    if (s.uid) req.mask |= p::kSetUid, req.uid = *s.uid;
    if (s.gid) req.mask |= p::kSetGid, req.gid = *s.gid;
    if (s.size) {
      if (*s.size > static_cast<uint64_t>(INT64_MAX)) return Errno::kEFBIG;
      req.mask |= p::kSetSize, req.size = *s.size;
    }
    for (auto [src, mask, sec, nsec] : {std::tuple{&s.atime, p::kSetAtime, &req.atime_sec, &req.atime_nsec},
                                        std::tuple{&s.mtime, p::kSetMtime, &req.mtime_sec, &req.mtime_nsec}}) {
      if (!src->has_value()) continue;
      if ((*src)->tv_nsec < 0 || (*src)->tv_nsec >= 1'000'000'000) return Errno::kEINVAL;
      req.mask |= mask;
      *sec = (*src)->tv_sec;
      *nsec = (*src)->tv_nsec;
    }
    if (req.mask == 0) return Stat(h);
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kSetAttr);
    p::Encode(w, req);
    return AttrCall(p::Op::kSetAttr, w);
  }

  Result<Attr> Link(Handle dir, const std::string& name, Handle target) override {
    TRY(p::ValidateName(name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kLink);
    p::Encode(w, p::LinkReq{dir, name, target});
    return AttrCall(p::Op::kLink, w);
  }

  Result<std::string> GetXattr(Handle h, const std::string& name) override {
    TRY(p::ValidateXattrName(name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kGetXattr);
    p::Encode(w, p::XattrReq{h, name});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kGetXattr, w, fds, 0));
    std::string value = TRY(Check(r.Bytes(p::kMaxXattrValue)));
    TRY(Check(r.Finish()));
    return value;
  }

  Result<std::vector<std::string>> ListXattr(Handle h) override {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kListXattr);
    p::Encode(w, p::HandleReq{h});
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kListXattr, w, fds, 0));
    const uint32_t n = TRY(Check(r.U32()));
    if (n > p::kMaxXattrNames) return Broken(Errno::kEBADMSG);
    std::vector<std::string> names;
    for (uint32_t i = 0; i < n; ++i) {
      std::string name = TRY(Check(r.Str(255)));
      if (!p::ValidateXattrName(name).ok()) return Broken(Errno::kEBADMSG);
      names.push_back(std::move(name));
    }
    TRY(Check(r.Finish()));
    return names;
  }

  Result<void> SetXattr(Handle h, const std::string& name, const std::string& value, int flags) override {
    TRY(p::ValidateXattrName(name));
    if (value.size() > p::kMaxXattrValue) return Errno::kE2BIG;
    if (flags & ~3) return Errno::kEINVAL;
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kSetXattr);
    p::Encode(w, p::SetXattrReq{h, name, value, static_cast<uint32_t>(flags)});
    return EmptyCall(p::Op::kSetXattr, w);
  }

  Result<void> RemoveXattr(Handle h, const std::string& name) override {
    TRY(p::ValidateXattrName(name));
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kRemoveXattr);
    p::Encode(w, p::XattrReq{h, name});
    return EmptyCall(p::Op::kRemoveXattr, w);
  }

 private:
  Result<Attr> AttrCall(p::Op op, const p::Writer& w) {
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(op, w, fds, 0));
    const Attr a = TRY(Check(r.GetAttr()));
    TRY(Check(r.Finish()));
    return a;
  }

  Result<std::vector<WalkStep>> WalkOnce(Handle dir, std::span<const std::string> names) {
    p::Writer w;
    p::EncodeRequestHeader(w, p::Op::kWalk);
    p::EncodeWalkReq(w, dir, names);
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(p::Op::kWalk, w, fds, 0));
    std::vector<WalkStep> steps = TRY(Check(p::DecodeSteps(r, names.size())));
    if (steps.empty()) return Broken(Errno::kEIO);  // success means >= 1 step
    return steps;
  }

  Result<WalkStep> StepCall(p::Op op, const p::Writer& w) {
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(op, w, fds, 0));
    const WalkStep step = TRY(Check(r.GetStep()));
    TRY(Check(r.Finish()));
    return step;
  }

  Result<void> EmptyCall(p::Op op, const p::Writer& w) {
    absl::MutexLock l(&mu_);
    std::vector<UniqueFd> fds;
    p::Reader r = TRY(CallLocked(op, w, fds, 0));
    return Check(r.Finish());
  }

  // Sends `w`, receives the response for `op` into buf_, and returns a reader
  // over its payload. A status other than 0 is returned as the error. On
  // success exactly `want_fds` fds arrived (in `fds`). Holds mu_ because the
  // reader points into buf_.
  Result<p::Reader> CallLocked(p::Op op, const p::Writer& w, std::vector<UniqueFd>& fds, size_t want_fds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (broken_) return Errno::kEIO;
    if (auto s = p::SendMessage(sock_.get(), w.bytes()); !s.ok()) return Broken(s.error());
    Result<size_t> n = p::RecvMessage(sock_.get(), buf_, &fds);
    if (!n.ok()) return Broken(n.error());
    if (n.value() == 0) return Broken(Errno::kECONNRESET);
    p::Reader r(std::span<const uint8_t>(buf_.data(), n.value()));
    r.set_btime(version_ >= p::kBtimeVersion);
    Result<p::ResponseHeader> h = p::DecodeResponseHeader(r);
    if (!h.ok() || h.value().op != op) return Broken(Errno::kEBADMSG);
    if (!h.value().ok()) {
      if (!fds.empty() || r.remaining() != 0) return Broken(Errno::kEBADMSG);
      return h.value().status;
    }
    if (fds.size() != want_fds) return Broken(Errno::kEBADMSG);
    return r;
  }

  // A decode failure of the gofer's answer breaks the connection.
  template <typename T>
  Result<T> Check(Result<T> r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!r.ok()) return Broken(r.error());
    return r;
  }

  Errno Broken(Errno why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!broken_) logging::Error("gofer client: connection broken: {}", base::ErrnoName(why));
    broken_ = true;
    return Errno::kEIO;
  }

  UniqueFd sock_;
  Handle root_ = p::kInvalidHandle;  // set by Handshake, then immutable
  Attr root_attr_;
  uint32_t version_ = 0;  // agreed by Handshake, then immutable
  absl::Mutex mu_;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  std::array<uint8_t, p::kMaxMessageSize> buf_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(UniqueFd sock) {
  auto c = std::make_unique<SocketClient>(std::move(sock));
  TRY(c->Handshake());
  return std::unique_ptr<Client>(std::move(c));
}

}  // namespace gofer
