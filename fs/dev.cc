// A minimal /dev, all in the sentry: the memory devices of Linux's
// drivers/char/mem.c and random.c, and the usual fd symlinks.
// /dev/tty, /dev/ptmx and the pts mount come from fs/devpts.h.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "fs/devpts.h"
#include "fs/filesystems.h"
#include "fs/synthetic.h"

namespace fs {
namespace {

enum class DevKind { kNull, kZero, kFull, kRandom };

class DevFile final : public VfsFile {
 public:
  DevFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, DevKind kind)
      : VfsFile(std::move(at), std::move(inode), flags), kind_(kind) {}
  Result<size_t> Read(std::span<uint8_t> buf) override { return PRead(buf, 0); }
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t) override {
    switch (kind_) {
      case DevKind::kNull: return size_t{0};
      case DevKind::kZero:
      case DevKind::kFull: std::memset(buf.data(), 0, buf.size()); return buf.size();
      case DevKind::kRandom: {
        // The sentry's own getrandom (never blocks once the host pool is up).
        size_t done = 0;
        while (done < buf.size()) {
          const ssize_t n = getrandom(buf.data() + done, buf.size() - done, 0);
          if (n < 0) {
            if (errno == EINTR) continue;
            return base::FromHost(errno);
          }
          done += static_cast<size_t>(n);
        }
        return done;
      }
    }
    return Errno::kEINVAL;
  }
  Result<size_t> Write(std::span<const uint8_t> buf) override { return PWrite(buf, 0); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t) override {
    if (kind_ == DevKind::kFull) return Errno::kENOSPC;
    return buf.size();  // random: Linux mixes it into the pool; we drop it
  }
  // null/zero/full/random all report position 0 (mem.c null_lseek).
  Result<uint64_t> Seek(int64_t, int) override { return uint64_t{0}; }

 private:
  const DevKind kind_;
};

class DevInode final : public SyntheticInode {
 public:
  DevInode(uint64_t dev, DevKind kind, unsigned major, unsigned minor)
      : SyntheticInode(dev, S_IFCHR | 0666), kind_(kind), rdev_(makedev(major, minor)) {}
  Result<struct stat> Stat(const Caller& c) override {
    struct stat st = TRY(SyntheticInode::Stat(c));
    st.st_rdev = rdev_;
    return st;
  }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path& at, int flags) override {
    return std::shared_ptr<FileDescription>(std::make_shared<DevFile>(at, shared_from_this(), flags & ~O_NOCTTY, kind_));
  }

 private:
  const DevKind kind_;
  const uint64_t rdev_;
};

std::shared_ptr<SyntheticSymlink> FixedLink(uint64_t dev, std::string target) {
  return SyntheticSymlink::New(dev, [target = std::move(target)](const Caller&) -> Result<std::string> { return target; });
}

}  // namespace

std::shared_ptr<Inode> NewDevfs(std::shared_ptr<Devpts> devpts) {
  const uint64_t dev = NextSyntheticDev();
  auto root = SyntheticDir::New(dev, 0755);
  root->AddChild("null", std::make_shared<DevInode>(dev, DevKind::kNull, 1, 3));
  root->AddChild("zero", std::make_shared<DevInode>(dev, DevKind::kZero, 1, 5));
  root->AddChild("full", std::make_shared<DevInode>(dev, DevKind::kFull, 1, 7));
  root->AddChild("random", std::make_shared<DevInode>(dev, DevKind::kRandom, 1, 8));
  root->AddChild("urandom", std::make_shared<DevInode>(dev, DevKind::kRandom, 1, 9));
  root->AddChild("fd", FixedLink(dev, "/proc/self/fd"));
  root->AddChild("stdin", FixedLink(dev, "/proc/self/fd/0"));
  root->AddChild("stdout", FixedLink(dev, "/proc/self/fd/1"));
  root->AddChild("stderr", FixedLink(dev, "/proc/self/fd/2"));
  // Mount points (Vfs mounts tmpfs and devpts here), so that they are listed.
  root->AddChild("shm", SyntheticDir::New(dev, 01777));
  root->AddChild("pts", SyntheticDir::New(dev, 0755));
  if (devpts != nullptr) {
    root->AddChild("tty", NewDevTty(dev, std::move(devpts)));
    root->AddChild("ptmx", FixedLink(dev, "pts/ptmx"));
  }
  return root;
}

}  // namespace fs
