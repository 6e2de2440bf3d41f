// The gofer wire protocol: one request and one response per SOCK_SEQPACKET
// datagram, strictly alternating (Release has no response). Every message
// starts with a fixed header; payloads are native-endian fixed-size integers
// and length-prefixed strings (both ends run on the same host).
//
// This file is the only place that encodes or decodes messages. Decoding
// treats every byte as untrusted (the gofer trusts nothing from the sentry,
// and the sentry checks the gofer's answers too): each length, count and
// name is bounded and validated, trailing bytes are an error, and any failure
// is Errno::kEBADMSG, after which the caller drops the connection
// (lisafs/message.go does the same).
#ifndef GOFER_PROTOCOL_H_
#define GOFER_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/result.h"
#include "gofer/client.h"

namespace gofer::protocol {

inline constexpr uint32_t kMagic = 0x52464f47;  // "GOFR"
// Version 2 added Mknod and Rename2; version 3 appends the birth time to
// every Attr after the handshake's (kNoBtime: the host has none); version 4
// to the handshake's root Attr too (the sentry caches a read-only mount's
// root attributes from it for good). The server speaks any version from
// kMinVersion up and answers with min(asked, kVersion); the ops of a later
// version than the one agreed are malformed.
inline constexpr uint32_t kVersion = 4;
inline constexpr uint32_t kBtimeVersion = 3;
inline constexpr uint32_t kRootBtimeVersion = 4;
inline constexpr int64_t kNoBtime = INT64_MIN;
inline constexpr uint32_t kMinVersion = 1;
// Bounds; a message that exceeds one is malformed.
inline constexpr size_t kMaxMessageSize = 32 * 1024;
inline constexpr size_t kMaxNameLen = 255;       // NAME_MAX
inline constexpr size_t kMaxPathLen = 4095;      // PATH_MAX - 1 (symlink targets)
inline constexpr uint32_t kMaxWalkNames = 64;    // per Walk round trip
inline constexpr size_t kMaxXattrValue = 16 * 1024;  // fits one datagram with room to spare
inline constexpr uint32_t kMaxXattrNames = 1024;     // per ListXattr answer
inline constexpr Handle kInvalidHandle = 0;

enum class Op : uint32_t {
  kVersion = 1,
  kWalk = 2,
  kOpen = 3,
  kReadlink = 4,
  kStat = 5,
  kStatfs = 6,
  kRelease = 7,  // one-way: no response
  kMkdir = 8,
  kCreate = 9,
  kSymlink = 10,
  kUnlink = 11,
  kRename = 12,
  kSetAttr = 13,
  kLink = 14,
  kGetXattr = 15,
  kListXattr = 16,
  kSetXattr = 17,
  kRemoveXattr = 18,
  kMknod = 19,    // version 2
  kRename2 = 20,  // version 2
};
inline constexpr Op kLastOp = Op::kRename2;
// The protocol version that introduced `op`.
uint32_t OpVersion(Op op);
std::string_view OpName(Op op);
bool IsKnownOp(uint32_t op);

// Appends native-endian fields to a buffer.
class Writer {
 public:
  Writer() { buf_.reserve(256); }
  // Attrs carry the birth time (a version-3 connection after the handshake).
  void set_btime(bool on) { btime_ = on; }
  void U32(uint32_t v) { Raw(v); }
  void U64(uint64_t v) { Raw(v); }
  void I64(int64_t v) { Raw(v); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  void PutAttr(const Attr& a);
  void PutStatFs(const StatFs& s);
  void PutStep(const WalkStep& s) {
    U64(s.handle);
    PutAttr(s.attr);
  }
  std::span<const uint8_t> bytes() const { return buf_; }
  size_t size() const { return buf_.size(); }

 private:
  bool btime_ = false;
  template <typename T>
  void Raw(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  std::vector<uint8_t> buf_;
};

// Reads fields from untrusted bytes. Every getter fails with kEBADMSG rather
// than read past the end; Finish() fails if bytes are left over.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  // Attrs carry the birth time (as Writer::set_btime).
  void set_btime(bool on) { btime_ = on; }
  Result<uint32_t> U32() { return Raw<uint32_t>(); }
  Result<uint64_t> U64() { return Raw<uint64_t>(); }
  Result<int64_t> I64() { return Raw<int64_t>(); }
  // A string of at most max_len bytes with no NUL.
  Result<std::string> Str(size_t max_len);
  // Raw bytes (NULs allowed: xattr values), at most max_len.
  Result<std::string> Bytes(size_t max_len);
  // A single path component: see ValidateName.
  Result<std::string> Name();
  Result<Attr> GetAttr();
  Result<StatFs> GetStatFs();
  Result<WalkStep> GetStep();
  Result<void> Finish() const;
  size_t remaining() const { return b_.size() - pos_; }

 private:
  template <typename T>
  Result<T> Raw() {
    if (remaining() < sizeof(T)) return Errno::kEBADMSG;
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  bool btime_ = false;
};

// Name rules for one component: not empty, not "." or "..", no '/' or NUL,
// at most NAME_MAX bytes. EINVAL (ENAMETOOLONG for length) otherwise.
Result<void> ValidateName(std::string_view name);
// Symlink target: not empty, no NUL, at most kMaxPathLen bytes.
Result<void> ValidateTarget(std::string_view target);
// Xattr name: 1..XATTR_NAME_MAX (255) bytes, no NUL (ERANGE/EINVAL). The
// server further serves only the "user." namespace.
Result<void> ValidateXattrName(std::string_view name);

// ---- Headers ----
// Request: u32 op. Response: u32 op (echoed), u32 status (0 or a Linux errno);
// the payload follows only when status is 0.
struct ResponseHeader {
  Op op;
  Errno status;  // Errno{0} for success
  bool ok() const { return static_cast<int>(status) == 0; }
};
void EncodeRequestHeader(Writer& w, Op op);
Result<Op> DecodeRequestHeader(Reader& r);
void EncodeResponseHeader(Writer& w, Op op, int status);
Result<ResponseHeader> DecodeResponseHeader(Reader& r);

// ---- Requests (payload after the header) ----
struct VersionReq {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
};
struct WalkReq {
  Handle dir;
  std::vector<std::string> names;  // 1..kMaxWalkNames valid names
};
struct OpenReq {
  Handle h;
  uint32_t flags;
};
struct HandleReq {  // Readlink, Stat, Statfs, Release
  Handle h;
};
struct MkdirReq {
  Handle dir;
  std::string name;
  uint32_t mode, uid, gid;
};
struct CreateReq {
  Handle dir;
  std::string name;
  uint32_t flags, mode, uid, gid;
};
struct SymlinkReq {
  Handle dir;
  std::string name, target;
  uint32_t uid, gid;
};
struct UnlinkReq {
  Handle dir;
  std::string name;
  uint32_t flags;  // 0 or AT_REMOVEDIR
};
struct RenameReq {
  Handle old_dir;
  std::string old_name;
  Handle new_dir;
  std::string new_name;
};

// Mknod: a FIFO or a socket node; `mode` is S_IFIFO or S_IFSOCK plus
// permission bits (regular files are Create's; devices are never made).
struct MknodReq {
  Handle dir;
  std::string name;
  uint32_t mode, uid, gid;
};
// Rename2: renameat2 with RENAME_NOREPLACE or RENAME_EXCHANGE (exactly one).
inline constexpr uint32_t kRenameNoreplace = 1, kRenameExchange = 2;
struct Rename2Req {
  Handle old_dir;
  std::string old_name;
  Handle new_dir;
  std::string new_name;
  uint32_t flags;
};

// SetAttr: which fields are set (SetAttrReq::mask).
inline constexpr uint32_t kSetMode = 1, kSetUid = 2, kSetGid = 4, kSetSize = 8, kSetAtime = 16, kSetMtime = 32;
inline constexpr uint32_t kSetAll = 63;
struct SetAttrReq {
  Handle h;
  uint32_t mask;  // kSet* bits; others are malformed
  uint32_t mode, uid, gid;  // mode: permission bits 07777 only
  uint64_t size;
  int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;  // nsec < 1e9 (no UTIME_* here)
};
struct LinkReq {
  Handle dir;
  std::string name;
  Handle target;
};
struct XattrReq {  // GetXattr, RemoveXattr
  Handle h;
  std::string name;
};
struct SetXattrReq {
  Handle h;
  std::string name;
  std::string value;  // up to kMaxXattrValue bytes, NULs allowed
  uint32_t flags;     // 0, XATTR_CREATE or XATTR_REPLACE
};

void Encode(Writer& w, const VersionReq& m);
void Encode(Writer& w, const WalkReq& m);
// The same bytes as Encode(WalkReq), without copying the names.
void EncodeWalkReq(Writer& w, Handle dir, std::span<const std::string> names);
void Encode(Writer& w, const OpenReq& m);
void Encode(Writer& w, const HandleReq& m);
void Encode(Writer& w, const MkdirReq& m);
void Encode(Writer& w, const CreateReq& m);
void Encode(Writer& w, const SymlinkReq& m);
void Encode(Writer& w, const UnlinkReq& m);
void Encode(Writer& w, const RenameReq& m);
void Encode(Writer& w, const SetAttrReq& m);
void Encode(Writer& w, const LinkReq& m);
void Encode(Writer& w, const XattrReq& m);
void Encode(Writer& w, const SetXattrReq& m);
void Encode(Writer& w, const MknodReq& m);
void Encode(Writer& w, const Rename2Req& m);
// Each decoder consumes the whole remaining payload.
Result<VersionReq> DecodeVersionReq(Reader& r);
Result<WalkReq> DecodeWalkReq(Reader& r);
Result<OpenReq> DecodeOpenReq(Reader& r);
Result<HandleReq> DecodeHandleReq(Reader& r);
Result<MkdirReq> DecodeMkdirReq(Reader& r);
Result<CreateReq> DecodeCreateReq(Reader& r);
Result<SymlinkReq> DecodeSymlinkReq(Reader& r);
Result<UnlinkReq> DecodeUnlinkReq(Reader& r);
Result<RenameReq> DecodeRenameReq(Reader& r);
Result<SetAttrReq> DecodeSetAttrReq(Reader& r);
Result<LinkReq> DecodeLinkReq(Reader& r);
Result<XattrReq> DecodeXattrReq(Reader& r);
Result<SetXattrReq> DecodeSetXattrReq(Reader& r);
Result<MknodReq> DecodeMknodReq(Reader& r);
Result<Rename2Req> DecodeRename2Req(Reader& r);

// ---- Response payloads ----
// Version: u32 version, u64 root handle, Attr root attr (with btime when
// the answered version is kRootBtimeVersion or later).
// Walk: u32 count (<= kMaxWalkNames), count x (u64 handle, Attr).
// Open: empty, plus exactly one fd by SCM_RIGHTS.
// Readlink: string target. Stat: Attr. Statfs: StatFs.
// Mkdir, Symlink, Mknod: (u64 handle, Attr). Rename2: empty. Create: (u64 handle, Attr) plus one fd.
// Unlink, Rename, SetXattr, RemoveXattr: empty. SetAttr: Attr (after the
// change). Link: Attr of the target (its nlink grew).
// GetXattr: bytes value. ListXattr: u32 n (<= kMaxXattrNames), n x name.
struct VersionResp {
  uint32_t version;
  Handle root;
  Attr attr;
};
void Encode(Writer& w, const VersionResp& m);
Result<VersionResp> DecodeVersionResp(Reader& r);
void EncodeSteps(Writer& w, std::span<const WalkStep> steps);
Result<std::vector<WalkStep>> DecodeSteps(Reader& r, size_t max_steps);

// ---- Transport ----
// Sends one datagram, donating `fd` by SCM_RIGHTS when it is >= 0. Retries
// EINTR; MSG_NOSIGNAL so a dead peer is EPIPE, not SIGPIPE.
Result<void> SendMessage(int sock, std::span<const uint8_t> bytes, int fd = -1);
// Receives one datagram into `buf`; returns its length, 0 at end of stream.
// Donated fds go to `fds` (received O_CLOEXEC) when it is non-null, at most
// kMaxFdsPerMessage; with a null `fds` any donated fd is an error (the kernel
// closes fds it could not deliver). A datagram longer than `buf` or an
// overflowing control message is kEBADMSG. Retries EINTR.
inline constexpr size_t kMaxFdsPerMessage = 1;
Result<size_t> RecvMessage(int sock, std::span<uint8_t> buf, std::vector<base::UniqueFd>* fds);

}  // namespace gofer::protocol

#endif  // GOFER_PROTOCOL_H_
