// File system paths: open/close and stat (path walk + file object), and
// read/write of 4 KiB and 1 MiB blocks on /tmp and on a rootfs file.
//
// Rootfs files are served through the gofer in our sandbox, /tmp may be a
// sentry tmpfs: the two are measured separately on purpose.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "perf/bench_util.h"

namespace {

// A file that exists on every Debian root and is readable by everyone.
constexpr char kRootfsFile[] = "/etc/passwd";

// Directory of the rootfs write target; PERF_ROOTFS_DIR overrides it.
std::string RootfsDir() {
  const char* d = getenv("PERF_ROOTFS_DIR");
  return d != nullptr && *d != '\0' ? d : "/var/tmp";
}

// A temporary file in dir, unlinked when this goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& dir) {
    path_ = dir + "/perf-bench-XXXXXX";
    fd_ = perf::Fd(mkstemp(path_.data()));
    if (!fd_.ok()) {
      err_ = errno;
      path_.clear();
    }
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  bool ok() const { return fd_.ok(); }
  int err() const { return err_; }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  perf::Fd fd_;
  int err_ = 0;
};

void SkipTempFile(benchmark::State& state, const std::string& dir, int err) {
  const bool read_only = err == EROFS || err == EACCES || err == EPERM;
  perf::SkipErrno(state, (read_only ? "write target is read-only, skipped: mkstemp in " : "mkstemp in ") + dir, err);
}

void OpenClose(benchmark::State& state, const char* path) {
  {
    perf::Fd probe(open(path, O_RDONLY | O_CLOEXEC));
    if (!probe.ok()) return perf::SkipErrno(state, std::string("open ") + path);
  }
  for (auto _ : state) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    close(fd);
  }
  state.SetItemsProcessed(state.iterations());
}

// open+close of a rootfs file: path walk through the gofer-backed root.
void BM_OpenClose(benchmark::State& state) { OpenClose(state, kRootfsFile); }
BENCHMARK(BM_OpenClose)->UseRealTime();

// open+close of a file on /tmp.
void BM_OpenCloseTmp(benchmark::State& state) {
  TempFile f("/tmp");
  if (!f.ok()) return SkipTempFile(state, "/tmp", f.err());
  OpenClose(state, f.path().c_str());
}
BENCHMARK(BM_OpenCloseTmp)->UseRealTime();

void Stat(benchmark::State& state, const char* path) {
  struct stat st {};
  if (stat(path, &st) != 0) return perf::SkipErrno(state, std::string("stat ") + path);
  for (auto _ : state) {
    stat(path, &st);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}

// stat of a rootfs file.
void BM_Stat(benchmark::State& state) { Stat(state, kRootfsFile); }
BENCHMARK(BM_Stat)->UseRealTime();

// stat of a rootfs file four components deep (longer path walk).
void BM_StatDeep(benchmark::State& state) { Stat(state, "/usr/share/common-licenses/GPL-3"); }
BENCHMARK(BM_StatDeep)->UseRealTime();

void BM_StatTmp(benchmark::State& state) {
  TempFile f("/tmp");
  if (!f.ok()) return SkipTempFile(state, "/tmp", f.err());
  Stat(state, f.path().c_str());
}
BENCHMARK(BM_StatTmp)->UseRealTime();

// pread of range(0) bytes at offset 0 of fd, again and again (page cache).
void PreadLoop(benchmark::State& state, int fd) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<char> buf(n);
  const ssize_t got = pread(fd, buf.data(), n, 0);
  if (got < 0) return perf::SkipErrno(state, "pread");
  if (static_cast<size_t>(got) != n) {
    return state.SkipWithError(("file shorter than block: got " + std::to_string(got)).c_str());
  }
  for (auto _ : state) {
    const ssize_t r = pread(fd, buf.data(), n, 0);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

void PwriteLoop(benchmark::State& state, int fd) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<char> buf(n, 'x');
  if (pwrite(fd, buf.data(), n, 0) != static_cast<ssize_t>(n)) return perf::SkipErrno(state, "pwrite");
  for (auto _ : state) {
    const ssize_t r = pwrite(fd, buf.data(), n, 0);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

void BM_ReadTmp(benchmark::State& state) {
  TempFile f("/tmp");
  if (!f.ok()) return SkipTempFile(state, "/tmp", f.err());
  std::vector<char> data(static_cast<size_t>(state.range(0)), 'r');
  if (!perf::WriteFull(f.fd(), data.data(), data.size())) return perf::SkipErrno(state, "fill /tmp file");
  PreadLoop(state, f.fd());
}
BENCHMARK(BM_ReadTmp)->Arg(4096)->Arg(1 << 20)->UseRealTime();

// Reads a large rootfs file that needs no write access: $PERF_ROOTFS_FILE if
// set, else the first candidate at least one block long. The programs are
// dynamic (about 0.5 MiB), so for 1 MiB blocks that is usually libc. The
// label names the file, so native and sandboxed runs can be checked to read
// the same one.
void BM_ReadRootfs(benchmark::State& state) {
  const auto n = static_cast<off_t>(state.range(0));
  std::vector<std::string> candidates;
  if (const char* f = getenv("PERF_ROOTFS_FILE"); f != nullptr && *f != '\0') candidates.emplace_back(f);
  candidates.insert(candidates.end(), {perf::g_argv0, "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                       "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/bash"});
  std::string tried;
  for (const std::string& path : candidates) {
    perf::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd.ok() || fstat(fd.get(), &st) != 0) {
      tried += " " + perf::ErrnoText(path);
      continue;
    }
    if (st.st_size < n) {
      tried += " " + path + " (" + std::to_string(st.st_size) + " bytes)";
      continue;
    }
    state.SetLabel(path);
    return PreadLoop(state, fd.get());
  }
  state.SkipWithError(("no rootfs file of " + std::to_string(n) + " bytes:" + tried).c_str());
}
BENCHMARK(BM_ReadRootfs)->Arg(4096)->Arg(1 << 20)->UseRealTime();

void BM_WriteTmp(benchmark::State& state) {
  TempFile f("/tmp");
  if (!f.ok()) return SkipTempFile(state, "/tmp", f.err());
  PwriteLoop(state, f.fd());
}
BENCHMARK(BM_WriteTmp)->Arg(4096)->Arg(1 << 20)->UseRealTime();

// Writes a file in $PERF_ROOTFS_DIR (default /var/tmp), on the root
// filesystem. Skipped with a note when the root is read-only.
void BM_WriteRootfs(benchmark::State& state) {
  const std::string dir = RootfsDir();
  TempFile f(dir);
  if (!f.ok()) return SkipTempFile(state, dir, f.err());
  PwriteLoop(state, f.fd());
}
BENCHMARK(BM_WriteRootfs)->Arg(4096)->Arg(1 << 20)->UseRealTime();

}  // namespace

PERF_BENCHMARK_MAIN();
