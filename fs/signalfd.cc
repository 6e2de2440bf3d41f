#include "fs/signalfd.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sentry/kernel/signal.h"

namespace fs {

using sentry::kernel::SigBit;
using sentry::kernel::Task;
using sentry::kernel::ThreadGroup;
using sentry::kernel::Waiter;

namespace {

// fs/signalfd.c signalfd_copyinfo(): the fields siginfo's layout carries.
struct signalfd_siginfo ToSignalfdSiginfo(const siginfo_t& info) {
  struct signalfd_siginfo s {};
  s.ssi_signo = static_cast<uint32_t>(info.si_signo);
  s.ssi_errno = info.si_errno;
  s.ssi_code = info.si_code;
  const int signo = info.si_signo;
  const bool kernel = info.si_code > 0;
  if (info.si_code == SI_TIMER) {
    s.ssi_tid = static_cast<uint32_t>(info.si_timerid);
    s.ssi_overrun = static_cast<uint32_t>(info.si_overrun);
    s.ssi_ptr = reinterpret_cast<uint64_t>(info.si_ptr);
    s.ssi_int = info.si_int;
  } else if (kernel && signo == SIGCHLD) {
    s.ssi_pid = static_cast<uint32_t>(info.si_pid);
    s.ssi_uid = info.si_uid;
    s.ssi_status = info.si_status;
    s.ssi_utime = static_cast<uint64_t>(info.si_utime);
    s.ssi_stime = static_cast<uint64_t>(info.si_stime);
  } else if (kernel && (signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
                        signo == SIGTRAP)) {
    s.ssi_addr = reinterpret_cast<uint64_t>(info.si_addr);
  } else if (kernel && signo == SIGPOLL) {
    s.ssi_band = static_cast<uint32_t>(info.si_band);
    s.ssi_fd = info.si_fd;
  } else {
    s.ssi_pid = static_cast<uint32_t>(info.si_pid);
    s.ssi_uid = info.si_uid;
    if (info.si_code == SI_QUEUE || info.si_code == SI_MESGQ || info.si_code == SI_ASYNCIO) {
      s.ssi_ptr = reinterpret_cast<uint64_t>(info.si_ptr);
      s.ssi_int = info.si_int;
    }
  }
  return s;
}

}  // namespace

class SignalFd final : public FileDescription {
 public:
  SignalFd(uint64_t mask, int flags) : FileDescription(O_RDWR | flags) { set_mask(mask); }
  ~SignalFd() override {
    absl::MutexLock l(&mu_);
    for (auto& [tg, sub] : subs_) sub.tg->signalfd_events.Remove(sub.waiter.get());
  }

  void set_mask(uint64_t mask) {
    // SIGKILL and SIGSTOP are never taken by a signalfd (signalfd.c).
    mask_.store(mask & ~sentry::kernel::kUnblockable, std::memory_order_relaxed);
    NotifyEvents(EPOLLIN | EPOLLRDNORM);
  }

  // Gets woken by the signals of `t`'s process. Call without locks (the
  // queue's notifiers call into this file).
  void Subscribe(Task& t) {
    absl::MutexLock l(&mu_);
    ThreadGroup* key = &t.thread_group();
    if (subs_.contains(key)) return;
    Sub sub;
    sub.tg = t.thread_group_ptr();
    sub.waiter = std::make_unique<Waiter>([this] { NotifyEvents(EPOLLIN | EPOLLRDNORM); }, ~0ull);
    sub.tg->signalfd_events.Add(sub.waiter.get());
    subs_.emplace(key, std::move(sub));
  }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    constexpr size_t kRecord = sizeof(struct signalfd_siginfo);
    const size_t max = buf.size() / kRecord;
    if (max == 0) return Errno::kEINVAL;
    Task* t = Task::Current();
    if (t == nullptr) return Errno::kEAGAIN;
    Subscribe(*t);
    size_t n = 0;
    siginfo_t info;
    while (n < max && t->DequeueSignal(mask_.load(std::memory_order_relaxed), &info)) {
      const struct signalfd_siginfo s = ToSignalfdSiginfo(info);
      std::memcpy(buf.data() + n * kRecord, &s, kRecord);
      ++n;
    }
    if (n == 0) return Errno::kEAGAIN;
    return n * kRecord;
  }

  Result<struct stat> Stat() override { return AnonInodeStat(); }  // anon_inode_getfile()
  std::string Path() const override { return "anon_inode:[signalfd]"; }

  uint64_t Readiness(uint64_t mask) override {
    Task* t = Task::Current();
    if (t == nullptr) return 0;
    return (t->PendingSet() & mask_.load(std::memory_order_relaxed)) ? (mask & (EPOLLIN | EPOLLRDNORM)) : 0;
  }
  bool Pollable() const override { return true; }

 private:
  struct Sub {
    std::shared_ptr<ThreadGroup> tg;
    std::unique_ptr<Waiter> waiter;
  };
  std::atomic<uint64_t> mask_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<ThreadGroup*, Sub> subs_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<FileDescription> NewSignalfd(Task& t, uint64_t mask, int flags) {
  auto f = std::make_shared<SignalFd>(mask, flags);
  f->Subscribe(t);
  return f;
}

Result<void> SetSignalfdMask(Task& t, FileDescription& f, uint64_t mask) {
  auto* s = dynamic_cast<SignalFd*>(&f);
  if (s == nullptr) return Errno::kEINVAL;
  s->Subscribe(t);
  s->set_mask(mask);
  return {};
}

}  // namespace fs
