#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <set>

#include "fs/synthetic.h"
#include "tests/unit/fs/vfs_fixture.h"

namespace fs::testing {
namespace {

using base::Errno;

struct Dirent {
  uint64_t ino;
  int64_t off;
  uint16_t reclen;
  uint8_t type;
  std::string name;
};

std::vector<Dirent> Parse(std::span<const uint8_t> buf) {
  std::vector<Dirent> out;
  size_t pos = 0;
  while (pos < buf.size()) {
    Dirent d;
    std::memcpy(&d.ino, buf.data() + pos, 8);
    std::memcpy(&d.off, buf.data() + pos + 8, 8);
    std::memcpy(&d.reclen, buf.data() + pos + 16, 2);
    d.type = buf[pos + 18];
    d.name = reinterpret_cast<const char*>(buf.data() + pos + 19);
    out.push_back(d);
    pos += d.reclen;
  }
  return out;
}

class ProcDevTest : public VfsTest {
 protected:
  std::string Readlink(std::string_view path, const Caller& c) {
    auto p = vfs_->Resolve(c, *fsctx_, fsctx_->cwd(), path, ResolveOpts{.follow_final = false});
    if (!p.ok()) return std::string(base::ErrnoName(p.error()));
    auto s = p.value().dentry->inode()->Readlink(c);
    if (!s.ok()) return std::string(base::ErrnoName(s.error()));
    return s.value();
  }
};

TEST(PutDirent64, RecordsAreEightByteAlignedAndNulTerminated) {
  uint8_t buf[64];
  const size_t n = PutDirent64(buf, 0, 42, 7, DT_REG, "abc");
  EXPECT_EQ(n, 24u);  // 19 header + "abc\0" = 23, aligned to 24
  auto d = Parse(std::span<const uint8_t>(buf, n));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ino, 42u);
  EXPECT_EQ(d[0].off, 7);
  EXPECT_EQ(d[0].reclen, 24);
  EXPECT_EQ(d[0].type, DT_REG);
  EXPECT_EQ(d[0].name, "abc");
  EXPECT_EQ(PutDirent64(std::span<uint8_t>(buf, 23), 0, 1, 1, DT_REG, "abc"), 0u);
}

TEST_F(ProcDevTest, Getdents64ListsDotDotDotAndChildren) {
  auto f = Open("/dev", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> buf(4096);
  auto n = f.value()->Getdents64(buf);
  ASSERT_TRUE(n.ok());
  auto entries = Parse(std::span<const uint8_t>(buf.data(), n.value()));
  ASSERT_GE(entries.size(), 7u);
  EXPECT_EQ(entries[0].name, ".");
  EXPECT_EQ(entries[0].type, DT_DIR);
  EXPECT_EQ(entries[1].name, "..");
  std::set<std::string> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    names.insert(entries[i].name);
    EXPECT_EQ(entries[i].off, static_cast<int64_t>(i + 1));
    EXPECT_EQ(entries[i].reclen % 8, 0);
  }
  EXPECT_TRUE(names.count("null") && names.count("zero") && names.count("urandom"));
  EXPECT_EQ(f.value()->Getdents64(buf).value(), 0u);  // end of directory
  // Rewind and a too-small buffer.
  EXPECT_EQ(f.value()->Seek(0, SEEK_SET).value(), 0u);
  EXPECT_EQ(f.value()->Getdents64(std::span<uint8_t>(buf.data(), 10)).error(), Errno::kEINVAL);
}

TEST_F(ProcDevTest, GoferDirectoryGetdentsComesFromTheHostFd) {
  auto f = Open("/etc", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> buf(32768);
  auto n = f.value()->Getdents64(buf);
  ASSERT_TRUE(n.ok());
  auto entries = Parse(std::span<const uint8_t>(buf.data(), n.value()));
  std::set<std::string> names;
  for (auto& e : entries) names.insert(e.name);
  EXPECT_TRUE(names.count(".") && names.count(".."));
}

TEST_F(ProcDevTest, ProcSelfExeReadlinkGivesTheExePath) {
  Caller c = RootCaller();
  EXPECT_EQ(Readlink("/proc/self", c), "7");
  EXPECT_EQ(Readlink("/proc/self/exe", c), "/bin/sh");
  EXPECT_EQ(Readlink("/proc/7/exe", c), "/bin/sh");
  EXPECT_EQ(Readlink("/proc/8/exe", c), "ENOENT");
  // Following /proc/self/exe reaches the file.
  auto p = Resolve("/proc/self/exe");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(AbsolutePath(p.value()), "/bin/sh");
}

TEST_F(ProcDevTest, ProcSelfCwdAndFd) {
  fsctx_->SetCwd(Resolve("/etc").value());
  Caller c = RootCaller();
  EXPECT_EQ(Readlink("/proc/self/cwd", c), "/etc");
  const int fd = fds_.Install(Open("/etc/passwd", O_RDONLY).value(), false).value();
  EXPECT_EQ(Readlink("/proc/self/fd/" + std::to_string(fd), c), "/etc/passwd");
  EXPECT_EQ(Readlink("/proc/self/fd/99", c), "ENOENT");
  auto dir = Open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir.ok());
  std::vector<uint8_t> buf(4096);
  auto entries = Parse(std::span<const uint8_t>(buf.data(), dir.value()->Getdents64(buf).value()));
  std::set<std::string> names;
  for (auto& e : entries) names.insert(e.name);
  EXPECT_TRUE(names.count(std::to_string(fd)));
}

TEST_F(ProcDevTest, ProcSelfIsPerCaller) {
  Caller c = RootCaller();
  EXPECT_EQ(Readlink("/proc/self", c), "7");
  tg_.pid = 9;
  EXPECT_EQ(Readlink("/proc/self", c), "9");
  EXPECT_TRUE(Resolve("/proc/9/exe", ResolveOpts{.follow_final = false}).ok());
  EXPECT_EQ(Resolve("/proc/7").error(), Errno::kENOENT);
}

TEST_F(ProcDevTest, DevNullZeroFull) {
  auto null = Open("/dev/null", O_RDWR);
  ASSERT_TRUE(null.ok());
  uint8_t buf[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(null.value()->Read(buf).value(), 0u);
  EXPECT_EQ(null.value()->Write(buf).value(), 8u);
  auto zero = Open("/dev/zero", O_RDONLY);
  EXPECT_EQ(zero.value()->Read(buf).value(), 8u);
  EXPECT_EQ(buf[3], 0);
  auto full = Open("/dev/full", O_WRONLY);
  EXPECT_EQ(full.value()->Write(buf).error(), Errno::kENOSPC);
  auto st = null.value()->Stat();
  EXPECT_TRUE(S_ISCHR(st.value().st_mode));
  EXPECT_EQ(st.value().st_rdev, makedev(1, 3));
  // Non-root can write /dev/null (mode 0666).
  Caller u = UserCaller();
  EXPECT_TRUE(Open("/dev/null", O_WRONLY, &u).ok());
  EXPECT_EQ(Open("/dev/stdin", O_PATH).ok(), false);  // fd 0 is not open here
}

TEST_F(ProcDevTest, SysCpuOnlineAndProcSysFiles) {
  auto online = Open("/sys/devices/system/cpu/online", O_RDONLY);
  ASSERT_TRUE(online.ok());
  const std::string range = ReadAll(*online.value());
  EXPECT_TRUE(range == "0\n" || range.rfind("0-", 0) == 0) << range;
  EXPECT_TRUE(Resolve("/sys/devices/system/cpu/cpu0").ok());
  EXPECT_TRUE(Resolve("/sys/fs/cgroup").ok());
  EXPECT_EQ(Open("/sys/devices/system/cpu/online", O_WRONLY).error(), Errno::kEROFS);
  EXPECT_EQ(ReadAll(*Open("/proc/sys/kernel/ostype", O_RDONLY).value()), "Linux\n");
  EXPECT_EQ(ReadAll(*Open("/proc/meminfo", O_RDONLY).value()).rfind("MemTotal:", 0), 0u);
  EXPECT_EQ(Readlink("/proc/thread-self", RootCaller()), "7/task/7");
  EXPECT_TRUE(Resolve("/proc/self/task/7/status").ok());
  EXPECT_EQ(Resolve("/proc/self/task/8").error(), Errno::kENOENT);
}

TEST_F(ProcDevTest, OomScoreAdjAcceptsValidWritesOnly) {
  auto f = Open("/proc/self/oom_score_adj", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(f.ok());
  const std::string ok = "-500\n", bad = "1001\n", junk = "x";
  EXPECT_EQ(f.value()->Write({reinterpret_cast<const uint8_t*>(ok.data()), ok.size()}).value(), ok.size());
  EXPECT_EQ(f.value()->Write({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}).error(), Errno::kEINVAL);
  EXPECT_EQ(f.value()->Write({reinterpret_cast<const uint8_t*>(junk.data()), junk.size()}).error(), Errno::kEINVAL);
  // The valid write took (the caller has CAP_SYS_RESOURCE); the others did not.
  EXPECT_EQ(ReadAll(*Open("/proc/self/oom_score_adj", O_RDONLY).value()), "-500\n");
}

TEST_F(ProcDevTest, DevUrandomGivesBytes) {
  auto f = Open("/dev/urandom", O_RDONLY);
  ASSERT_TRUE(f.ok());
  uint8_t a[32] = {}, b[32] = {};
  EXPECT_EQ(f.value()->Read(a).value(), 32u);
  EXPECT_EQ(f.value()->Read(b).value(), 32u);
  EXPECT_NE(std::memcmp(a, b, 32), 0);
}

}  // namespace
}  // namespace fs::testing
