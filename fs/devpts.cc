// devpts: see devpts.h.
#include "fs/devpts.h"

#include <fcntl.h>
#include <dirent.h>
#include <sys/sysmacros.h>

#include <string>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

constexpr uint32_t kMaxPtys = 4096;       // /proc/sys/kernel/pty/max is larger; enough for a sandbox
constexpr unsigned kPtyReplicaMajor = 136;  // UNIX98_PTY_SLAVE_MAJOR

// A character device node of a synthetic filesystem.
class CharInode : public SyntheticInode {
 public:
  CharInode(uint64_t dev, uint32_t perm, dev_t rdev, uint32_t uid = 0, uint32_t gid = 0)
      : SyntheticInode(dev, S_IFCHR | perm), rdev_(rdev), uid_(uid), gid_(gid) {}
  Result<struct stat> Stat(const Caller& c) override {
    struct stat st = TRY(SyntheticInode::Stat(c));
    st.st_rdev = rdev_;
    st.st_uid = uid_;
    st.st_gid = gid_;
    return st;
  }

 private:
  const dev_t rdev_;
  const uint32_t uid_, gid_;
};

class PtmxInode final : public CharInode {
 public:
  PtmxInode(uint64_t dev, uint32_t perm, std::weak_ptr<Devpts> devpts)
      : CharInode(dev, perm, makedev(5, 2)), devpts_(std::move(devpts)) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    std::shared_ptr<Devpts> d = devpts_.lock();
    if (d == nullptr) return Errno::kENODEV;
    return d->OpenMaster(c, at, shared_from_this(), flags);
  }

 private:
  const std::weak_ptr<Devpts> devpts_;
};

class PtsInode final : public CharInode {
 public:
  PtsInode(uint64_t dev, uint32_t perm, uint32_t index, uint32_t uid, uint32_t gid, std::weak_ptr<Tty> tty,
           std::weak_ptr<Devpts> devpts)
      : CharInode(dev, perm, makedev(kPtyReplicaMajor, index), uid, gid), tty_(std::move(tty)),
        devpts_(std::move(devpts)) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    std::shared_ptr<Tty> tty = tty_.lock();
    std::shared_ptr<Devpts> d = devpts_.lock();
    if (tty == nullptr || d == nullptr) return Errno::kEIO;  // the pair is gone
    return d->OpenReplica(c, at, shared_from_this(), flags, std::move(tty));
  }

 private:
  const std::weak_ptr<Tty> tty_;
  const std::weak_ptr<Devpts> devpts_;
};

class DevTtyInode final : public CharInode {
 public:
  DevTtyInode(uint64_t dev, std::shared_ptr<Devpts> devpts) : CharInode(dev, 0666, makedev(5, 0)), devpts_(std::move(devpts)) {}
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    if (c.thread_group == nullptr || c.thread_group->no_ctty) return Errno::kENXIO;
    std::shared_ptr<Tty> tty = devpts_->TtyOfSession(c.thread_group->sid.load());
    if (tty == nullptr) return Errno::kENXIO;  // tty_open_current_tty: no controlling terminal
    return devpts_->OpenReplica(c, at, shared_from_this(), flags | O_NOCTTY, std::move(tty));
  }

 private:
  const std::shared_ptr<Devpts> devpts_;
};

}  // namespace

Result<DevptsOptions> DevptsOptions::Parse(std::string_view data) {
  DevptsOptions o;
  for (absl::string_view opt : absl::StrSplit(absl::string_view(data.data(), data.size()), ',', absl::SkipEmpty())) {
    const size_t eq = opt.find('=');
    const absl::string_view key = opt.substr(0, eq);
    const absl::string_view val = eq == absl::string_view::npos ? absl::string_view() : opt.substr(eq + 1);
    if (eq == absl::string_view::npos) {
      if (key == "newinstance") continue;  // every sandbox devpts is its own instance
      return Errno::kEINVAL;
    }
    uint32_t n = 0;
    if (key == "uid" || key == "gid" || key == "max") {
      if (!absl::SimpleAtoi(val, &n)) return Errno::kEINVAL;
      if (key == "uid") o.uid = n;
      if (key == "gid") o.gid = n;
      continue;  // max: kMaxPtys bounds the sandbox anyway
    }
    if (key == "mode" || key == "ptmxmode") {
      std::string s(val);
      char* end = nullptr;
      const unsigned long m = std::strtoul(s.c_str(), &end, 8);
      if (s.empty() || *end != '\0' || s[0] == '-' || m > 07777) return Errno::kEINVAL;
      (key == "mode" ? o.mode : o.ptmxmode) = static_cast<uint32_t>(m);
      continue;
    }
    return Errno::kEINVAL;
  }
  return o;
}

std::shared_ptr<Devpts> Devpts::Create(const DevptsOptions& opts) {
  auto d = std::make_shared<Devpts>();
  d->dev_ = NextSyntheticDev();
  d->opts_ = opts;
  auto root = SyntheticDir::New(d->dev_, 0755);
  root->AddChild("ptmx", std::make_shared<PtmxInode>(d->dev_, opts.ptmxmode, d));
  std::weak_ptr<Devpts> weak = d;
  root->SetGenerated(
      [weak](const Caller&, std::string_view name) -> Result<std::shared_ptr<Inode>> {
        std::shared_ptr<Devpts> self = weak.lock();
        uint32_t index = 0;
        if (self == nullptr || !absl::SimpleAtoi(absl::string_view(name.data(), name.size()), &index) || std::to_string(index) != name) return Errno::kENOENT;
        std::shared_ptr<Inode> inode = self->ReplicaInode(index);
        if (inode == nullptr) return Errno::kENOENT;
        return inode;
      },
      [weak](const Caller&) {
        std::vector<DirEntry> out;
        std::shared_ptr<Devpts> self = weak.lock();
        if (self == nullptr) return out;
        absl::MutexLock l(&self->mu_);
        for (auto& [index, e] : self->ttys_) {
          std::shared_ptr<Tty> tty = e.tty.lock();
          if (tty == nullptr || !tty->master_open()) continue;
          out.push_back({std::to_string(index), static_cast<SyntheticInode&>(*e.inode).ino(), DT_CHR});
        }
        return out;
      });
  d->root_ = std::move(root);
  return d;
}

Result<std::shared_ptr<Tty>> Devpts::NewTty(sentry::kernel::Kernel* kernel, uint32_t uid, uint32_t gid) {
  absl::MutexLock l(&mu_);
  // The lowest index whose pair is gone (devpts_new_index: an ida).
  uint32_t index = 0;
  for (auto it = ttys_.begin(); it != ttys_.end();) {
    if (it->second.tty.expired()) {
      it = ttys_.erase(it);
      continue;
    }
    ++it;
  }
  while (ttys_.contains(index)) ++index;
  if (index >= kMaxPtys) return Errno::kENOSPC;
  auto tty = std::make_shared<Tty>(index, kernel);
  // devpts_pty_new: the mount's uid=/gid= if given, else the opener's.
  ttys_[index] = Entry{tty, std::make_shared<PtsInode>(dev_, opts_.mode, index, opts_.uid.value_or(uid),
                                                       opts_.gid.value_or(gid), tty, weak_from_this())};
  return tty;
}

std::shared_ptr<Inode> Devpts::ReplicaInode(uint32_t index) {
  absl::MutexLock l(&mu_);
  auto it = ttys_.find(index);
  if (it == ttys_.end()) return nullptr;
  std::shared_ptr<Tty> tty = it->second.tty.lock();
  // devpts_pty_kill: the name goes when the master is closed.
  if (tty == nullptr || !tty->master_open()) return nullptr;
  return it->second.inode;
}

std::shared_ptr<Tty> Devpts::TtyOfSession(int32_t sid) {
  if (sid <= 0) return nullptr;
  absl::MutexLock l(&mu_);
  for (auto& [index, e] : ttys_) {
    std::shared_ptr<Tty> tty = e.tty.lock();
    if (tty != nullptr && tty->session() == sid) return tty;
  }
  return nullptr;
}

std::shared_ptr<Inode> NewDevTty(uint64_t dev, std::shared_ptr<Devpts> devpts) {
  return std::make_shared<DevTtyInode>(dev, std::move(devpts));
}

}  // namespace fs
