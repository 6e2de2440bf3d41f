// Path resolution (fs/namei.cc) and the namespace operations built on it
// (fs/vfs_write.cc), on an overlay root with hostile symlinks. The input is
// a script: each NUL-separated string is an op letter followed by a path
// (or "target|path" for symlink and rename). Properties: no crash, every
// failure an errno, every resolved location inside the root; the tree stays
// consistent (a path that resolves can be stat'ed).
#include <string>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/vfs_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::VfsEnv env(/*overlay=*/true);
  const fs::Caller c = env.Caller();
  for (std::string_view op : fuzz::SplitInput(data, size, 64)) {
    if (op.empty()) continue;
    const char kind = op[0];
    std::string_view path = op.substr(1);
    std::string_view second;
    if (const size_t bar = path.find('|'); bar != std::string_view::npos) {
      second = path.substr(bar + 1);
      path = path.substr(0, bar);
    }
    switch (kind) {
      case 'r':
      case 'n':
      case 'd': {
        const fs::ResolveOpts opts{.follow_final = kind != 'n', .require_dir = kind == 'd'};
        auto p = env.vfs->Resolve(c, *env.ctx, env.ctx->cwd(), path, opts);
        if (p.ok()) {
          env.CheckInside(p.value());
          FUZZ_CHECK(env.vfs->Stat(c, p.value()).ok());
        }
        break;
      }
      case 'p': {
        auto pn = env.vfs->ResolveParent(c, *env.ctx, env.ctx->cwd(), path);
        if (pn.ok()) {
          env.CheckInside(pn.value().parent);
          FUZZ_CHECK(pn.value().name.find('/') == std::string::npos);
        }
        break;
      }
      case 'o': env.OpenAndRead(path, 0); break;
      case 'O': env.OpenAndRead(path, O_NOFOLLOW | O_DIRECTORY); break;
      case 'm': (void)env.vfs->Mkdir(c, AT_FDCWD, path, 0755); break;
      case 's': (void)env.vfs->Symlink(c, second, AT_FDCWD, path); break;
      case 'u': (void)env.vfs->Unlink(c, AT_FDCWD, path); break;
      case 'x': (void)env.vfs->Rmdir(c, AT_FDCWD, path); break;
      case 'v': (void)env.vfs->Rename(c, AT_FDCWD, path, AT_FDCWD, second, 0); break;
      case 'w': {
        auto f = env.vfs->Open(c, *env.ctx, env.ctx->cwd(), path, O_WRONLY | O_CREAT, 0644);
        if (f.ok()) {
          const uint8_t b[4] = {'d', 'a', 't', 'a'};
          (void)f.value()->Write(b);
        }
        break;
      }
      default: break;
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  auto script = [](std::initializer_list<std::string> ops) {
    std::string s;
    for (const std::string& o : ops) s += o + '\0';
    return s;
  };
  return {
      script({"r/etc/passwd", "r/../../../etc/passwd", "r/abs/passwd", "r/out", "n/out", "r/absout/marker"}),
      script({"r/etc/deep/up/etc", "d/self/self/self/etc/", "r/loop1", "r/c0", "r/c1", "r//etc//./passwd/"}),
      script({"o/proc/self/root/etc/passwd", "o/procroot/etc", "O/proc/self/fd/3", "o/proc/self/fd/3/../..",
              "o/proc/self/cwd/../../etc/passwd", "o/proc/1/root", "o/proc/7/root/../../.."}),
      script({"m/tmp/a", "s/tmp/a/l|../../../..", "r/tmp/a/l/etc", "v/tmp/a|/tmp/b", "r/tmp/b/l/etc/passwd",
              "s/x|/proc/self/root/../..", "o/x/etc/passwd", "u/x", "x/tmp/b"}),
      script({"m/d", "s/d/l|/d/l", "r/d/l", "w/d/f", "v/d/f|/d/l", "pd/l/", "p/", "p..", "r" + std::string(300, 'a'),
              "r/" + std::string(5000, '/')}),
  };
}
