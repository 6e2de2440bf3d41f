#include "util.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

namespace syscall_test {
namespace {
std::string& Argv0Storage() {
  static std::string argv0;
  return argv0;
}
}  // namespace

bool IsSandboxed() {
  const char* v = getenv("RUNSC_SANDBOXED");
  return v != nullptr && strcmp(v, "1") == 0;
}

const std::string& Argv0() { return Argv0Storage(); }
void SetArgv0(const char* argv0) { Argv0Storage() = argv0; }

void* UnmappedAddress() {
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  munmap(p, page);
  return p;
}

TempDir::TempDir(const char* base) {
  std::string tmpl = std::string(base) + "/syscall_test.XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  const std::string cmd = "rm -rf '" + path_ + "'";
  if (system(cmd.c_str()) != 0) {
  }
}

std::string BinSymlinkTarget() {
  struct stat st;
  if (lstat("/bin", &st) != 0 || !S_ISLNK(st.st_mode)) return "";
  char buf[256];
  ssize_t n = readlink("/bin", buf, sizeof(buf));
  if (n <= 0) return "";
  return std::string(buf, n);
}

Pipe MakePipe(int flags) {
  int fds[2];
  if (pipe2(fds, flags) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return Pipe{Fd(), Fd()};
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

}  // namespace syscall_test
