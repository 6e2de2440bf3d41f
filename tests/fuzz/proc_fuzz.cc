// procfs (fs/proc.cc): /proc/<pid> names (the pid parser), the per-process
// directories and files, magic links (root, cwd, exe, fd/N) and listing.
// The input is NUL-separated names looked up under /proc, /proc/self and
// /proc/self/fd, each opened and read. Properties: no crash, every failure an
// errno; only the caller's own pid (7) exists; magic links land inside the
// root.
#include <cstring>
#include <string>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/vfs_env.h"

namespace {
fuzz::VfsEnv& Env() {
  static fuzz::VfsEnv env(/*overlay=*/false);
  return env;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::VfsEnv& env = Env();
  const fs::Caller c = env.Caller();
  for (std::string_view name : fuzz::SplitInput(data, size, 32)) {
    for (const char* base : {"/proc/", "/proc/self/", "/proc/7/", "/proc/self/fd/", "/proc/self/task/7/"}) {
      const std::string path = base + std::string(name);
      auto p = env.vfs->Resolve(c, *env.ctx, env.ctx->cwd(), path);
      if (p.ok()) env.CheckInside(p.value());
      auto n = env.vfs->Resolve(c, *env.ctx, env.ctx->cwd(), path, fs::ResolveOpts{.follow_final = false});
      if (n.ok()) {
        env.CheckInside(n.value());
        (void)n.value().dentry->inode()->Readlink(c);
      }
      env.OpenAndRead(path, 0);
    }
    // Only pid 7 exists: a number that is not 7 never resolves at /proc/N.
    std::string digits(name);
    if (!digits.empty() && digits.size() < 12 && digits.find_first_not_of("0123456789") == std::string::npos &&
        digits != "7") {
      FUZZ_CHECK(!env.vfs->Resolve(c, *env.ctx, env.ctx->cwd(), "/proc/" + digits).ok());
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  auto names = [](std::initializer_list<std::string> ns) {
    std::string s;
    for (const std::string& n : ns) s += n + '\0';
    return s;
  };
  return {
      names({"7", "07", "1", "0", "-7", "+7", "4294967303", "2147483647", "99999999999", "self", "thread-self"}),
      names({"status", "stat", "maps", "cmdline", "environ", "mounts", "exe", "cwd", "root", "fd", "fdinfo", "task"}),
      names({"0", "1", "2", "3", "4", "3/..", "3/../..", "4/..", "9999", "-1", "00"}),
      names({"root/../../..", "cwd/..", "exe/..", "self/root/proc/self/root", "meminfo", "cpuinfo", "uptime",
             "loadavg", "sys/kernel/random/uuid", "net/dev", "mountinfo"}),
  };
}
