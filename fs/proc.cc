// A minimal procfs, built from the synthetic-fs helpers. Per-process
// directories describe the caller (the only process whose state we can reach
// without a task registry). TODO(#4): other pids, status, maps, cmdline,
// mounts.
#include <dirent.h>

#include <charconv>

#include "absl/container/flat_hash_map.h"
#include "fs/filesystems.h"
#include "fs/synthetic.h"
#include "fs/vfs.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

std::optional<int64_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

class Procfs : public std::enable_shared_from_this<Procfs> {
 public:
  Procfs() : dev_(NextSyntheticDev()) {}

  std::shared_ptr<Inode> BuildRoot() {
    auto root = SyntheticDir::New(dev_);
    root->AddChild("self", SyntheticSymlink::New(dev_, [](const Caller& c) -> Result<std::string> {
                     if (c.thread_group == nullptr) return Errno::kENOENT;
                     return std::to_string(c.thread_group->pid);
                   }));
    std::shared_ptr<Procfs> self = shared_from_this();
    root->SetGenerated(
        [self](const Caller& c, std::string_view name) -> Result<std::shared_ptr<Inode>> {
          const std::optional<int64_t> pid = ParseNumber(name);
          if (!pid.has_value() || c.thread_group == nullptr || *pid != c.thread_group->pid) {
            return Errno::kENOENT;
          }
          return std::shared_ptr<Inode>(self->PidDir(static_cast<int32_t>(*pid)));
        },
        [self](const Caller& c) {
          std::vector<DirEntry> out;
          if (c.thread_group != nullptr) {
            const int32_t pid = c.thread_group->pid;
            out.push_back({std::to_string(pid), self->PidDir(pid)->ino(), DT_DIR});
          }
          return out;
        });
    return root;
  }

 private:
  // The caller's state, if the caller is process `pid`.
  static Result<void> IsCaller(const Caller& c, int32_t pid) {
    if (c.thread_group == nullptr || c.thread_group->pid != pid) return Errno::kENOENT;
    return {};
  }

  // One inode per live pid directory, so st_ino is stable while in use.
  std::shared_ptr<SyntheticDir> PidDir(int32_t pid) {
    absl::MutexLock l(&mu_);
    if (auto d = pid_dirs_[pid].lock()) return d;
    auto d = SyntheticDir::New(dev_);
    d->AddChild("exe", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  TRY(IsCaller(c, pid));
                  if (c.thread_group->exe_path.empty()) return Errno::kENOENT;
                  return c.thread_group->exe_path;
                }));
    d->AddChild("cwd", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  TRY(IsCaller(c, pid));
                  if (c.fs == nullptr) return Errno::kENOENT;
                  return Vfs::PathString(c.fs->root(), c.fs->cwd());
                }));
    d->AddChild("root", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  TRY(IsCaller(c, pid));
                  return std::string("/");
                }));
    d->AddChild("fd", FdDir(pid));
    pid_dirs_[pid] = d;
    return d;
  }

  // /proc/<pid>/fd: one symlink per open fd, to the file's path.
  std::shared_ptr<SyntheticDir> FdDir(int32_t pid) {
    auto dir = SyntheticDir::New(dev_, 0500);
    const uint64_t dev = dev_;
    dir->SetGenerated(
        [pid, dev](const Caller& c, std::string_view name) -> Result<std::shared_ptr<Inode>> {
          TRY(IsCaller(c, pid));
          const std::optional<int64_t> fd = ParseNumber(name);
          if (!fd.has_value() || c.fds == nullptr || *fd > INT32_MAX) return Errno::kENOENT;
          Result<std::shared_ptr<FileDescription>> f = c.fds->Get(static_cast<int>(*fd));
          if (!f.ok()) return Errno::kENOENT;
          std::string target = f.value()->Path();
          return std::shared_ptr<Inode>(SyntheticSymlink::New(
              dev, [target = std::move(target)](const Caller&) -> Result<std::string> { return target; }));
        },
        [pid](const Caller& c) {
          std::vector<DirEntry> out;
          if (!IsCaller(c, pid).ok() || c.fds == nullptr) return out;
          for (int fd : c.fds->Fds()) out.push_back({std::to_string(fd), NextSyntheticIno(), DT_LNK});
          return out;
        });
    return dir;
  }

  const uint64_t dev_;
  absl::Mutex mu_;
  absl::flat_hash_map<int32_t, std::weak_ptr<SyntheticDir>> pid_dirs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::shared_ptr<Inode> NewProcfs() {
  auto fs = std::make_shared<Procfs>();
  // The root's generators hold `fs`; fs holds no inode strongly.
  return fs->BuildRoot();
}

}  // namespace fs
