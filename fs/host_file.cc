#include "fs/host_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "fs/inode.h"

namespace fs {
namespace {

// The kernel's struct termios (asm-generic/termbits.h), which TCGETS/TCSETS
// use; glibc's struct termios is larger and laid out differently.
struct KernelTermios {
  uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};
static_assert(sizeof(KernelTermios) == 36);

class HostFile final : public FileDescription {
 public:
  HostFile(base::UniqueFd fd, int flags, std::shared_ptr<HostPoller> poller)
      : FileDescription(flags), fd_(std::move(fd)), poller_(std::move(poller)) {
    // Pollable if the host's epoll takes it (not regular files, /dev/null):
    // those are always ready and never need the poller.
    if (poller_ != nullptr) {
      Result<uint64_t> key = poller_->Add(fd_.get(), [](uint64_t) {});
      pollable_ = key.ok();
      if (key.ok()) poller_->Remove(key.value());
    }
  }
  ~HostFile() override {
    absl::MutexLock l(&mu_);
    if (poll_key_ != 0) poller_->Remove(poll_key_);
  }

  // Never blocks the task thread waiting for the host: a host fd that is
  // not ready gives EAGAIN, and fs::ReadBlocking/WriteBlocking wait through
  // Task::Block, woken by the poller. (The host fd stays blocking; a reader
  // outside the sandbox stealing the data between poll and read is the one
  // way the read can still block.)
  Result<size_t> Read(std::span<uint8_t> buf) override {
    TRY(Ready(POLLIN));
    return Retry([&] { return read(fd_.get(), buf.data(), buf.size()); });
  }
  // A write that the host takes only in part (a slow pipe reader) may wait
  // in the host for the rest. TODO(#4): bound host writes to the free room.
  Result<size_t> Write(std::span<const uint8_t> buf) override {
    TRY(Ready(POLLOUT));
    return Retry([&] { return write(fd_.get(), buf.data(), buf.size()); });
  }

  uint64_t Readiness(uint64_t mask) override {
    struct pollfd p = {fd_.get(), static_cast<short>(mask & 0xffff), 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    return static_cast<uint16_t>(p.revents) & (mask | POLLERR | POLLHUP);
  }
  bool Pollable() const override { return pollable_; }
  void EventRegister(sentry::kernel::Waiter* w) override {
    FileDescription::EventRegister(w);
    if (!pollable_) return;
    absl::MutexLock l(&mu_);
    if (waiters_++ > 0) return;
    // The first waiter: ask the poller for edges on the host fd.
    Result<uint64_t> key = poller_->Add(fd_.get(), [this](uint64_t events) { NotifyEvents(events); });
    if (!key.ok()) {
      logging::Warn("host file: poller add failed: {}", base::ErrnoName(key.error()));
      return;
    }
    poll_key_ = key.value();
  }
  void EventUnregister(sentry::kernel::Waiter* w) override {
    FileDescription::EventUnregister(w);
    if (!pollable_) return;
    absl::MutexLock l(&mu_);
    if (--waiters_ > 0 || poll_key_ == 0) return;
    poller_->Remove(poll_key_);
    poll_key_ = 0;
  }
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override {
    return Retry([&] { return pread(fd_.get(), buf.data(), buf.size(), static_cast<off_t>(off)); });
  }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override {
    return Retry([&] { return pwrite(fd_.get(), buf.data(), buf.size(), static_cast<off_t>(off)); });
  }
  Result<uint64_t> Seek(int64_t off, int whence) override {
    const off_t r = lseek(fd_.get(), off, whence);
    if (r < 0) return base::FromHost(errno);
    return static_cast<uint64_t>(r);
  }
  Result<struct stat> Stat() override {
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return base::FromHost(errno);
    return st;
  }

  Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override {
    switch (cmd) {
      case TCGETS: {
        KernelTermios t{};
        TRY(HostIoctl(TCGETS, &t));
        TRY(mm.CopyOut(sentry::mm::UserPtr<KernelTermios>(arg), t));
        return 0;
      }
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        const KernelTermios t = TRY(mm.CopyIn(sentry::mm::UserPtr<KernelTermios>(arg)));
        TRY(HostIoctl(static_cast<unsigned long>(cmd), const_cast<KernelTermios*>(&t)));
        return 0;
      }
      case TIOCGWINSZ: {
        struct winsize ws {};
        TRY(HostIoctl(TIOCGWINSZ, &ws));
        TRY(mm.CopyOut(sentry::mm::UserPtr<struct winsize>(arg), ws));
        return 0;
      }
      case TIOCSWINSZ: {
        const struct winsize ws = TRY(mm.CopyIn(sentry::mm::UserPtr<struct winsize>(arg)));
        TRY(HostIoctl(TIOCSWINSZ, const_cast<struct winsize*>(&ws)));
        return 0;
      }
      case TIOCGPGRP: {
        // The host's process group ids mean nothing in the sandbox's pid
        // namespace: the foreground group is kept here (set by TIOCSPGRP;
        // pid 1's group until then). The host call still checks it is a tty.
        pid_t host_pgrp;
        TRY(HostIoctl(TIOCGPGRP, &host_pgrp));
        int32_t pgrp;
        {
          absl::MutexLock l(&mu_);
          pgrp = foreground_pgrp_;
        }
        TRY(mm.CopyOut(sentry::mm::UserPtr<int32_t>(arg), pgrp));
        return 0;
      }
      case TIOCSPGRP: {
        const int32_t pgrp = TRY(mm.CopyIn(sentry::mm::UserPtr<int32_t>(arg)));
        if (!isatty(fd_.get())) return Errno::kENOTTY;
        if (pgrp < 0) return Errno::kEINVAL;
        absl::MutexLock l(&mu_);
        foreground_pgrp_ = pgrp;
        return 0;
      }
      case FIONREAD: {
        int n = 0;
        TRY(HostIoctl(FIONREAD, &n));
        TRY(mm.CopyOut(sentry::mm::UserPtr<int32_t>(arg), static_cast<int32_t>(n)));
        return 0;
      }
      default:
        return Errno::kENOTTY;
    }
  }

  std::string Path() const override {
    // What Linux shows in /proc/self/fd for such files.
    struct stat st;
    if (fstat(fd_.get(), &st) != 0) return "host:[unknown]";
    if (S_ISFIFO(st.st_mode)) return fmt::format("pipe:[{}]", st.st_ino);
    if (S_ISSOCK(st.st_mode)) return fmt::format("socket:[{}]", st.st_ino);
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 136) return fmt::format("/dev/pts/{}", minor(st.st_rdev));
    return fmt::format("host:[{}]", st.st_ino);
  }

 private:
  template <typename F>
  static Result<size_t> Retry(F f) {
    while (true) {
      const ssize_t n = f();
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  Result<void> HostIoctl(unsigned long cmd, void* arg) {
    if (ioctl(fd_.get(), cmd, arg) != 0) return base::FromHost(errno);
    return {};
  }
  // O_NONBLOCK lives in our status flags, not on the host fd (it is shared
  // with the user's terminal): poll first so the call does not block.
  Result<void> Ready(short events) {
    struct pollfd p = {fd_.get(), events, 0};
    const int r = poll(&p, 1, 0);
    if (r < 0) return base::FromHost(errno);
    if (r == 0) return Errno::kEAGAIN;
    return {};
  }

  base::UniqueFd fd_;
  const std::shared_ptr<HostPoller> poller_;  // null: never waits (tests)
  bool pollable_ = false;                     // set in the constructor
  absl::Mutex mu_;
  int32_t foreground_pgrp_ ABSL_GUARDED_BY(mu_) = 1;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t poll_key_ ABSL_GUARDED_BY(mu_) = 0;
};

// A new description of a donated host file, opened through
// /proc/<pid>/fd/N (`cat /dev/stdin` on a host pipe): its own status flags,
// the host fd's I/O. Linux would make a new open of the same pipe or tty;
// we have only the donated fd, so the access mode must be one it allows.
class HostReopenFile final : public FileDescription {
 public:
  HostReopenFile(std::shared_ptr<FileDescription> inner, int flags)
      : FileDescription(flags), inner_(std::move(inner)) {}
  Result<size_t> Read(std::span<uint8_t> buf) override { return inner_->Read(buf); }
  Result<size_t> Write(std::span<const uint8_t> buf) override { return inner_->Write(buf); }
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override { return inner_->PRead(buf, off); }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override { return inner_->PWrite(buf, off); }
  Result<uint64_t> Seek(int64_t off, int whence) override { return inner_->Seek(off, whence); }
  Result<struct stat> Stat() override { return inner_->Stat(); }
  Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override {
    return inner_->Ioctl(mm, cmd, arg);
  }
  std::string Path() const override { return inner_->Path(); }
  uint64_t Readiness(uint64_t mask) override { return inner_->Readiness(mask); }
  bool Pollable() const override { return inner_->Pollable(); }
  // Waiters wait on the donated file's queue, which its host poller wakes.
  void EventRegister(sentry::kernel::Waiter* w) override { inner_->EventRegister(w); }
  void EventUnregister(sentry::kernel::Waiter* w) override { inner_->EventUnregister(w); }

 private:
  const std::shared_ptr<FileDescription> inner_;
};

class HostReopenInode final : public Inode {
 public:
  explicit HostReopenInode(std::shared_ptr<FileDescription> f) : f_(std::move(f)) {}
  uint32_t mode() const override {
    Result<struct stat> st = f_->Stat();
    return st.ok() ? st.value().st_mode : (S_IFIFO | 0600);
  }
  Result<struct stat> Stat(const Caller&) override { return f_->Stat(); }
  // O_TRUNC of a donated regular file (`cmd > /dev/stdout` with stdout
  // redirected to a host file) leaves the user's file alone: the sentry
  // never truncates host files, and the write lands at the shared offset.
  Result<void> SetAttr(const Caller&, const SetAttrRequest& req) override {
    if (req.mode || req.uid || req.gid || req.atime || req.mtime) return Errno::kEPERM;
    return {};
  }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path&, int flags) override {
    const int acc = flags & O_ACCMODE;
    const bool want_read = acc == O_RDONLY || acc == O_RDWR;
    const bool want_write = acc == O_WRONLY || acc == O_RDWR;
    if ((want_read && !f_->readable()) || (want_write && !f_->writable())) return Errno::kEACCES;
    return std::shared_ptr<FileDescription>(
        std::make_shared<HostReopenFile>(f_, flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)));
  }

 private:
  const std::shared_ptr<FileDescription> f_;
};

}  // namespace

std::shared_ptr<Inode> HostReopenInodeOf(const std::shared_ptr<FileDescription>& f) {
  if (dynamic_cast<const HostFile*>(f.get()) == nullptr) return nullptr;
  return std::make_shared<HostReopenInode>(f);
}

std::shared_ptr<FileDescription> NewHostFile(base::UniqueFd fd, int flags, std::shared_ptr<HostPoller> poller) {
  return std::make_shared<HostFile>(std::move(fd), flags, std::move(poller));
}

}  // namespace fs
