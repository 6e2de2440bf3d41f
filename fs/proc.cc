// procfs, built from the synthetic-fs helpers. /proc/<pid> exists for every
// live or zombie process of the sandbox (through the Kernel's task registry,
// Caller::kernel); without a registry (unit tests) only the caller's own.
// Formats follow fs/proc/array.c, base.c, task_mmu.c. System-wide files are
// in proc_sys.cc, mounts in proc_mounts.cc.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <charconv>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "fs/filesystems.h"
#include "fs/host_file.h"
#include "fs/pipe.h"
#include "fs/proc_internal.h"
#include "fs/synthetic.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/rusage.h"
#include "sentry/kernel/task.h"
#include <fmt/format.h>

namespace fs {
namespace proc {

std::optional<int64_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace proc

namespace {

using proc::NsToTicks;
using proc::ParseNumber;
using sentry::kernel::ProcessInfo;

// Memory figures of a process, in bytes, from its VMAs; resident = pages
// of the memory file behind them that hold data (VmaInfo::rss).
struct MemStats {
  uint64_t size = 0, rss = 0, rss_anon = 0, rss_shared = 0, data = 0, stack = 0, exe = 0, lib = 0, shared = 0;
};

MemStats MemOf(const ProcessInfo& i) {
  MemStats m;
  if (i.mm == nullptr) return m;
  for (const sentry::mm::VmaInfo& v : i.mm->Vmas()) {
    const uint64_t len = v.end - v.start;
    m.size += len;
    if (v.name == "[stack]") m.stack += len;
    if (v.prot & PROT_EXEC) {
      if (v.name == i.exe_path) {
        m.exe += len;
      } else {
        m.lib += len;
      }
    }
    if ((v.prot & PROT_WRITE) && !v.shared && v.name != "[stack]") m.data += len;
    if (v.shared) m.shared += len;
    m.rss += v.rss;
    if (v.shared) {
      m.rss_shared += v.rss;
    } else if (v.name.empty() || v.name[0] == '[') {
      m.rss_anon += v.rss;
    }
  }
  return m;
}

// /proc/<pid>/oom_score (proc_oom_score, oom_badness in mm/oom_kill.c):
// the badness is the process's resident pages (no swap; page tables are
// the host's) plus oom_score_adj thousandths of all pages, scaled into
// 0..2000 and then by 2/3 as Linux shows it; a process without memory
// (a zombie) or at OOM_SCORE_ADJ_MIN scores 0. "All pages" is the
// sandbox's memory (MemTotal), as the OOM killer of a machine that size
// would see it.
uint64_t OomScore(bool has_mm, uint64_t rss_bytes, int adj, uint64_t total_bytes) {
  const int64_t total = std::max<int64_t>(1, static_cast<int64_t>(total_bytes / 4096));
  if (!has_mm || adj <= -1000) return 0;
  const int64_t badness = static_cast<int64_t>(rss_bytes / 4096) + adj * (total / 1000);
  const int64_t points = (1000 + badness * 1000 / total) * 2 / 3;
  return static_cast<uint64_t>(std::max<int64_t>(0, points));
}

std::string Sigset(uint64_t s) { return fmt::format("{:016x}", s); }

// A per-process knob that programs write (oom_score_adj, loginuid): reads
// give the generated text; a write of an integer in [min, max] is accepted
// and has no effect (no OOM killer, no audit); O_TRUNC is ignored as Linux
// ignores it for /proc files.
class KnobFile final : public StringFile {
 public:
  KnobFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::string data, int64_t min, int64_t max)
      : StringFile(std::move(at), std::move(inode), flags, std::move(data)), min_(min), max_(max) {}
  Result<size_t> Write(std::span<const uint8_t> buf) override { return PWrite(buf, 0); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t) override {
    std::string_view s(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(buf.size(), 32));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < min_ || v > max_) return Errno::kEINVAL;
    return buf.size();
  }

 private:
  const int64_t min_, max_;
};

// /proc/<pid>/oom_score_adj and the legacy oom_adj (fs/proc/base.c): the
// process's ThreadGroup::oom_score_adj, generated at each read. Nothing in
// the sandbox kills by it (the host's OOM killer sees the sandbox's own
// value, runsc sets it), but programs set, read and inherit it, and
// Linux's rules hold: lowering it below oom_score_adj_min needs
// CAP_SYS_RESOURCE (EACCES), and a write with it moves the min.
class OomAdjFile final : public SeekableFile {
 public:
  OomAdjFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::shared_ptr<sentry::kernel::ThreadGroup> tg,
             bool legacy, bool opener_has_cap)
      : SeekableFile(std::move(at), std::move(inode), flags), tg_(std::move(tg)), legacy_(legacy),
        opener_has_cap_(opener_has_cap) {}

  std::string Text() const {
    const int adj = tg_->oom_score_adj.load();
    if (!legacy_) return fmt::format("{}\n", adj);
    // oom_adj_read(): OOM_SCORE_ADJ_MAX shows as OOM_ADJUST_MAX.
    return fmt::format("{}\n", adj == 1000 ? 15 : adj * 17 / 1000);
  }
  // No SEEK_END (SeekableFile's default), as Linux's size-0 proc files.
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override { return ReadText(Text(), buf, off); }
  Result<size_t> Write(std::span<const uint8_t> buf) override { return PWrite(buf, 0); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t) override {
    // oom_score_adj_write(): at most PROC_NUMBUF - 1 bytes, stripped.
    std::string_view s(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(buf.size(), 12));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return Errno::kEINVAL;
    if (legacy_) {
      if (v < -17 || v > 15) return Errno::kEINVAL;
      v = v == 15 ? 1000 : v * 1000 / 17;  // oom_adj_write(): scaled to oom_score_adj
    } else if (v < -1000 || v > 1000) {
      return Errno::kEINVAL;
    }
    // capable(CAP_SYS_RESOURCE) of the writer (the task doing the write).
    sentry::kernel::Task* cur = sentry::kernel::Task::Current();
    const bool cap = cur != nullptr ? cur->creds().HasCap(CAP_SYS_RESOURCE) : opener_has_cap_;
    // __set_oom_adj(): legacy writes compare with the current value, new
    // ones with the min.
    const int floor = legacy_ ? tg_->oom_score_adj.load() : tg_->oom_score_adj_min.load();
    if (v < floor && !cap) return Errno::kEACCES;
    tg_->oom_score_adj = static_cast<int>(v);
    if (!legacy_ && cap) tg_->oom_score_adj_min = static_cast<int>(v);
    return buf.size();
  }

 private:
  const std::shared_ptr<sentry::kernel::ThreadGroup> tg_;
  const bool legacy_, opener_has_cap_;
};

class OomAdjInode final : public SyntheticInode {
 public:
  OomAdjInode(uint64_t dev, int32_t pid, bool legacy) : SyntheticInode(dev, S_IFREG | 0644), pid_(pid), legacy_(legacy) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    std::shared_ptr<sentry::kernel::ThreadGroup> tg;
    if (c.kernel != nullptr) {
      tg = c.kernel->FindProcess(pid_);
    } else if (c.thread_group != nullptr && c.thread_group->pid == pid_) {
      tg = std::shared_ptr<sentry::kernel::ThreadGroup>(std::shared_ptr<void>(), c.thread_group);  // not owned
    }
    if (tg == nullptr) return Errno::kESRCH;
    return std::shared_ptr<FileDescription>(std::make_shared<OomAdjFile>(
        at, shared_from_this(), flags, std::move(tg), legacy_, c.creds->HasCap(CAP_SYS_RESOURCE)));
  }
  // Owned by the process's euid/egid (proc_pid_make_inode), so a process
  // may write its own value without privileges.
  Result<struct stat> Stat(const Caller& c) override {
    struct stat st = TRY(SyntheticInode::Stat(c));
    if (c.kernel != nullptr) {
      if (auto info = c.kernel->GetProcessInfo(pid_)) st.st_uid = info->euid, st.st_gid = info->egid;
    } else if (c.thread_group != nullptr && c.thread_group->pid == pid_ && c.creds != nullptr) {
      st.st_uid = c.creds->euid, st.st_gid = c.creds->egid;
    }
    return st;
  }
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override {
    if (req.size.has_value() && !req.mode && !req.uid && !req.gid && !req.atime && !req.mtime) return {};  // O_TRUNC
    return SyntheticInode::SetAttr(c, req);
  }

 private:
  const int32_t pid_;
  const bool legacy_;
};

// /proc/<pid>/comm and task/<tid>/comm (fs/proc/base.c comm_write): a
// write renames that thread, only from within its thread group (EINVAL
// otherwise); at most TASK_COMM_LEN - 1 bytes, up to a NUL, kept as
// written (a newline too).
class CommFile final : public StringFile {
 public:
  CommFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::string data, int32_t tid)
      : StringFile(std::move(at), std::move(inode), flags, std::move(data)), tid_(tid) {}
  Result<size_t> Write(std::span<const uint8_t> buf) override { return PWrite(buf, 0); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t) override {
    sentry::kernel::Task* cur = sentry::kernel::Task::Current();
    if (cur == nullptr) return Errno::kEINVAL;
    std::string_view s(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(buf.size(), 15));
    s = s.substr(0, s.find('\0'));
    sentry::kernel::ThreadGroup* const own = &cur->thread_group();
    bool done = false;
    cur->kernel().WithTask(tid_, [&](sentry::kernel::Task& t) {
      if (&t.thread_group() != own) return;
      t.SetComm(s);
      done = true;
    });
    if (!done) return Errno::kEINVAL;
    return buf.size();
  }

 private:
  const int32_t tid_;
};

class CommInode final : public SyntheticInode {
 public:
  CommInode(uint64_t dev, SyntheticFile::ContentFn fn, int32_t tid)
      : SyntheticInode(dev, S_IFREG | 0644), fn_(std::move(fn)), tid_(tid) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    std::string data = TRY(fn_(c));
    return std::shared_ptr<FileDescription>(std::make_shared<CommFile>(at, shared_from_this(), flags, std::move(data), tid_));
  }
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override {
    if (req.size.has_value() && !req.mode && !req.uid && !req.gid && !req.atime && !req.mtime) return {};  // O_TRUNC
    return SyntheticInode::SetAttr(c, req);
  }

 private:
  SyntheticFile::ContentFn fn_;
  const int32_t tid_;
};

class KnobInode final : public SyntheticInode {
 public:
  KnobInode(uint64_t dev, SyntheticFile::ContentFn fn, int64_t min, int64_t max)
      : SyntheticInode(dev, S_IFREG | 0644), fn_(std::move(fn)), min_(min), max_(max) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    std::string data = TRY(fn_(c));
    return std::shared_ptr<FileDescription>(
        std::make_shared<KnobFile>(at, shared_from_this(), flags, std::move(data), min_, max_));
  }
  Result<void> SetAttr(const Caller& c, const SetAttrRequest& req) override {
    if (req.size.has_value() && !req.mode && !req.uid && !req.gid && !req.atime && !req.mtime) return {};
    return SyntheticInode::SetAttr(c, req);
  }

 private:
  SyntheticFile::ContentFn fn_;
  const int64_t min_, max_;
};

class Procfs : public std::enable_shared_from_this<Procfs> {
 public:
  Procfs() : dev_(NextSyntheticDev()) {}

  std::shared_ptr<Inode> BuildRoot() {
    auto root = SyntheticDir::New(dev_);
    root->SetProcStyle();
    root->AddChild("self", SyntheticSymlink::New(dev_, [](const Caller& c) -> Result<std::string> {
                     if (c.thread_group == nullptr) return Errno::kENOENT;
                     return std::to_string(c.thread_group->pid);
                   }));
    root->AddChild("thread-self", SyntheticSymlink::New(dev_, [](const Caller& c) -> Result<std::string> {
                     if (c.thread_group == nullptr) return Errno::kENOENT;
                     const int32_t tid = c.tid != 0 ? c.tid : c.thread_group->pid;
                     return fmt::format("{}/task/{}", c.thread_group->pid, tid);
                   }));
    root->AddChild("mounts", SyntheticSymlink::New(dev_, [](const Caller&) -> Result<std::string> {
                     return std::string("self/mounts");
                   }));
    root->AddChild("net", SyntheticSymlink::New(dev_, [](const Caller&) -> Result<std::string> {
                     return std::string("self/net");
                   }));
    root->AddChild("locks", SyntheticFile::New(dev_, 0444, [](const Caller& c) -> Result<std::string> {
                     return proc::LocksText(c);
                   }));
    proc::AddSystemFiles(*root, dev_);
    std::shared_ptr<Procfs> self = shared_from_this();
    root->SetGenerated(
        [self](const Caller& c, std::string_view name) -> Result<std::shared_ptr<Inode>> {
          const std::optional<int64_t> pid = ParseNumber(name);
          if (!pid.has_value() || *pid > INT32_MAX) return Errno::kENOENT;
          if (InfoOf(c, static_cast<int32_t>(*pid)).ok()) {
            return std::shared_ptr<Inode>(self->PidDir(static_cast<int32_t>(*pid), 0));
          }
          // proc_pid_lookup(): a non-leader's tid resolves too (not listed);
          // shown here as its task/<tid> directory.
          int32_t tgid = 0;
          if (c.kernel != nullptr) {
            c.kernel->WithTask(static_cast<int32_t>(*pid), [&](sentry::kernel::Task& t) { tgid = t.thread_group().pid; });
          }
          if (tgid == 0 || !InfoOf(c, tgid).ok()) return Errno::kENOENT;
          return std::shared_ptr<Inode>(self->PidDir(tgid, static_cast<int32_t>(*pid)));
        },
        [self](const Caller& c) {
          std::vector<DirEntry> out;
          std::vector<int32_t> pids;
          if (c.kernel != nullptr) {
            pids = c.kernel->Pids();
          } else if (c.thread_group != nullptr) {
            pids.push_back(c.thread_group->pid);
          }
          for (int32_t pid : pids) out.push_back({std::to_string(pid), self->PidDir(pid, 0)->ino(), DT_DIR});
          return out;
        });
    return root;
  }

 private:
  static bool IsSelf(const Caller& c, int32_t pid) { return c.thread_group != nullptr && c.thread_group->pid == pid; }

  // What /proc shows of process `pid`; ENOENT once it is gone.
  static Result<ProcessInfo> InfoOf(const Caller& c, int32_t pid) {
    if (c.kernel != nullptr) {
      std::optional<ProcessInfo> info = c.kernel->GetProcessInfo(pid);
      if (!info.has_value()) return Errno::kENOENT;
      if (IsSelf(c, pid) && info->state == 'S') info->state = 'R';  // the reader runs
      return *std::move(info);
    }
    if (!IsSelf(c, pid)) return Errno::kENOENT;
    ProcessInfo info;
    const auto& tg = *c.thread_group;
    info.pid = tg.pid, info.ppid = tg.ppid, info.pgid = tg.pgid, info.sid = tg.sid;
    info.exe_path = tg.exe_path;
    info.exe_file = tg.exe_file;
    info.threads = 1;
    info.state = 'R';
    info.tids = {c.tid != 0 ? c.tid : tg.pid};
    info.ruid = c.creds->ruid, info.euid = c.creds->euid, info.suid = c.creds->suid, info.fsuid = c.creds->fsuid;
    info.rgid = c.creds->rgid, info.egid = c.creds->egid, info.sgid = c.creds->sgid, info.fsgid = c.creds->fsgid;
    info.creds = *c.creds;
    return info;
  }

  // ptrace_may_access(PTRACE_MODE_READ_FSCREDS), simplified: the same user
  // throughout, or CAP_SYS_PTRACE. For environ, maps and fd of others.
  static Result<ProcessInfo> InfoIfMayRead(const Caller& c, int32_t pid) {
    ProcessInfo i = TRY(InfoOf(c, pid));
    if (IsSelf(c, pid) || c.creds->HasCap(CAP_SYS_PTRACE)) return i;
    const uint32_t u = c.creds->fsuid;
    if (u != i.ruid || u != i.euid || u != i.suid) return Errno::kEACCES;
    return i;
  }

  // The process's fs context (cwd, root, umask).
  static std::shared_ptr<FsContext> FsOf(const Caller& c, int32_t pid, FsContext** ctx) {
    std::shared_ptr<FsContext> hold;
    *ctx = nullptr;
    if (IsSelf(c, pid) && c.fs != nullptr) {
      *ctx = c.fs;
    } else if (c.kernel != nullptr) {
      hold = c.kernel->ProcessFs(pid);
      *ctx = hold.get();
    }
    return hold;
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
      TRY(InfoIfMayRead(c, pid));
      f.hold = c.kernel->ProcessFds(pid);
      f.table = f.hold.get();
    }
    if (f.table == nullptr) return Errno::kENOENT;
    return f;
  }

  // /proc/<pid>/stat (fs/proc/array.c do_task_stat): 52 fields. `tid`: a
  // task/<tid>/stat, which shows the tid in the first field.
  // One thread's usage (task/<tid>/*; the leader's for /proc/<pid>/status).
  static ProcessInfo::ThreadUsage ThreadUsageOf(const ProcessInfo& i, int32_t tid) {
    for (size_t k = 0; k < i.tids.size() && k < i.thread_usage.size(); ++k) {
      if (i.tids[k] == tid) return i.thread_usage[k];
    }
    return {};
  }

  // One thread's name (task/<tid>/*; the leader's for /proc/<pid>).
  static const std::string& CommOf(const ProcessInfo& i, int32_t tid) {
    for (size_t k = 0; tid != 0 && k < i.tids.size() && k < i.thread_comms.size(); ++k) {
      if (i.tids[k] == tid) return i.thread_comms[k];
    }
    return i.comm;
  }

  static std::string StatLine(const ProcessInfo& i, int32_t tid) {
    const MemStats m = MemOf(i);
    const uint64_t rsslim = i.rlimits.size() > RLIMIT_RSS ? i.rlimits[RLIMIT_RSS].first : ~0ull;
    // do_task_stat(whole = 0) for a task file: that thread's counters and
    // times, no children's.
    int64_t utime = i.utime_ns, stime = i.stime_ns, cutime = i.cutime_ns, cstime = i.cstime_ns;
    uint64_t minflt = i.minflt, cminflt = i.cminflt, majflt = i.majflt, cmajflt = i.cmajflt;
    if (tid != 0) {
      const ProcessInfo::ThreadUsage u = ThreadUsageOf(i, tid);
      utime = u.utime_ns, stime = u.stime_ns, minflt = u.minflt, majflt = u.majflt;
      cutime = cstime = 0;
      cminflt = cmajflt = 0;
    }
    std::string s = fmt::format("{} ({}) {} {} {} {} 0 -1 4194304 {} {} {} {}", tid != 0 ? tid : i.pid, CommOf(i, tid),
                                i.state, i.ppid, i.pgid, i.sid, minflt, cminflt, majflt, cmajflt);
    s += fmt::format(" {} {} {} {} {} {} {} 0 {} {} {} {}", NsToTicks(utime), NsToTicks(stime),
                     NsToTicks(cutime), NsToTicks(cstime), 20 + i.nice, i.nice, i.threads,
                     NsToTicks(i.start_ns), m.size, m.rss / 4096, rsslim);
    // startcode..kstkeip (5), signal, blocked, sigignore, sigcatch (decimal),
    // wchan, nswap, cnswap, exit_signal, processor, rt_priority, policy,
    // delayacct, guest times, then start_data..env_end and exit_code.
    s += " 0 0 0 0 0";
    s += fmt::format(" {} {} {} {}", i.sig_pending & 0x7fffffff, i.sig_blocked & 0x7fffffff,
                     i.sig_ignored & 0x7fffffff, i.sig_caught & 0x7fffffff);
    s += " 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    return s;
  }

  static std::string StatmText(const ProcessInfo& i) {
    const MemStats m = MemOf(i);
    return fmt::format("{} {} {} {} 0 {} 0\n", m.size / 4096, m.rss / 4096, (m.rss - m.rss_anon) / 4096, m.exe / 4096,
                       (m.data + m.stack) / 4096);
  }

  static std::string StatusText(const ProcessInfo& i, int32_t tid, uint32_t umask) {
    const char* state = i.state == 'Z' ? "Z (zombie)" : i.state == 'R' ? "R (running)" : "S (sleeping)";
    std::string groups;  // fs/proc/array.c task_state(): "%u " each
    for (uint32_t g : i.creds.groups) groups += fmt::format("{} ", g);
    const auto& cr = i.creds;
    const int32_t pid = tid != 0 ? tid : i.pid;
    std::string s = fmt::format(
        "Name:\t{}\nUmask:\t{:04o}\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\n"
        "Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{}\nNStgid:\t{}\nNSpid:\t{}\n"
        "NSpgid:\t{}\nNSsid:\t{}\n",
        CommOf(i, tid), umask, state, i.pid, pid, i.ppid, i.ruid, i.euid, i.suid, i.fsuid, i.rgid, i.egid, i.sgid, i.fsgid,
        groups, i.pid, pid, i.pgid, i.sid);
    if (i.mm != nullptr) {
      const MemStats m = MemOf(i);
      auto kb = [&s](std::string_view name, uint64_t bytes) { s += fmt::format("{}:\t{:>8} kB\n", name, bytes >> 10); };
      kb("VmPeak", m.size);
      kb("VmSize", m.size);
      kb("VmLck", 0);
      kb("VmPin", 0);
      kb("VmHWM", std::max<uint64_t>(m.rss, i.maxrss_kb << 10));  // the platform's peak
      kb("VmRSS", m.rss);
      kb("RssAnon", m.rss_anon);
      kb("RssFile", m.rss - m.rss_anon - m.rss_shared);
      kb("RssShmem", m.rss_shared);
      kb("VmData", m.data);
      kb("VmStk", m.stack);
      kb("VmExe", m.exe);
      kb("VmLib", m.lib);
      kb("VmPTE", 0);
      kb("VmSwap", 0);
      s += "HugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\n";
    }
    const int n = sentry::kernel::NumCpus();
    const uint64_t cpus = n >= 64 ? ~0ull : (1ull << n) - 1;
    s += fmt::format(
        "Threads:\t{}\nSigQ:\t0/63704\nSigPnd:\t{}\nShdPnd:\t{}\nSigBlk:\t{}\nSigIgn:\t{}\nSigCgt:\t{}\n"
        "CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n"
        "NoNewPrivs:\t{}\nSeccomp:\t{}\nSeccomp_filters:\t{}\nSpeculation_Store_Bypass:\tthread vulnerable\n"
        "SpeculationIndirectBranch:\tconditional enabled\nCpus_allowed:\t{:x}\nCpus_allowed_list:\t{}\n"
        "Mems_allowed:\t1\nMems_allowed_list:\t0\n",
        i.threads, Sigset(0), Sigset(i.sig_pending), Sigset(i.sig_blocked), Sigset(i.sig_ignored),
        Sigset(i.sig_caught), cr.cap_inheritable, cr.cap_permitted, cr.cap_effective, cr.cap_bounding, cr.cap_ambient,
        i.no_new_privs ? 1 : 0, i.seccomp_mode, i.seccomp_filters, cpus, n == 1 ? std::string("0") : fmt::format("0-{}", n - 1));
    // task_context_switch_counts(): the thread's (the leader's for /proc/<pid>).
    const ProcessInfo::ThreadUsage u = ThreadUsageOf(i, pid);
    s += fmt::format("voluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t{}\n", u.nvcsw, u.nivcsw);
    return s;
  }

  // fs/proc/base.c proc_pid_limits.
  static std::string LimitsText(const ProcessInfo& i) {
    static constexpr struct {
      const char* name;
      const char* unit;
    } kLimits[] = {{"Max cpu time", "seconds"},     {"Max file size", "bytes"},       {"Max data size", "bytes"},
                   {"Max stack size", "bytes"},     {"Max core file size", "bytes"},  {"Max resident set", "bytes"},
                   {"Max processes", "processes"},  {"Max open files", "files"},      {"Max locked memory", "bytes"},
                   {"Max address space", "bytes"},  {"Max file locks", "locks"},      {"Max pending signals", "signals"},
                   {"Max msgqueue size", "bytes"},  {"Max nice priority", ""},        {"Max realtime priority", ""},
                   {"Max realtime timeout", "us"}};
    std::string s = fmt::format("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    auto v = [](uint64_t x) { return x == RLIM_INFINITY ? std::string("unlimited") : std::to_string(x); };
    for (size_t r = 0; r < std::size(kLimits) && r < i.rlimits.size(); ++r) {
      s += fmt::format("{:<25} {:<20} {:<20} {:<10}\n", kLimits[r].name, v(i.rlimits[r].first),
                       v(i.rlimits[r].second), kLimits[r].unit);
    }
    return s;
  }

  // fs/proc/task_mmu.c show_smap, with the figures we have.
  static std::string SmapsText(const ProcessInfo& i) {
    if (i.mm == nullptr) return "";
    std::string s;
    for (const sentry::mm::VmaInfo& v : i.mm->Vmas()) {
      s += sentry::mm::FormatMapsLine(v);
      const uint64_t kb = (v.end - v.start) >> 10;
      const uint64_t rss = v.rss >> 10;
      const bool anon = !v.shared && (v.name.empty() || v.name[0] == '[');
      auto f = [&s](std::string_view name, uint64_t val) { s += fmt::format("{:<16}{:>8} kB\n", fmt::format("{}:", name), val); };
      f("Size", kb);
      f("KernelPageSize", 4);
      f("MMUPageSize", 4);
      f("Rss", rss);
      f("Pss", rss);
      f("Shared_Clean", 0);
      f("Shared_Dirty", 0);
      f("Private_Clean", anon ? 0 : rss);
      f("Private_Dirty", anon ? rss : 0);
      f("Referenced", rss);
      f("Anonymous", anon ? rss : 0);
      f("LazyFree", 0);
      f("AnonHugePages", 0);
      f("ShmemPmdMapped", 0);
      f("FilePmdMapped", 0);
      f("Shared_Hugetlb", 0);
      f("Private_Hugetlb", 0);
      f("Swap", 0);
      f("SwapPss", 0);
      f("Locked", 0);
      s += "THPeligible:    0\nVmFlags:";
      if (v.prot & PROT_READ) s += " rd";
      if (v.prot & PROT_WRITE) s += " wr";
      if (v.prot & PROT_EXEC) s += " ex";
      if (v.shared) s += " sh";
      s += " mr mw me";
      if (v.shared) s += " ms";
      if (v.name == "[stack]") s += " gd";
      s += " ac \n";
    }
    return s;
  }

  static std::string IoText() {
    return "rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
  }

  // One inode per live pid (tid 0) or task directory, so st_ino is stable
  // while in use.
  std::shared_ptr<SyntheticDir> PidDir(int32_t pid, int32_t tid) {
    absl::MutexLock l(&mu_);
    const int64_t key = (static_cast<int64_t>(pid) << 32) | static_cast<uint32_t>(tid);
    if (auto d = pid_dirs_[key].lock()) return d;
    auto d = SyntheticDir::New(dev_);
    d->SetProcStyle();
    const uint64_t dev = dev_;
    auto file = [&](std::string name, uint32_t perm, std::function<Result<std::string>(const Caller&)> fn) {
      d->AddChild(std::move(name), SyntheticFile::New(dev, perm, std::move(fn)));
    };
    // exe: the file exec'd (mm->exe_file), by its name now (d_path).
    d->AddChild("exe", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  const auto info = TRY(InfoOf(c, pid));
                  if (info.exe_path.empty()) return Errno::kENOENT;
                  if (!info.exe_file.has_value() || info.exe_file->mount == nullptr || c.fs == nullptr) return info.exe_path;
                  std::string path = Vfs::PathString(c.fs->root(), *info.exe_file);
                  if (Vfs::IsUnlinked(c, *info.exe_file)) path += " (deleted)";
                  return path;
                }, true, [pid](const Caller& c) -> Result<std::optional<Path>> {
                  const auto info = TRY(InfoOf(c, pid));
                  if (!info.exe_file.has_value()) return info.exe_path.empty() ? Result<std::optional<Path>>(Errno::kENOENT)
                                                                             : std::optional<Path>();
                  return info.exe_file;
                }));
    d->AddChild("cwd", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  FsContext* ctx;
                  auto hold = FsOf(c, pid, &ctx);
                  if (ctx == nullptr) return Errno::kENOENT;
                  std::string path = Vfs::PathString(c.fs == nullptr ? ctx->root() : c.fs->root(), ctx->cwd());
                  if (Vfs::IsUnlinked(c, ctx->cwd())) path += " (deleted)";
                  return path;
                }, true, [pid](const Caller& c) -> Result<std::optional<Path>> {
                  FsContext* ctx;
                  auto hold = FsOf(c, pid, &ctx);
                  if (ctx == nullptr) return Errno::kENOENT;
                  return std::optional<Path>(ctx->cwd());
                }));
    // The process's root (chroot) as the caller sees it.
    d->AddChild("root", SyntheticSymlink::New(dev_, [pid](const Caller& c) -> Result<std::string> {
                  TRY(InfoOf(c, pid));
                  FsContext* ctx;
                  auto hold = FsOf(c, pid, &ctx);
                  if (ctx == nullptr || c.fs == nullptr) return std::string("/");
                  return Vfs::PathString(c.fs->root(), ctx->root());
                }, true));
    file("stat", 0444, [pid, tid](const Caller& c) -> Result<std::string> { return StatLine(TRY(InfoOf(c, pid)), tid); });
    file("statm", 0444, [pid](const Caller& c) -> Result<std::string> { return StatmText(TRY(InfoOf(c, pid))); });
    file("status", 0444, [pid, tid](const Caller& c) -> Result<std::string> {
      ProcessInfo i = TRY(InfoOf(c, pid));
      FsContext* ctx;
      auto hold = FsOf(c, pid, &ctx);
      return StatusText(i, tid, ctx != nullptr ? ctx->umask() : 022);
    });
    d->AddChild("comm", std::make_shared<CommInode>(dev, [pid, tid](const Caller& c) -> Result<std::string> {
                  return CommOf(TRY(InfoOf(c, pid)), tid) + "\n";
                }, tid != 0 ? tid : pid));
    // TODO(#5): read from the process's memory (setproctitle shows there).
    file("cmdline", 0444, [pid](const Caller& c) -> Result<std::string> { return TRY(InfoOf(c, pid)).cmdline; });
    file("environ", 0400, [pid](const Caller& c) -> Result<std::string> { return TRY(InfoIfMayRead(c, pid)).environ; });
    file("maps", 0444, [pid](const Caller& c) -> Result<std::string> {
      ProcessInfo i = TRY(InfoIfMayRead(c, pid));
      return i.mm != nullptr ? i.mm->MapsText() : std::string();
    });
    file("smaps", 0444, [pid](const Caller& c) -> Result<std::string> { return SmapsText(TRY(InfoIfMayRead(c, pid))); });
    file("limits", 0444, [pid](const Caller& c) -> Result<std::string> { return LimitsText(TRY(InfoOf(c, pid))); });
    file("mounts", 0444, [pid](const Caller& c) -> Result<std::string> {
      TRY(InfoOf(c, pid));
      FsContext* ctx;
      auto hold = FsOf(c, pid, &ctx);
      return ctx != nullptr ? proc::MountsText(c, *ctx, false) : std::string();
    });
    file("mountinfo", 0444, [pid](const Caller& c) -> Result<std::string> {
      TRY(InfoOf(c, pid));
      FsContext* ctx;
      auto hold = FsOf(c, pid, &ctx);
      return ctx != nullptr ? proc::MountsText(c, *ctx, true) : std::string();
    });
    // No cgroups, no audit: Linux's values for those.
    file("cgroup", 0444, [pid](const Caller& c) -> Result<std::string> { TRY(InfoOf(c, pid)); return std::string("0::/\n"); });
    file("oom_score", 0444, [pid](const Caller& c) -> Result<std::string> {
      const ProcessInfo i = TRY(InfoOf(c, pid));
      std::shared_ptr<sentry::kernel::ThreadGroup> tg;
      if (c.kernel != nullptr) {
        tg = c.kernel->FindProcess(pid);
      } else if (IsSelf(c, pid)) {
        tg = std::shared_ptr<sentry::kernel::ThreadGroup>(std::shared_ptr<void>(), c.thread_group);  // not owned
      }
      if (tg == nullptr) return Errno::kENOENT;
      const uint64_t total = c.kernel != nullptr ? c.kernel->memory_file().capacity() : 64ull << 30;
      return fmt::format("{}\n", OomScore(i.mm != nullptr, MemOf(i).rss, tg->oom_score_adj.load(), total));
    });
    auto knob = [&](std::string name, std::string text, int64_t min, int64_t max) {
      d->AddChild(std::move(name), std::make_shared<KnobInode>(dev, [pid, text](const Caller& c) -> Result<std::string> {
                    TRY(InfoOf(c, pid));
                    return text;
                  }, min, max));
    };
    d->AddChild("mem", proc::MemFileInode(dev, pid));
    d->AddChild("oom_score_adj", std::make_shared<OomAdjInode>(dev, pid, false));
    d->AddChild("oom_adj", std::make_shared<OomAdjInode>(dev, pid, true));
    knob("loginuid", "4294967295", 0, 4294967295);
    file("sessionid", 0444, [pid](const Caller& c) -> Result<std::string> { TRY(InfoOf(c, pid)); return std::string("4294967295"); });
    file("io", 0400, [pid](const Caller& c) -> Result<std::string> { TRY(InfoIfMayRead(c, pid)); return IoText(); });
    file("wchan", 0444, [pid](const Caller& c) -> Result<std::string> { TRY(InfoOf(c, pid)); return std::string("0"); });
    // One network namespace: every process shows the same files.
    d->AddChild("net", net_);
    d->AddChild("fd", FdDir(pid, false));
    d->AddChild("fdinfo", FdDir(pid, true));
    if (tid == 0) d->AddChild("task", TaskDir(pid));
    pid_dirs_[key] = d;
    return d;
  }

  // /proc/<pid>/task: one directory per live thread.
  std::shared_ptr<SyntheticDir> TaskDir(int32_t pid) {
    auto dir = SyntheticDir::New(dev_);
    dir->SetProcStyle();
    std::weak_ptr<Procfs> weak = weak_from_this();
    dir->SetGenerated(
        [pid, weak](const Caller& c, std::string_view name) -> Result<std::shared_ptr<Inode>> {
          auto self = weak.lock();
          const std::optional<int64_t> tid = ParseNumber(name);
          if (self == nullptr || !tid.has_value()) return Errno::kENOENT;
          const ProcessInfo i = TRY(InfoOf(c, pid));
          if (std::find(i.tids.begin(), i.tids.end(), *tid) == i.tids.end()) return Errno::kENOENT;
          return std::shared_ptr<Inode>(self->PidDir(pid, static_cast<int32_t>(*tid)));
        },
        [pid, weak](const Caller& c) {
          std::vector<DirEntry> out;
          auto self = weak.lock();
          Result<ProcessInfo> i = InfoOf(c, pid);
          if (self == nullptr || !i.ok()) return out;
          for (int32_t tid : i.value().tids) out.push_back({std::to_string(tid), self->PidDir(pid, tid)->ino(), DT_DIR});
          return out;
        });
    return dir;
  }

  // /proc/<pid>/fd: one symlink per open fd, to the file's path; fdinfo:
  // fs/proc/fd.c seq_show.
  std::shared_ptr<SyntheticDir> FdDir(int32_t pid, bool info) {
    auto dir = SyntheticDir::New(dev_, 0500);
    dir->SetProcStyle();
    const uint64_t dev = dev_;
    dir->SetGenerated(
        [pid, dev, info](const Caller& c, std::string_view name) -> Result<std::shared_ptr<Inode>> {
          const Fds fds = TRY(FdsOf(c, pid));
          const std::optional<int64_t> fd = ParseNumber(name);
          if (!fd.has_value() || *fd > INT32_MAX) return Errno::kENOENT;
          Result<sentry::kernel::FdEntry> e = fds.table->GetEntry(static_cast<int>(*fd));
          if (!e.ok()) return Errno::kENOENT;
          const std::shared_ptr<FileDescription>& f = e.value().file;
          if (info) {
            Result<uint64_t> pos = f->Seek(0, SEEK_CUR);
            Result<struct stat> st = f->Stat();
            const int flags = f->flags() | (e.value().cloexec ? O_CLOEXEC : 0);
            std::string text = fmt::format("pos:\t{}\nflags:\t0{:o}\nmnt_id:\t1\nino:\t{}\n", pos.ok() ? pos.value() : 0,
                                           flags, st.ok() ? st.value().st_ino : 0);
            if (st.ok()) text += proc::FdLockLines(c, *f, fds.table, pid, st.value().st_dev, st.value().st_ino);
            text += f->FdInfo();
            return std::shared_ptr<Inode>(proc::FixedFile(dev, std::move(text)));
          }
          std::string target = f->Path();
          // d_path() marks an unlinked file or removed directory.
          if (f->location() != nullptr) {
            if (Result<struct stat> st = f->Stat(); st.ok() && st.value().st_nlink == 0) target += " (deleted)";
          }
          // Opening the link reopens the file itself (proc_fd_link).
          std::optional<Path> jump = MagicLinkTarget(f, target);
          return std::shared_ptr<Inode>(SyntheticSymlink::New(
              dev, [target = std::move(target)](const Caller&) -> Result<std::string> { return target; }, true,
              [jump = std::move(jump)](const Caller&) -> Result<std::optional<Path>> { return jump; }));
        },
        [pid, info](const Caller& c) {
          std::vector<DirEntry> out;
          Result<Fds> fds = FdsOf(c, pid);
          if (!fds.ok()) return out;
          for (int fd : fds.value().table->Fds()) {
            out.push_back({std::to_string(fd), NextSyntheticIno(), static_cast<uint8_t>(info ? DT_REG : DT_LNK)});
          }
          return out;
        });
    return dir;
  }

  const uint64_t dev_;
  const std::shared_ptr<SyntheticDir> net_ = proc::NetDir(dev_);
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::weak_ptr<SyntheticDir>> pid_dirs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::shared_ptr<Inode> NewProcfs() {
  auto fs = std::make_shared<Procfs>();
  // The root's generators hold `fs`; fs holds no inode strongly.
  return fs->BuildRoot();
}

}  // namespace fs
