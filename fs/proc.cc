// A minimal procfs, built from the synthetic-fs helpers. /proc/<pid> exists
// for every live or zombie process of the sandbox (through the Kernel's task
// registry, Caller::kernel); without a registry (unit tests) only the
// caller's own. TODO(#4): maps of other processes, mounts.
#include <dirent.h>

#include <charconv>

#include "absl/container/flat_hash_map.h"
#include "fs/filesystems.h"
#include "fs/synthetic.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include <fmt/format.h>

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
          if (!pid.has_value() || *pid > INT32_MAX || !InfoOf(c, static_cast<int32_t>(*pid)).ok()) {
            return Errno::kENOENT;
          }
          return std::shared_ptr<Inode>(self->PidDir(static_cast<int32_t>(*pid)));
        },
        [self](const Caller& c) {
          std::vector<DirEntry> out;
          std::vector<int32_t> pids;
          if (c.kernel != nullptr) {
            pids = c.kernel->Pids();
          } else if (c.thread_group != nullptr) {
            pids.push_back(c.thread_group->pid);
          }
          for (int32_t pid : pids) out.push_back({std::to_string(pid), self->PidDir(pid)->ino(), DT_DIR});
          return out;
        });
    return root;
  }

 private:
  static bool IsSelf(const Caller& c, int32_t pid) { return c.thread_group != nullptr && c.thread_group->pid == pid; }

  // What /proc shows of process `pid`; ENOENT once it is gone.
  static Result<sentry::kernel::ProcessInfo> InfoOf(const Caller& c, int32_t pid) {
    if (c.kernel != nullptr) {
      std::optional<sentry::kernel::ProcessInfo> info = c.kernel->GetProcessInfo(pid);
      if (!info.has_value()) return Errno::kENOENT;
      return *std::move(info);
    }
    if (!IsSelf(c, pid)) return Errno::kENOENT;
    sentry::kernel::ProcessInfo info;
    const auto& tg = *c.thread_group;
    info.pid = tg.pid, info.ppid = tg.ppid, info.pgid = tg.pgid, info.sid = tg.sid;
    info.exe_path = tg.exe_path;
    info.threads = 1;
    info.ruid = c.creds->ruid, info.euid = c.creds->euid, info.suid = c.creds->suid, info.fsuid = c.creds->fsuid;
    info.rgid = c.creds->rgid, info.egid = c.creds->egid, info.sgid = c.creds->sgid, info.fsgid = c.creds->fsgid;
    info.creds = *c.creds;
    return info;
  }

  // A process's fd table (the caller's own, or through the registry).
  struct Fds {
    std::shared_ptr<sentry::kernel::FdTable> hold;
    sentry::kernel::FdTable* table = nullptr;
  };
  static Result<Fds> FdsOf(const Caller& c, int32_t pid) {
    Fds f;
    if (IsSelf(c, pid)) {
      f.table = c.fds;
    } else if (c.kernel != nullptr) {
      f.hold = c.kernel->ProcessFds(pid);
      f.table = f.hold.get();
    }
    if (f.table == nullptr) return Errno::kENOENT;
    return f;
  }

  // /proc/<pid>/stat (fs/proc/array.c do_task_stat): 52 fields.
  static std::string StatLine(const sentry::kernel::ProcessInfo& i) {
    std::string s = fmt::format("{} ({}) {} {} {} {} 0 -1 4194304", i.pid, i.comm, i.state, i.ppid, i.pgid, i.sid);
    // minflt..cstime (10), priority 20, nice 0, threads, itrealvalue 0,
    // starttime, vsize, rss, rsslim, then 30 more zeros with exit_signal 17.
    s += " 0 0 0 0 0 0 0 0 20 0";
    s += fmt::format(" {} 0 0 0 0 18446744073709551615", i.threads);
    for (int f = 26; f <= 52; ++f) s += f == 38 ? " 17" : " 0";
    s += '\n';
    return s;
  }

  static std::string StatusText(const sentry::kernel::ProcessInfo& i) {
    const char* state = i.state == 'Z' ? "Z (zombie)" : i.state == 'R' ? "R (running)" : "S (sleeping)";
    std::string groups;  // fs/proc/array.c task_state(): "%u " each
    for (uint32_t g : i.creds.groups) groups += fmt::format("{} ", g);
    const auto& cr = i.creds;
    return fmt::format(
        "Name:\t{}\nUmask:\t0022\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\n"
        "Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\nNStgid:\t{}\nNSpid:\t{}\n"
        "NSpgid:\t{}\nNSsid:\t{}\nThreads:\t{}\nSigQ:\t0/63704\n"
        "CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n"
        "NoNewPrivs:\t{}\n",
        i.comm, state, i.pid, i.pid, i.ppid, i.ruid, i.euid, i.suid, i.fsuid, i.rgid, i.egid, i.sgid, i.fsgid, groups,
        i.pid, i.pid, i.pgid, i.sid, i.threads, cr.cap_inheritable, cr.cap_permitted, cr.cap_effective,
        cr.cap_bounding, cr.cap_ambient, i.no_new_privs ? 1 : 0);
  }

  // One inode per live pid directory, so st_ino is stable while in use.
  std::shared_ptr<SyntheticDir> PidDir(int32_t pid) {
    absl::MutexLock l(&mu_);
    if (auto d = pid_dirs_[pid].lock()) return d;
    auto d = SyntheticDir::New(dev_);
    d->AddChild("exe", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  const auto info = TRY(InfoOf(c, pid));
                  if (info.exe_path.empty()) return Errno::kENOENT;
                  return info.exe_path;
                }, true));
    d->AddChild("cwd", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  if (IsSelf(c, pid) && c.fs != nullptr) return Vfs::PathString(c.fs->root(), c.fs->cwd());
                  std::shared_ptr<FsContext> fs = c.kernel != nullptr ? c.kernel->ProcessFs(pid) : nullptr;
                  if (fs == nullptr) return Errno::kENOENT;
                  return Vfs::PathString(fs->root(), fs->cwd());
                }, true));
    // The process's root (chroot) as the caller sees it.
    d->AddChild("root", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  TRY(InfoOf(c, pid));
                  std::shared_ptr<FsContext> fs = c.kernel != nullptr ? c.kernel->ProcessFs(pid) : nullptr;
                  FsContext* ctx = IsSelf(c, pid) && c.fs != nullptr ? c.fs : fs.get();
                  if (ctx == nullptr || c.fs == nullptr) return std::string("/");
                  return Vfs::PathString(c.fs->root(), ctx->root());
                }, true));
    d->AddChild("stat", SyntheticFile::New(dev_, 0444, [pid](const Caller& c) -> Result<std::string> {
                  return StatLine(TRY(InfoOf(c, pid)));
                }));
    d->AddChild("status", SyntheticFile::New(dev_, 0444, [pid](const Caller& c) -> Result<std::string> {
                  return StatusText(TRY(InfoOf(c, pid)));
                }));
    d->AddChild("comm", SyntheticFile::New(dev_, 0644, [pid](const Caller& c) -> Result<std::string> {
                  return TRY(InfoOf(c, pid)).comm + "\n";
                }));
    // TODO(#5): read from the process's memory (setproctitle shows there).
    d->AddChild("cmdline", SyntheticFile::New(dev_, 0444, [pid](const Caller& c) -> Result<std::string> {
                  return TRY(InfoOf(c, pid)).cmdline;
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
          const Fds fds = TRY(FdsOf(c, pid));
          const std::optional<int64_t> fd = ParseNumber(name);
          if (!fd.has_value() || *fd > INT32_MAX) return Errno::kENOENT;
          Result<std::shared_ptr<FileDescription>> f = fds.table->Get(static_cast<int>(*fd));
          if (!f.ok()) return Errno::kENOENT;
          std::string target = f.value()->Path();
          return std::shared_ptr<Inode>(SyntheticSymlink::New(
              dev, [target = std::move(target)](const Caller&) -> Result<std::string> { return target; }, true));
        },
        [pid](const Caller& c) {
          std::vector<DirEntry> out;
          Result<Fds> fds = FdsOf(c, pid);
          if (!fds.ok()) return out;
          for (int fd : fds.value().table->Fds()) out.push_back({std::to_string(fd), NextSyntheticIno(), DT_LNK});
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
