// Encoding round trips and checked decoding, without sockets.
#include "gofer/protocol.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace gofer::protocol {
namespace {

template <typename M, typename D>
auto RoundTrip(const M& m, D decode) {
  Writer w;
  Encode(w, m);
  Reader r(w.bytes());
  return decode(r);
}

TEST(GoferProtocol, RequestsRoundTrip) {
  auto walk = RoundTrip(WalkReq{7, {"a", "b c"}}, DecodeWalkReq);
  ASSERT_TRUE(walk.ok());
  EXPECT_EQ(walk.value().dir, 7u);
  EXPECT_EQ(walk.value().names, (std::vector<std::string>{"a", "b c"}));
  auto sym = RoundTrip(SymlinkReq{3, "l", "/abs/target", 10, 20}, DecodeSymlinkReq);
  ASSERT_TRUE(sym.ok());
  EXPECT_EQ(sym.value().target, "/abs/target");
  EXPECT_EQ(sym.value().gid, 20u);
  auto cr = RoundTrip(CreateReq{3, "f", O_RDWR, 0640, 1, 2}, DecodeCreateReq);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr.value().mode, 0640u);
  auto rn = RoundTrip(RenameReq{1, "a", 2, "b"}, DecodeRenameReq);
  ASSERT_TRUE(rn.ok());
  EXPECT_EQ(rn.value().new_dir, 2u);
  EXPECT_EQ(rn.value().new_name, "b");
}

TEST(GoferProtocol, AttrAndStepsRoundTrip) {
  Attr a;
  a.mode = 0100644;
  a.size = 1ull << 40;
  a.mtime_ns = -5;
  a.ino = 99;
  std::vector<WalkStep> steps = {{5, a}, {6, a}};
  Writer w;
  EncodeSteps(w, steps);
  Reader r(w.bytes());
  auto got = DecodeSteps(r, 2);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value().size(), 2u);
  EXPECT_EQ(got.value()[1].handle, 6u);
  EXPECT_EQ(got.value()[1].attr.size, 1ull << 40);
  EXPECT_EQ(got.value()[1].attr.mtime_ns, -5);
  // More steps than names asked for is a lie from the peer.
  Reader r2(w.bytes());
  EXPECT_FALSE(DecodeSteps(r2, 1).ok());
}

TEST(GoferProtocol, NameRulesFollowLinux) {
  EXPECT_TRUE(ValidateName("a").ok());
  EXPECT_TRUE(ValidateName("...").ok());
  EXPECT_TRUE(ValidateName(std::string(255, 'a')).ok());
  EXPECT_EQ(ValidateName(std::string(256, 'a')).error(), Errno::kENAMETOOLONG);
  EXPECT_EQ(ValidateName("").error(), Errno::kEINVAL);
  EXPECT_EQ(ValidateName(".").error(), Errno::kEINVAL);
  EXPECT_EQ(ValidateName("..").error(), Errno::kEINVAL);
  EXPECT_EQ(ValidateName("a/b").error(), Errno::kEINVAL);
  EXPECT_EQ(ValidateName(std::string("a\0", 2)).error(), Errno::kEINVAL);
}

TEST(GoferProtocol, ReaderNeverReadsPastTheEnd) {
  const uint8_t three[3] = {1, 2, 3};
  Reader r(three);
  EXPECT_EQ(r.U32().error(), Errno::kEBADMSG);
  Writer w;
  w.U32(100);  // claims 100 bytes, has 2
  w.U32(0);
  w.U32(0);
  Reader s(std::span<const uint8_t>(w.bytes().data(), 6));
  EXPECT_EQ(s.Str(1000).error(), Errno::kEBADMSG);
}

TEST(GoferProtocol, ResponseStatusMustBeAnErrno) {
  Writer w;
  EncodeResponseHeader(w, Op::kStat, 5000);
  Reader r(w.bytes());
  EXPECT_FALSE(DecodeResponseHeader(r).ok());
}

}  // namespace
}  // namespace gofer::protocol
