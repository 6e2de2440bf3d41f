// The gofer wire protocol decoder (gofer/protocol.h) on untrusted bytes, as
// the gofer reads requests and the sentry reads responses. Properties: no
// crash; every failure is kEBADMSG; a request that decodes re-encodes to the
// very same bytes (no field is lost or invented); decoded names are valid.
#include <sys/stat.h>

#include <span>

#include "gofer/protocol.h"
#include "tests/fuzz/fuzz.h"

namespace {

using gofer::protocol::Op;
using gofer::protocol::Reader;
using gofer::protocol::Writer;

template <typename Req, typename Decode>
void RoundTrip(std::span<const uint8_t> msg, Op op, Decode decode) {
  Reader r(msg);
  auto hdr = gofer::protocol::DecodeRequestHeader(r);
  FUZZ_CHECK(hdr.ok() && hdr.value() == op);
  auto req = decode(r);
  if (!req.ok()) {
    FUZZ_CHECK(req.error() == base::Errno::kEBADMSG);
    return;
  }
  Writer w;
  gofer::protocol::EncodeRequestHeader(w, op);
  gofer::protocol::Encode(w, req.value());
  FUZZ_CHECK(w.size() == msg.size());
  FUZZ_CHECK(std::memcmp(w.bytes().data(), msg.data(), msg.size()) == 0);
}

void Request(std::span<const uint8_t> msg) {
  namespace p = gofer::protocol;
  Reader r(msg);
  auto op = p::DecodeRequestHeader(r);
  if (!op.ok()) {
    FUZZ_CHECK(op.error() == base::Errno::kEBADMSG);
    return;
  }
  switch (op.value()) {
    case Op::kVersion: RoundTrip<p::VersionReq>(msg, Op::kVersion, p::DecodeVersionReq); break;
    case Op::kWalk: {
      RoundTrip<p::WalkReq>(msg, Op::kWalk, p::DecodeWalkReq);
      Reader again(msg);
      (void)p::DecodeRequestHeader(again);
      if (auto w = p::DecodeWalkReq(again); w.ok()) {
        FUZZ_CHECK(!w.value().names.empty() && w.value().names.size() <= p::kMaxWalkNames);
        for (const std::string& n : w.value().names) FUZZ_CHECK(p::ValidateName(n).ok());
      }
      break;
    }
    case Op::kOpen: RoundTrip<p::OpenReq>(msg, Op::kOpen, p::DecodeOpenReq); break;
    case Op::kReadlink:
    case Op::kStat:
    case Op::kStatfs:
    case Op::kRelease: RoundTrip<p::HandleReq>(msg, op.value(), p::DecodeHandleReq); break;
    case Op::kMkdir: RoundTrip<p::MkdirReq>(msg, Op::kMkdir, p::DecodeMkdirReq); break;
    case Op::kCreate: RoundTrip<p::CreateReq>(msg, Op::kCreate, p::DecodeCreateReq); break;
    case Op::kSymlink: {
      RoundTrip<p::SymlinkReq>(msg, Op::kSymlink, p::DecodeSymlinkReq);
      Reader again(msg);
      (void)p::DecodeRequestHeader(again);
      if (auto s = p::DecodeSymlinkReq(again); s.ok()) {
        FUZZ_CHECK(p::ValidateName(s.value().name).ok());
        FUZZ_CHECK(p::ValidateTarget(s.value().target).ok());
      }
      break;
    }
    case Op::kUnlink: RoundTrip<p::UnlinkReq>(msg, Op::kUnlink, p::DecodeUnlinkReq); break;
    case Op::kRename: RoundTrip<p::RenameReq>(msg, Op::kRename, p::DecodeRenameReq); break;
    case Op::kSetAttr: RoundTrip<p::SetAttrReq>(msg, Op::kSetAttr, p::DecodeSetAttrReq); break;
    case Op::kLink: RoundTrip<p::LinkReq>(msg, Op::kLink, p::DecodeLinkReq); break;
    case Op::kGetXattr:
    case Op::kRemoveXattr: RoundTrip<p::XattrReq>(msg, op.value(), p::DecodeXattrReq); break;
    case Op::kListXattr: RoundTrip<p::HandleReq>(msg, Op::kListXattr, p::DecodeHandleReq); break;
    case Op::kSetXattr: {
      RoundTrip<p::SetXattrReq>(msg, Op::kSetXattr, p::DecodeSetXattrReq);
      Reader again(msg);
      (void)p::DecodeRequestHeader(again);
      if (auto s = p::DecodeSetXattrReq(again); s.ok()) {
        FUZZ_CHECK(p::ValidateXattrName(s.value().name).ok());
        FUZZ_CHECK(s.value().value.size() <= p::kMaxXattrValue);
      }
      break;
    }
    case Op::kMknod: {
      RoundTrip<p::MknodReq>(msg, Op::kMknod, p::DecodeMknodReq);
      Reader again(msg);
      (void)p::DecodeRequestHeader(again);
      if (auto m = p::DecodeMknodReq(again); m.ok()) {
        const uint32_t type = m.value().mode & S_IFMT;
        FUZZ_CHECK(type == S_IFIFO || type == S_IFSOCK);  // never a device node
      }
      break;
    }
    case Op::kRename2: RoundTrip<p::Rename2Req>(msg, Op::kRename2, p::DecodeRename2Req); break;
    default: FUZZ_CHECK(!"DecodeRequestHeader accepted an unknown op");
  }
}

// The sentry's side: every response payload decoder on the bytes after a
// response header.
void Response(std::span<const uint8_t> msg) {
  namespace p = gofer::protocol;
  Reader r(msg);
  auto hdr = p::DecodeResponseHeader(r);
  if (!hdr.ok()) {
    FUZZ_CHECK(hdr.error() == base::Errno::kEBADMSG);
    return;
  }
  const auto rest = msg.subspan(msg.size() - r.remaining());
  {
    Reader x(rest);
    (void)p::DecodeVersionResp(x);
  }
  {
    Reader x(rest);
    auto steps = p::DecodeSteps(x, p::kMaxWalkNames);
    if (steps.ok()) FUZZ_CHECK(steps.value().size() <= p::kMaxWalkNames);
  }
  {
    Reader x(rest);
    (void)x.Str(p::kMaxPathLen);
    (void)x.GetStatFs();
    (void)x.GetStep();
    (void)x.Name();
    (void)x.Finish();
  }
  {
    Reader x(rest);  // GetXattr value, ListXattr names
    (void)x.Bytes(p::kMaxXattrValue);
    (void)x.U32();
    (void)x.Str(255);
    (void)x.GetAttr();
  }
  {
    Reader x(rest);  // a version-3 Attr (birth time)
    x.set_btime(true);
    (void)x.GetAttr();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> msg(data, size);
  Request(msg);
  Response(msg);
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  namespace p = gofer::protocol;
  std::vector<std::string> out;
  auto add = [&](Op op, const auto& req) {
    Writer w;
    p::EncodeRequestHeader(w, op);
    p::Encode(w, req);
    out.emplace_back(reinterpret_cast<const char*>(w.bytes().data()), w.size());
  };
  add(Op::kVersion, p::VersionReq{});
  add(Op::kWalk, p::WalkReq{.dir = 1, .names = {"etc", "passwd"}});
  add(Op::kOpen, p::OpenReq{.h = 2, .flags = 0});
  add(Op::kStat, p::HandleReq{.h = 3});
  add(Op::kMkdir, p::MkdirReq{.dir = 1, .name = "d", .mode = 0755, .uid = 0, .gid = 0});
  add(Op::kCreate, p::CreateReq{.dir = 1, .name = "f", .flags = 0101, .mode = 0644, .uid = 0, .gid = 0});
  add(Op::kSymlink, p::SymlinkReq{.dir = 1, .name = "l", .target = "../../etc", .uid = 0, .gid = 0});
  add(Op::kUnlink, p::UnlinkReq{.dir = 1, .name = "f", .flags = 0});
  add(Op::kRename, p::RenameReq{.old_dir = 1, .old_name = "a", .new_dir = 1, .new_name = "b"});
  add(Op::kSetAttr, p::SetAttrReq{.h = 2, .mask = p::kSetMode | p::kSetSize | p::kSetMtime, .mode = 0644, .uid = 0,
                                  .gid = 0, .size = 10, .atime_sec = 0, .atime_nsec = 0, .mtime_sec = 5,
                                  .mtime_nsec = 7});
  add(Op::kLink, p::LinkReq{.dir = 1, .name = "h", .target = 2});
  add(Op::kGetXattr, p::XattrReq{.h = 2, .name = "user.a"});
  add(Op::kSetXattr, p::SetXattrReq{.h = 2, .name = "user.a", .value = std::string("v\0w", 3), .flags = 1});
  add(Op::kListXattr, p::HandleReq{.h = 2});
  add(Op::kMknod, p::MknodReq{.dir = 1, .name = "p", .mode = S_IFIFO | 0644, .uid = 0, .gid = 0});
  add(Op::kRename2, p::Rename2Req{.old_dir = 1, .old_name = "a", .new_dir = 1, .new_name = "b", .flags = 2});
  {
    Writer w;
    p::EncodeResponseHeader(w, Op::kWalk, 0);
    std::vector<gofer::WalkStep> steps(2);
    steps[0].handle = 5;
    steps[1].handle = 6;
    p::EncodeSteps(w, steps);
    out.emplace_back(reinterpret_cast<const char*>(w.bytes().data()), w.size());
  }
  {
    Writer w;
    p::EncodeResponseHeader(w, Op::kVersion, 0);
    p::Encode(w, p::VersionResp{.version = p::kVersion, .root = 1, .attr = {}});
    out.emplace_back(reinterpret_cast<const char*>(w.bytes().data()), w.size());
  }
  return out;
}
