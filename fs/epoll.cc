#include "fs/epoll.h"

#include <fcntl.h>
#include <sys/epoll.h>

#include <atomic>
#include <deque>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"

namespace fs {
namespace {

using sentry::kernel::Waiter;

// EP_PRIVATE_BITS: flags of an item that are not events.
constexpr uint32_t kPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
constexpr int kMaxNests = 4;  // EP_MAX_NESTS

// Serializes epoll-in-epoll insertions so two of them cannot build a cycle
// between them (Linux: epnested_mutex).
absl::Mutex nest_mu;

class EpollFile;

struct Item final : FileWatch, std::enable_shared_from_this<Item> {
  Item(EpollFile* e, int f, std::weak_ptr<FileDescription> file_ref) : ep(e), fd(f), file(std::move(file_ref)) {}
  Waiter* waiter() override { return w.get(); }
  void Released() override;
  void OnEvent();
  // A waiter for the item's current events (replaced on EPOLL_CTL_MOD).
  void NewWaiter() {
    const uint32_t ev = events.load();
    w = std::make_unique<Waiter>([this] { OnEvent(); }, (ev & ~kPrivateBits) | EPOLLERR | EPOLLHUP);
  }

  absl::Mutex mu;
  EpollFile* ep ABSL_GUARDED_BY(mu);  // null once the instance is gone
  const int fd;
  const std::weak_ptr<FileDescription> file;
  std::atomic<uint32_t> events{0};
  uint64_t data = 0;      // guarded by the instance's mu_
  bool linked = true;     // in the interest set; guarded by the instance's mu_
  bool in_ready = false;  // on the ready list; guarded by its ready_mu_
  std::unique_ptr<Waiter> w;
};

class EpollFile final : public FileDescription {
 public:
  EpollFile() : FileDescription(O_RDWR) {}
  ~EpollFile() override;

  Result<struct stat> Stat() override { return AnonInodeStat(); }  // anon_inode_getfile()
  std::string Path() const override { return "anon_inode:[eventpoll]"; }
  bool Pollable() const override { return true; }
  uint64_t Readiness(uint64_t mask) override {
    if (!(mask & (EPOLLIN | EPOLLRDNORM))) return 0;
    return Collect(1, /*consume=*/false).empty() ? 0 : (mask & (EPOLLIN | EPOLLRDNORM));
  }

  Result<void> Ctl(int op, int fd, const std::shared_ptr<FileDescription>& target, EpollEvent ev);
  // Up to `max` ready events; with !consume, only whether any is ready.
  std::vector<EpollEvent> Collect(size_t max, bool consume);
  void MarkReady(Item* item);
  // A watched file was released: its item is dead (the file's weak
  // reference has expired) and is dropped at the next Ctl. Item::mu held.
  void NoteDead() { dead_.fetch_add(1, std::memory_order_relaxed); }
  // The epoll files this one watches (for the loop check).
  std::vector<std::shared_ptr<FileDescription>> WatchedEpolls();

 private:
  using Key = std::pair<int, const FileDescription*>;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<Item>> items_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> dead_{0};
  void SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex ready_mu_;
  std::deque<std::shared_ptr<Item>> ready_ ABSL_GUARDED_BY(ready_mu_);
};

void Item::Released() {
  absl::MutexLock l(&mu);
  if (ep != nullptr) ep->NoteDead();
}

void Item::OnEvent() {
  absl::MutexLock l(&mu);
  if (ep != nullptr && (events.load() & ~kPrivateBits) != 0) ep->MarkReady(this);
}

void EpollFile::MarkReady(Item* item) {
  {
    absl::MutexLock l(&ready_mu_);
    if (item->in_ready) return;
    item->in_ready = true;
    ready_.push_back(item->shared_from_this());
  }
  NotifyEvents(EPOLLIN | EPOLLRDNORM);
}

void EpollFile::SweepLocked() {
  if (dead_.exchange(0) == 0) return;
  for (auto it = items_.begin(); it != items_.end();) {
    if (it->second->file.expired()) {
      it->second->linked = false;
      items_.erase(it++);
    } else {
      ++it;
    }
  }
}

EpollFile::~EpollFile() {
  absl::flat_hash_map<Key, std::shared_ptr<Item>> items;
  {
    absl::MutexLock l(&mu_);
    items.swap(items_);
  }
  for (auto& [key, item] : items) {
    {
      absl::MutexLock l(&item->mu);
      item->ep = nullptr;
    }
    if (std::shared_ptr<FileDescription> f = item->file.lock()) f->RemoveWatch(item.get());
  }
}

std::vector<std::shared_ptr<FileDescription>> EpollFile::WatchedEpolls() {
  std::vector<std::shared_ptr<FileDescription>> out;
  absl::MutexLock l(&mu_);
  for (auto& [key, item] : items_) {
    if (std::shared_ptr<FileDescription> f = item->file.lock(); f != nullptr && IsEpoll(*f)) out.push_back(f);
  }
  return out;
}

// ep_loop_check(): whether `from` reaches `to` through watched epoll files,
// or the nesting is deeper than Linux allows.
bool ReachesOrTooDeep(EpollFile& from, const FileDescription* to, int depth) {
  if (depth > kMaxNests) return true;
  for (const auto& f : from.WatchedEpolls()) {
    if (f.get() == to) return true;
    if (ReachesOrTooDeep(static_cast<EpollFile&>(*f), to, depth + 1)) return true;
  }
  return false;
}

Result<void> EpollFile::Ctl(int op, int fd, const std::shared_ptr<FileDescription>& target, EpollEvent ev) {
  std::optional<absl::MutexLock> nest;
  if (op == EPOLL_CTL_ADD && IsEpoll(*target)) {
    nest.emplace(&nest_mu);
    if (ReachesOrTooDeep(static_cast<EpollFile&>(*target), this, 1)) return Errno::kELOOP;
  }
  absl::MutexLock l(&mu_);
  // Items of released files go first: a new file may reuse the address.
  SweepLocked();
  const Key key{fd, target.get()};
  auto it = items_.find(key);
  if (it != items_.end() && it->second->file.expired()) {  // released, not yet noted
    it->second->linked = false;
    items_.erase(it);
    it = items_.end();
  }
  switch (op) {
    case EPOLL_CTL_ADD: {
      if (it != items_.end()) return Errno::kEEXIST;
      auto item = std::make_shared<Item>(this, fd, target);
      item->events = ev.events | EPOLLERR | EPOLLHUP;
      item->data = ev.data;
      item->NewWaiter();
      items_[key] = item;
      target->AddWatch(item);
      // ep_insert(): an item already ready goes on the ready list now.
      if (target->Readiness(item->events & ~kPrivateBits) != 0) MarkReady(item.get());
      return {};
    }
    case EPOLL_CTL_DEL: {
      if (it == items_.end()) return Errno::kENOENT;
      std::shared_ptr<Item> item = std::move(it->second);
      items_.erase(it);
      item->linked = false;
      target->RemoveWatch(item.get());
      return {};
    }
    case EPOLL_CTL_MOD: {
      if (it == items_.end()) return Errno::kENOENT;
      std::shared_ptr<Item> item = it->second;
      if (item->events & EPOLLEXCLUSIVE) return Errno::kEINVAL;
      target->RemoveWatch(item.get());
      item->events = ev.events | EPOLLERR | EPOLLHUP;
      item->data = ev.data;
      item->NewWaiter();
      target->AddWatch(item);
      if (target->Readiness(item->events & ~kPrivateBits) != 0) MarkReady(item.get());
      return {};
    }
    default:
      return Errno::kEINVAL;
  }
}

std::vector<EpollEvent> EpollFile::Collect(size_t max, bool consume) {
  std::vector<EpollEvent> out;
  absl::MutexLock l(&mu_);
  std::deque<std::shared_ptr<Item>> list;
  {
    absl::MutexLock r(&ready_mu_);
    list.swap(ready_);
    for (auto& item : list) item->in_ready = false;
  }
  std::vector<std::shared_ptr<Item>> keep;
  for (auto& item : list) {
    if (!item->linked) continue;
    if (out.size() >= max) {
      keep.push_back(std::move(item));
      continue;
    }
    std::shared_ptr<FileDescription> f = item->file.lock();
    if (f == nullptr) continue;
    const uint32_t ev = item->events.load();
    const uint64_t mask = ev & ~kPrivateBits;
    const uint64_t r = mask == 0 ? 0 : (f->Readiness(mask) & mask);
    if (r == 0) continue;  // no longer ready: off the list until a wakeup
    out.push_back(EpollEvent{static_cast<uint32_t>(r), item->data});
    if (!consume) {
      keep.push_back(std::move(item));
    } else if (ev & EPOLLONESHOT) {
      item->events = ev & kPrivateBits;  // disabled until EPOLL_CTL_MOD
    } else if (!(ev & EPOLLET)) {
      keep.push_back(std::move(item));  // level-triggered: check again next time
    }
  }
  {
    absl::MutexLock r(&ready_mu_);
    for (auto& item : keep) {
      if (item->in_ready) continue;
      item->in_ready = true;
      ready_.push_back(std::move(item));
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<FileDescription> NewEpoll() { return std::make_shared<EpollFile>(); }

bool IsEpoll(const FileDescription& f) { return dynamic_cast<const EpollFile*>(&f) != nullptr; }

Result<void> EpollCtl(FileDescription& ep, int op, int fd, const std::shared_ptr<FileDescription>& target,
                      EpollEvent ev) {
  return static_cast<EpollFile&>(ep).Ctl(op, fd, target, ev);
}

Result<std::vector<EpollEvent>> EpollWait(sentry::kernel::Task& t, FileDescription& ep, size_t max,
                                          std::optional<absl::Time> deadline) {
  auto& e = static_cast<EpollFile&>(ep);
  std::optional<Waiter> w;
  absl::Cleanup done = [&] {
    if (w.has_value()) e.EventUnregister(&*w);
  };
  while (true) {
    std::vector<EpollEvent> out = e.Collect(max, /*consume=*/true);
    if (!out.empty()) return out;
    if (deadline.has_value() && absl::Now() >= *deadline) return out;
    if (!w.has_value()) {
      w.emplace(t, EPOLLIN | EPOLLRDNORM);
      e.EventRegister(&*w);
      continue;
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok() && b.error() != Errno::kETIMEDOUT) return b.error();
  }
}

}  // namespace fs
