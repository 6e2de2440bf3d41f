// devpts: see devpts.h.
#include "fs/devpts.h"

#include <fcntl.h>
#include <dirent.h>
#include <sys/sysmacros.h>

#include <string>

#include "absl/strings/numbers.h"
#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

constexpr uint32_t kMaxPtys = 4096;       // /proc/sys/kernel/pty/max is larger; enough for a sandbox
constexpr unsigned kPtyReplicaMajor = 136;  // UNIX98_PTY_SLAVE_MAJOR
constexpr uint32_t kTtyGid = 5;            // the "tty" group (gid=5 in runc's devpts mount)

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
  PtmxInode(uint64_t dev, std::weak_ptr<Devpts> devpts) : CharInode(dev, 0666, makedev(5, 2)), devpts_(std::move(devpts)) {}
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
  PtsInode(uint64_t dev, uint32_t index, uint32_t uid, std::weak_ptr<Tty> tty, std::weak_ptr<Devpts> devpts)
      : CharInode(dev, 0620, makedev(kPtyReplicaMajor, index), uid, kTtyGid), tty_(std::move(tty)),
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
    if (c.thread_group == nullptr) return Errno::kENXIO;
    std::shared_ptr<Tty> tty = devpts_->TtyOfSession(c.thread_group->sid.load());
    if (tty == nullptr) return Errno::kENXIO;  // tty_open_current_tty: no controlling terminal
    return devpts_->OpenReplica(c, at, shared_from_this(), flags | O_NOCTTY, std::move(tty));
  }

 private:
  const std::shared_ptr<Devpts> devpts_;
};

}  // namespace

std::shared_ptr<Devpts> Devpts::Create() {
  auto d = std::make_shared<Devpts>();
  d->dev_ = NextSyntheticDev();
  auto root = SyntheticDir::New(d->dev_, 0755);
  root->AddChild("ptmx", std::make_shared<PtmxInode>(d->dev_, d));
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

Result<std::shared_ptr<Tty>> Devpts::NewTty(sentry::kernel::Kernel* kernel, uint32_t uid) {
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
  ttys_[index] = Entry{tty, std::make_shared<PtsInode>(dev_, index, uid, tty, weak_from_this())};
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
