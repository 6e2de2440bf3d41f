// On 64-bit Linux open(2), openat(2), openat2(2) and memfd_create(2) set the
// kernel's O_LARGEFILE (0100000) in the file's status flags
// (force_o_largefile()), so F_GETFL and /proc/self/fdinfo show it; pipes
// and O_PATH descriptors do not have it. glibc's x86-64 O_LARGEFILE
// macro is 0, so this spells the kernel's value. Found by python's
// fcntl(F_GETFL) printing 0o102002 natively and 0o2002 in the sandbox.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

constexpr int kKernelOLargefile = 0100000;

std::string FdinfoFlags(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
  }
  return "";
}

TEST(OpenLargefile, OpenSetsItInStatusFlags) {
  const int fd = open("/proc/self/exe", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL), kKernelOLargefile | O_RDONLY);
  close(fd);
  char tmpl[] = "/tmp/largefile_XXXXXX";
  const int t = mkstemp(tmpl);
  ASSERT_GE(t, 0);
  const int a = openat(AT_FDCWD, tmpl, O_WRONLY | O_APPEND);
  ASSERT_GE(a, 0);
  EXPECT_EQ(fcntl(a, F_GETFL), kKernelOLargefile | O_WRONLY | O_APPEND);
  EXPECT_EQ(FdinfoFlags(a).substr(FdinfoFlags(a).size() - 6), "102001");
  // F_SETFL keeps it.
  ASSERT_EQ(fcntl(a, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(fcntl(a, F_GETFL), kKernelOLargefile | O_WRONLY | O_NONBLOCK);
  close(a);
  close(t);
  unlink(tmpl);
}

TEST(OpenLargefile, Openat2AndMemfdSetIt) {
  struct open_how how = {};
  how.flags = O_RDONLY;
  const int fd = static_cast<int>(syscall(SYS_openat2, AT_FDCWD, "/proc/self/exe", &how, sizeof(how)));
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL), kKernelOLargefile | O_RDONLY);
  close(fd);
  // openat2 accepts the kernel's O_LARGEFILE (VALID_OPEN_FLAGS).
  how.flags = O_RDONLY | kKernelOLargefile;
  const int fd2 = static_cast<int>(syscall(SYS_openat2, AT_FDCWD, "/proc/self/exe", &how, sizeof(how)));
  ASSERT_GE(fd2, 0);
  close(fd2);
  const int m = memfd_create("largefile", 0);
  ASSERT_GE(m, 0);
  EXPECT_EQ(fcntl(m, F_GETFL), kKernelOLargefile | O_RDWR);
  close(m);
}

TEST(OpenLargefile, PipesAndOPathDoNotHaveIt) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(fcntl(p[0], F_GETFL), O_RDONLY);
  EXPECT_EQ(fcntl(p[1], F_GETFL), O_WRONLY);
  close(p[0]);
  close(p[1]);
  const int o = open("/proc/self/exe", O_PATH);
  ASSERT_GE(o, 0);
  EXPECT_EQ(fcntl(o, F_GETFL), O_PATH);
  close(o);
}

}  // namespace
