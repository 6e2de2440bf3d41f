// /proc/sys writes (sysctl), /proc/net and /proc/locks. Runs natively too,
// as root on the test machines: a write that would succeed natively runs
// only in a child with its own UTS namespace, or only in the sandbox, so the
// host's settings never change.
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util.h"

namespace syscall_test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// Writes `s` to `path` in one write(2); returns 0 or the errno.
int WriteFile(const char* path, const std::string& s) {
  const int fd = open(path, O_WRONLY | O_TRUNC);
  if (fd < 0) return errno;
  const ssize_t n = write(fd, s.data(), s.size());
  const int err = n < 0 ? errno : 0;
  close(fd);
  return err;
}

// Runs `fn` in a forked child; its exit code (77: skipped).
template <typename F>
int InChild(F fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A UTS namespace of its own for a writing child: natively a new one
// (root only); the sandbox's is its own already (and unshare may be ENOSYS).
bool OwnUtsNamespace() { return unshare(CLONE_NEWUTS) == 0 || IsSandboxed(); }

TEST(SysctlTest, HostnameWriteIsTheUtsNameUnameAndSethostnameShare) {
  const int rc = InChild([] {
    if (geteuid() != 0 || !OwnUtsNamespace()) return 77;
    if (WriteFile("/proc/sys/kernel/hostname", "sysctl-test\n") != 0) return 1;
    struct utsname u {};
    if (uname(&u) != 0 || std::string(u.nodename) != "sysctl-test") return 2;
    if (ReadFile("/proc/sys/kernel/hostname") != "sysctl-test\n") return 3;
    if (sethostname("via-call", 8) != 0 || ReadFile("/proc/sys/kernel/hostname") != "via-call\n") return 4;
    if (WriteFile("/proc/sys/kernel/domainname", "example.org") != 0) return 5;
    if (uname(&u) != 0 || std::string(u.domainname) != "example.org") return 6;
    if (setdomainname("d", 1) != 0 || ReadFile("/proc/sys/kernel/domainname") != "d\n") return 7;
    // Names longer than __NEW_UTS_LEN (64) are cut, not refused.
    if (WriteFile("/proc/sys/kernel/hostname", std::string(100, 'h')) != 0) return 8;
    if (ReadFile("/proc/sys/kernel/hostname") != std::string(64, 'h') + "\n") return 9;
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "needs root and a UTS namespace of its own";
  EXPECT_EQ(rc, 0);
}

TEST(SysctlTest, SethostnameChecksLengthThenCopiesIn) {
  const int rc = InChild([] {
    if (geteuid() != 0 || !OwnUtsNamespace()) return 77;
    char name[65] = {};
    if (sethostname(name, 65) != -1 || errno != EINVAL) return 1;
    if (syscall(SYS_sethostname, name, -1) != -1 || errno != EINVAL) return 2;
    if (syscall(SYS_sethostname, UnmappedAddress(), 4) != -1 || errno != EFAULT) return 3;
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "needs root and a UTS namespace of its own";
  EXPECT_EQ(rc, 0);
}

TEST(SysctlTest, NonRootCannotWriteHostnameOrCallSethostname) {
  const int rc = InChild([] {
    if (setresgid(65534, 65534, 65534) != 0 && geteuid() == 0) return 77;
    if (setresuid(65534, 65534, 65534) != 0 && geteuid() == 0) return 77;
    if (open("/proc/sys/kernel/hostname", O_WRONLY) != -1 || errno != EACCES) return 1;
    if (sethostname("x", 1) != -1 || errno != EPERM) return 2;
    if (setdomainname("x", 1) != -1 || errno != EPERM) return 3;
    if (open("/proc/sys/kernel/hostname", O_RDONLY) < 0) return 4;
    return 0;
  });
  if (rc == 77) GTEST_SKIP() << "cannot drop to an unprivileged user";
  EXPECT_EQ(rc, 0);
}

TEST(SysctlTest, ReadOnlyKeysRefuseWriteOpensEvenForRoot) {
  for (const char* key : {"/proc/sys/kernel/osrelease", "/proc/sys/kernel/ostype", "/proc/sys/fs/file-nr"}) {
    errno = 0;
    EXPECT_EQ(open(key, O_WRONLY), -1) << key;
    EXPECT_EQ(errno, EACCES) << key;
  }
  EXPECT_EQ(open("/proc/sys/kernel/no-such-key", O_WRONLY), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST(SysctlTest, OvercommitMemoryTakesOnlyLinuxsPolicies) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  // Rejected values change nothing, natively either.
  EXPECT_EQ(WriteFile("/proc/sys/vm/overcommit_memory", "5\n"), EINVAL);
  EXPECT_EQ(WriteFile("/proc/sys/vm/overcommit_memory", "one\n"), EINVAL);
  EXPECT_EQ(WriteFile("/proc/sys/vm/overcommit_memory", "-1"), EINVAL);
  if (!IsSandboxed()) return;  // the host's policy is not ours to change
  const std::string before = ReadFile("/proc/sys/vm/overcommit_memory");
  EXPECT_EQ(WriteFile("/proc/sys/vm/overcommit_memory", "1\n"), 0);
  EXPECT_EQ(ReadFile("/proc/sys/vm/overcommit_memory"), "1\n");
  EXPECT_EQ(WriteFile("/proc/sys/vm/overcommit_memory", before), 0);
  EXPECT_EQ(ReadFile("/proc/sys/vm/overcommit_memory"), before);
}

// The net keys programs read (listen backlogs, ephemeral ports, keepalive
// defaults, whether IPv6 is on) exist and parse as Linux prints them.
TEST(SysctlTest, NetKeysProgramsReadHaveLinuxsFormat) {
  const std::regex one_int("^[0-9]+\n$");
  for (const char* key : {"/proc/sys/net/core/somaxconn", "/proc/sys/net/core/rmem_max",
                          "/proc/sys/net/ipv4/tcp_syncookies", "/proc/sys/net/ipv4/tcp_fin_timeout",
                          "/proc/sys/net/ipv4/tcp_keepalive_time", "/proc/sys/net/ipv4/tcp_max_syn_backlog",
                          "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/disable_ipv6",
                          "/proc/sys/net/ipv6/conf/lo/disable_ipv6"}) {
    EXPECT_TRUE(std::regex_match(ReadFile(key), one_int)) << key << ": '" << ReadFile(key) << "'";
  }
  EXPECT_GT(std::stoi(ReadFile("/proc/sys/net/core/somaxconn")), 0);
  const std::string range = ReadFile("/proc/sys/net/ipv4/ip_local_port_range");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(range, m, std::regex("^([0-9]+)\t([0-9]+)\n$"))) << range;
  EXPECT_LE(std::stoi(m[1].str()), std::stoi(m[2].str()));
  EXPECT_LE(std::stoi(m[2].str()), 65535);
  EXPECT_TRUE(std::regex_match(ReadFile("/proc/sys/net/ipv4/tcp_rmem"),
                               std::regex("^[0-9]+\t[0-9]+\t[0-9]+\n$")));
  struct stat st;
  ASSERT_EQ(stat("/proc/sys/net/core/somaxconn", &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(SysctlTest, SomaxconnTakesAnIntegerAndKeepsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!IsSandboxed()) GTEST_SKIP() << "the host's network settings are not ours to change";
  const std::string before = ReadFile("/proc/sys/net/core/somaxconn");
  EXPECT_EQ(WriteFile("/proc/sys/net/core/somaxconn", "lots\n"), EINVAL);
  EXPECT_EQ(WriteFile("/proc/sys/net/core/somaxconn", "1024\n"), 0);
  EXPECT_EQ(ReadFile("/proc/sys/net/core/somaxconn"), "1024\n");
  EXPECT_EQ(WriteFile("/proc/sys/net/core/somaxconn", before), 0);
  EXPECT_EQ(ReadFile("/proc/sys/net/core/somaxconn"), before);
}

TEST(ProcNetTest, ProcNetIsSelfNetAndEveryProcessHasOne) {
  char buf[64] = {};
  ASSERT_EQ(readlink("/proc/net", buf, sizeof(buf) - 1), 8);
  EXPECT_STREQ(buf, "self/net");
  struct stat st {};
  ASSERT_EQ(stat("/proc/self/net", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_FALSE(ReadFile("/proc/" + std::to_string(getpid()) + "/net/dev").empty());
}

TEST(ProcNetTest, DevHasLinuxsHeaderAndTheLoopback) {
  const std::vector<std::string> lines = Lines(ReadFile("/proc/net/dev"));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "Inter-|   Receive                                                |  Transmit");
  EXPECT_EQ(lines[1],
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
            "carrier compressed");
  bool lo = false;
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_TRUE(std::regex_match(lines[i], std::regex(R"( *[^ :]+:( +\d+){16})"))) << lines[i];
    lo = lo || std::regex_match(lines[i], std::regex(" *lo:.*"));
  }
  EXPECT_TRUE(lo);
  EXPECT_THAT(ReadFile("/proc/net/if_inet6"),
              testing::ContainsRegex("00000000000000000000000000000001 01 80 10 80 +lo\n"));
}

TEST(ProcNetTest, SocketTablesStartWithLinuxsHeaders) {
  auto first = [](const char* path) {
    const std::vector<std::string> l = Lines(ReadFile(path));
    return l.empty() ? std::string() : l[0];
  };
  EXPECT_THAT(first("/proc/net/tcp"), testing::StartsWith("  sl  local_address rem_address   st tx_queue rx_queue tr "
                                                          "tm->when retrnsmt   uid  timeout inode"));
  EXPECT_EQ(first("/proc/net/tcp").size(), 149u);  // seq_pad
  EXPECT_THAT(first("/proc/net/udp"), testing::StartsWith("   sl  local_address rem_address   st tx_queue rx_queue "
                                                          "tr tm->when retrnsmt   uid  timeout inode ref pointer drops"));
  EXPECT_THAT(first("/proc/net/tcp6"), testing::StartsWith("  sl  local_address                         remote_address"));
  EXPECT_THAT(first("/proc/net/udp6"), testing::StartsWith("  sl  local_address                         remote_address"));
  EXPECT_EQ(first("/proc/net/unix"), "Num       RefCount Protocol Flags    Type St Inode Path");
  EXPECT_THAT(first("/proc/net/route"),
              testing::StartsWith("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"));
}

TEST(ProcNetTest, SnmpAndNetstatPairHeadersWithValues) {
  for (const char* path : {"/proc/net/snmp", "/proc/net/netstat"}) {
    const std::vector<std::string> lines = Lines(ReadFile(path));
    ASSERT_FALSE(lines.empty()) << path;
    ASSERT_EQ(lines.size() % 2, 0u) << path;
    for (size_t i = 0; i + 1 < lines.size(); i += 2) {
      const std::string prefix = lines[i].substr(0, lines[i].find(':') + 1);
      EXPECT_THAT(lines[i + 1], testing::StartsWith(prefix)) << path;
      std::istringstream h(lines[i]), v(lines[i + 1]);
      size_t nh = 0, nv = 0;
      for (std::string w; h >> w;) ++nh;
      for (std::string w; v >> w;) ++nv;
      EXPECT_EQ(nh, nv) << lines[i];
    }
    EXPECT_THAT(ReadFile("/proc/net/snmp"), testing::ContainsRegex("\nTcp: 1 200 120000 -1 "));
  }
}

// A temporary file for locks, removed at scope end.
class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/proc_sys_test.XXXXXX";
    fd_ = Fd(mkstemp(tmpl));
    if (fd_.get() >= 0) path_ = tmpl;
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // "MAJ:MIN:INO" as /proc/locks prints it.
  std::string Id() const {
    struct stat st {};
    fstat(fd_.get(), &st);
    char buf[64];
    snprintf(buf, sizeof(buf), "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
             static_cast<unsigned long>(st.st_ino));
    return buf;
  }

 private:
  Fd fd_;
  std::string path_;
};

TEST(ProcLocksTest, ShowsPosixOfdAndFlockLocksAsLinuxDoes) {
  TempFile a, b, c;
  ASSERT_GE(a.fd(), 0);
  ASSERT_GE(b.fd(), 0);
  ASSERT_GE(c.fd(), 0);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 10;
  ASSERT_EQ(fcntl(a.fd(), F_SETLK, &fl), 0);
  ASSERT_EQ(flock(b.fd(), LOCK_EX), 0);
  struct flock ofd {};
  ofd.l_type = F_RDLCK;
  ofd.l_whence = SEEK_SET;
  ofd.l_start = 5;
  ofd.l_len = 0;
  ASSERT_EQ(fcntl(c.fd(), F_OFD_SETLK, &ofd), 0);
  const std::string locks = ReadFile("/proc/locks");
  const std::string pid = std::to_string(getpid());
  EXPECT_THAT(locks, testing::ContainsRegex("(^|\n)[0-9]+: POSIX  ADVISORY  WRITE " + pid + " " + a.Id() + " 0 9\n"));
  EXPECT_THAT(locks, testing::ContainsRegex("(^|\n)[0-9]+: FLOCK  ADVISORY  WRITE " + pid + " " + b.Id() + " 0 EOF\n"));
  EXPECT_THAT(locks, testing::ContainsRegex("(^|\n)[0-9]+: OFDLCK ADVISORY  READ +-1 " + c.Id() + " 5 EOF\n"));
  // fdinfo shows the locks this fd's owner holds on the file.
  const std::string info = ReadFile("/proc/self/fdinfo/" + std::to_string(b.fd()));
  EXPECT_THAT(info, testing::ContainsRegex("\nlock:\t1: FLOCK  ADVISORY  WRITE " + pid + " " + b.Id() + " 0 EOF\n"));
  // Gone with the unlock.
  ASSERT_EQ(flock(b.fd(), LOCK_UN), 0);
  EXPECT_THAT(ReadFile("/proc/locks"), testing::Not(testing::HasSubstr(" " + b.Id() + " ")));
}

}  // namespace
}  // namespace syscall_test
