// A fresh Vfs over an in-memory gofer tree (tests/unit/fs/fake_gofer.h) for
// the path and /proc fuzz targets, with hostile names planted by an image
// author: absolute and relative symlinks pointing out, loops, long chains.
#ifndef TESTS_FUZZ_VFS_ENV_H_
#define TESTS_FUZZ_VFS_ENV_H_

#include <fcntl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fs/vfs.h"
#include "sentry/kernel/task.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/fs/fake_gofer.h"

namespace fuzz {

struct VfsEnv {
  std::shared_ptr<fs::Vfs> vfs;
  std::shared_ptr<fs::FsContext> ctx;
  sentry::kernel::Credentials creds;
  sentry::kernel::ThreadGroup tg;
  sentry::kernel::FdTable fds;

  explicit VfsEnv(bool overlay) {
    auto g = std::make_unique<fs::testing::FakeGofer>();
    const gofer::Handle bin = g->Add(1, "bin", S_IFDIR | 0755);
    g->Add(bin, "sh", S_IFREG | 0755, "\x7f" "ELF");
    const gofer::Handle etc = g->Add(1, "etc", S_IFDIR | 0755);
    g->Add(etc, "passwd", S_IFREG | 0644, "root:x:0:0\n");
    const gofer::Handle deep = g->Add(etc, "deep", S_IFDIR | 0700);
    g->Add(deep, "up", S_IFLNK | 0777, "../../..");
    g->Add(1, "abs", S_IFLNK | 0777, "/etc");
    g->Add(1, "out", S_IFLNK | 0777, "../../../../outside/marker");
    g->Add(1, "absout", S_IFLNK | 0777, "/../../outside");
    g->Add(1, "loop1", S_IFLNK | 0777, "loop2");
    g->Add(1, "loop2", S_IFLNK | 0777, "loop1");
    g->Add(1, "self", S_IFLNK | 0777, ".");
    g->Add(1, "procroot", S_IFLNK | 0777, "/proc/self/root/..");
    for (int i = 0; i < 42; ++i) {
      g->Add(1, "c" + std::to_string(i), S_IFLNK | 0777, i == 41 ? "etc" : "c" + std::to_string(i + 1));
    }
    auto v = fs::Vfs::Create(std::move(g), fs::VfsOptions{.overlay_root = overlay, .tmpfs_tmp = true});
    FUZZ_CHECK(v.ok());
    vfs = std::move(v).value();
    auto c = vfs->NewFsContext("/");
    FUZZ_CHECK(c.ok());
    ctx = std::move(c).value();
    tg.pid = 7;
    tg.exe_path = "/bin/sh";
    // /proc/self/fd has something to show: a directory and a file.
    if (auto d = vfs->Open(Caller(), *ctx, ctx->cwd(), "/etc", O_RDONLY | O_DIRECTORY, 0); d.ok()) {
      (void)fds.Install(d.value(), false);
    }
    if (auto f = vfs->Open(Caller(), *ctx, ctx->cwd(), "/etc/passwd", O_RDONLY, 0); f.ok()) {
      (void)fds.Install(f.value(), false);
    }
  }

  fs::Caller Caller() { return fs::Caller{&creds, &tg, &fds, ctx.get(), 7}; }

  // Nothing resolved may lie outside the root, and no name may reach the
  // host: every path the Vfs hands back is reachable from "/".
  void CheckInside(const fs::Path& p) {
    const std::string s = fs::Vfs::PathString(vfs->root(), p);
    FUZZ_CHECK(!s.empty() && s[0] == '/');  // not "(unreachable)..."
  }

  // Opens read-only and reads a little (regular files, /proc files,
  // directories through getdents).
  void OpenAndRead(std::string_view path, int extra_flags) {
    auto f = vfs->Open(Caller(), *ctx, ctx->cwd(), path, O_RDONLY | extra_flags, 0);
    if (!f.ok()) return;
    uint8_t buf[512];
    (void)f.value()->Read(buf);
    (void)f.value()->Getdents64(buf);
    (void)f.value()->Stat();
    if (const fs::Path* at = f.value()->location(); at != nullptr) CheckInside(*at);
  }
};

// Splits fuzz input into NUL-separated strings (at most `max`).
inline std::vector<std::string_view> SplitInput(const uint8_t* data, size_t size, size_t max) {
  std::vector<std::string_view> out;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  while (!all.empty() && out.size() < max) {
    const size_t nul = all.find('\0');
    out.push_back(all.substr(0, nul));
    if (nul == std::string_view::npos) break;
    all.remove_prefix(nul + 1);
  }
  return out;
}

}  // namespace fuzz

#endif  // TESTS_FUZZ_VFS_ENV_H_
