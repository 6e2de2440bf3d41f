#include "fs/pipe.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "fs/inode.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

constexpr size_t kPipePage = 4096;
constexpr size_t kPipeBuf = 4096;  // PIPE_BUF

uint64_t NextPipeIno() {
  // Linux numbers pipefs inodes with get_next_ino(); one counter for the
  // sentry process is as unique as the app can observe.
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

namespace pipe_internal {
class PipeEnd;
}  // namespace pipe_internal
using pipe_internal::PipeEnd;

class Pipe {
 public:
  Pipe(uint32_t uid, uint32_t gid) : ino_(NextPipeIno()), uid_(uid), gid_(gid), ctime_(absl::ToTimespec(absl::Now())) {}

  // Attach returns the writer-open counter after this end's own opens
  // (f_version in fifo_open). `fifo_wait` gets whether the end must wait
  // for a partner (none was open) and the partner counter to watch.
  uint64_t Attach(PipeEnd* e, bool reader, bool writer, uint64_t* partner_since = nullptr,
                  bool* partner_missing = nullptr);
  void Detach(PipeEnd* e, bool reader, bool writer);
  int Readers() {
    absl::MutexLock l(&mu_);
    return readers_;
  }
  // Whether the other side opened since `since` (wait_for_partner).
  bool PartnerOpened(bool reader, uint64_t since) {
    absl::MutexLock l(&mu_);
    return (reader ? w_counter_ : r_counter_) != since;
  }
  Result<size_t> Read(std::span<uint8_t> buf);
  Result<size_t> Write(std::span<const uint8_t> buf, bool packet);
  // `w_version`: Attach's result for this end; a reader sees EPOLLHUP only
  // once a writer has opened since then and all have gone (pipe_poll).
  uint64_t Readiness(bool reader, bool writer, uint64_t mask, uint64_t w_version);
  size_t Available() {
    absl::MutexLock l(&mu_);
    return bytes_;
  }
  uint64_t Size() {
    absl::MutexLock l(&mu_);
    return max_slots_ * kPipePage;
  }
  Result<uint64_t> SetSize(uint64_t size, bool privileged);
  static Result<size_t> Transfer(Pipe& in, Pipe& out, size_t len, bool consume);
  struct stat Stat() const;
  uint64_t ino() const { return ino_; }

 private:
  struct Slot {
    std::vector<uint8_t> data;  // from the start of the "page"
    size_t off = 0;             // bytes already read
    bool packet = false;
    size_t len() const { return data.size() - off; }
  };
  void NotifyLocked(uint64_t events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint64_t ino_;
  const uint32_t uid_, gid_;
  const struct timespec ctime_;
  absl::Mutex mu_;
  std::deque<Slot> slots_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t max_slots_ ABSL_GUARDED_BY(mu_) = kPipeDefaultSize / kPipePage;
  int readers_ ABSL_GUARDED_BY(mu_) = 0;
  int writers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t r_counter_ ABSL_GUARDED_BY(mu_) = 0;  // opens ever, for FIFO waits
  uint64_t w_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<PipeEnd*> ends_ ABSL_GUARDED_BY(mu_);  // open ends, to wake
};

// Not in the anonymous namespace: Pipe (declared in pipe.h) holds
// pointers to it, which GCC flags in unity builds (-Wsubobject-linkage).
namespace pipe_internal {

class PipeEnd final : public FileDescription {
 public:
  PipeEnd(std::shared_ptr<Pipe> pipe, int flags)
      : FileDescription(flags), pipe_(std::move(pipe)), reader_(readable()), writer_(writable()) {}
  // A FIFO's end: fstat and the path are the FIFO inode's.
  PipeEnd(std::shared_ptr<Pipe> pipe, int flags, const fs::Path& at, std::shared_ptr<Inode> shown)
      : PipeEnd(std::move(pipe), flags) {
    at_ = at;
    shown_ = std::move(shown);
  }
  ~PipeEnd() override {
    if (attached_) pipe_->Detach(this, reader_, writer_);
  }

  // After construction: the pipe may wake this end from then on.
  void Attach() {
    w_version_ = pipe_->Attach(this, reader_, writer_, &partner_since_, &partner_missing_);
    attached_ = true;
  }
  void Wake(uint64_t events) { NotifyEvents(events); }
  Pipe& pipe() { return *pipe_; }
  const std::shared_ptr<Pipe>& pipe_ptr() const { return pipe_; }
  bool fifo() const { return shown_ != nullptr; }
  bool reader() const { return reader_; }
  bool partner_missing() const { return partner_missing_; }
  uint64_t partner_since() const { return partner_since_; }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (buf.empty()) return 0;  // before anything else, as pipe_read()
    return pipe_->Read(buf);
  }
  Result<size_t> Write(std::span<const uint8_t> buf) override {
    if (buf.empty()) return 0;
    return pipe_->Write(buf, (flags() & O_DIRECT) != 0);
  }
  Result<struct stat> Stat() override {
    if (shown_ == nullptr) return pipe_->Stat();
    sentry::kernel::Credentials root;
    return shown_->Stat(Caller{&root});
  }
  Result<uint64_t> Ioctl(sentry::mm::MemoryManager& mm, uint64_t cmd, uint64_t arg) override {
    if (cmd != FIONREAD) return Errno::kENOTTY;
    const auto n = static_cast<int32_t>(std::min<size_t>(pipe_->Available(), INT32_MAX));
    TRY(mm.CopyOut(sentry::mm::UserPtr<int32_t>(arg), n));
    return 0;
  }
  std::string Path() const override {
    if (at_.has_value()) return AbsolutePath(*at_);
    return fmt::format("pipe:[{}]", pipe_->ino());
  }
  const fs::Path* location() const override { return at_.has_value() ? &*at_ : nullptr; }

  uint64_t Readiness(uint64_t mask) override { return pipe_->Readiness(reader_, writer_, mask, w_version_); }
  bool Pollable() const override { return true; }
  bool WritesWholeBuffer() const override { return true; }

 private:
  const std::shared_ptr<Pipe> pipe_;
  const bool reader_, writer_;  // by access mode at open
  std::optional<fs::Path> at_;    // FIFOs only
  std::shared_ptr<Inode> shown_;  // FIFOs only
  bool attached_ = false;
  uint64_t w_version_ = 0;
  uint64_t partner_since_ = 0;
  bool partner_missing_ = false;
};

}  // namespace pipe_internal

uint64_t Pipe::Attach(PipeEnd* e, bool reader, bool writer, uint64_t* partner_since, bool* partner_missing) {
  absl::MutexLock l(&mu_);
  ends_.push_back(e);
  readers_ += reader;
  writers_ += writer;
  r_counter_ += reader;
  w_counter_ += writer;
  if (partner_since != nullptr) {
    *partner_since = reader ? w_counter_ : r_counter_;
    *partner_missing = reader ? writers_ == 0 : readers_ == 0;
  }
  // wake_up_partner(): an open waiting for this side may go on, and a
  // writer that saw no reader (EPOLLERR) may write now.
  NotifyLocked(EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM);
  return w_counter_;
}

void Pipe::Detach(PipeEnd* e, bool reader, bool writer) {
  absl::MutexLock l(&mu_);
  ends_.erase(std::remove(ends_.begin(), ends_.end(), e), ends_.end());
  readers_ -= reader;
  writers_ -= writer;
  // pipe_release(): the other side sees EOF / EPIPE.
  uint64_t events = 0;
  if (reader && readers_ == 0) events |= EPOLLOUT | EPOLLWRNORM | EPOLLERR;
  if (writer && writers_ == 0) events |= EPOLLIN | EPOLLRDNORM | EPOLLHUP;
  if (events != 0) NotifyLocked(events);
  // free_pipe_info() on the last close: a FIFO opened again starts empty.
  if (readers_ == 0 && writers_ == 0) {
    slots_.clear();
    bytes_ = 0;
  }
}

void Pipe::NotifyLocked(uint64_t events) {
  for (PipeEnd* e : ends_) e->Wake(events);
}

Result<size_t> Pipe::Read(std::span<uint8_t> buf) {
  absl::MutexLock l(&mu_);
  if (slots_.empty()) {
    if (writers_ == 0) return 0;
    return Errno::kEAGAIN;
  }
  const size_t slots_before = slots_.size();
  size_t total = 0;
  while (total < buf.size() && !slots_.empty()) {
    Slot& s = slots_.front();
    const size_t n = std::min(s.len(), buf.size() - total);
    std::memcpy(buf.data() + total, s.data.data() + s.off, n);
    total += n;
    s.off += n;
    bytes_ -= n;
    if (s.packet) {
      // A packet is read whole or its rest is discarded (pipe_read()).
      bytes_ -= s.len();
      slots_.pop_front();
      break;
    }
    if (s.len() == 0) slots_.pop_front();
  }
  if (slots_.size() < slots_before) NotifyLocked(EPOLLOUT | EPOLLWRNORM);
  return total;
}

Result<size_t> Pipe::Write(std::span<const uint8_t> buf, bool packet) {
  absl::MutexLock l(&mu_);
  if (readers_ == 0) return Errno::kEPIPE;
  size_t written = 0;
  // pipe_write(): the part of the write beyond whole pages is merged into
  // the last slot if it fits there, so small writes share a slot.
  const size_t chars = buf.size() & (kPipePage - 1);
  if (!packet && chars != 0 && !slots_.empty()) {
    Slot& last = slots_.back();
    if (!last.packet && last.data.size() + chars <= kPipePage) {
      last.data.insert(last.data.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(chars));
      written = chars;
    }
  }
  // Then whole slots, while there is room. A write of up to PIPE_BUF bytes
  // takes one slot, so it is all-or-nothing (atomic).
  while (written < buf.size() && slots_.size() < max_slots_) {
    const size_t n = std::min(kPipePage, buf.size() - written);
    Slot s;
    s.data.reserve(kPipePage);
    s.data.assign(buf.begin() + static_cast<ptrdiff_t>(written), buf.begin() + static_cast<ptrdiff_t>(written + n));
    s.packet = packet;
    slots_.push_back(std::move(s));
    written += n;
  }
  static_assert(kPipeBuf <= kPipePage);
  if (written == 0) return Errno::kEAGAIN;
  bytes_ += written;
  NotifyLocked(EPOLLIN | EPOLLRDNORM);
  return written;
}

uint64_t Pipe::Readiness(bool reader, bool writer, uint64_t mask, uint64_t w_version) {
  absl::MutexLock l(&mu_);
  uint64_t r = 0;
  if (reader) {
    if (!slots_.empty()) r |= EPOLLIN | EPOLLRDNORM;
    if (writers_ == 0 && w_counter_ != w_version) r |= EPOLLHUP;
  }
  if (writer) {
    if (slots_.size() < max_slots_) r |= EPOLLOUT | EPOLLWRNORM;
    if (readers_ == 0) r |= EPOLLERR;
  }
  return r & (mask | EPOLLERR | EPOLLHUP);
}

Result<uint64_t> Pipe::SetSize(uint64_t size, bool privileged) {
  // round_pipe_size(): at least a page, a power of two, at most 2^31.
  if (size > (1ull << 31)) return Errno::kEINVAL;
  uint64_t rounded = kPipePage;
  while (rounded < size) rounded <<= 1;
  const size_t slots = rounded / kPipePage;
  absl::MutexLock l(&mu_);
  if (slots > max_slots_ && rounded > kPipeMaxSize && !privileged) return Errno::kEPERM;
  if (slots < slots_.size()) return Errno::kEBUSY;
  const bool grew = slots > max_slots_;
  max_slots_ = slots;
  if (grew) NotifyLocked(EPOLLOUT | EPOLLWRNORM);
  return rounded;
}

Result<size_t> Pipe::Transfer(Pipe& in, Pipe& out, size_t len, bool consume) {
  if (&in == &out) return Errno::kEINVAL;
  // Two pipe locks: in address order (never nested otherwise).
  Pipe* first = &in < &out ? &in : &out;
  Pipe* second = &in < &out ? &out : &in;
  absl::MutexLock l1(&first->mu_);
  absl::MutexLock l2(&second->mu_);
  if (out.readers_ == 0) return Errno::kEPIPE;
  if (in.slots_.empty()) return in.writers_ == 0 ? Result<size_t>(0) : Result<size_t>(Errno::kEAGAIN);
  if (out.slots_.size() >= out.max_slots_) return Errno::kEAGAIN;
  size_t done = 0;
  size_t index = 0;
  // Each input buffer becomes one output buffer (splice_pipe_to_pipe and
  // link_pipe in fs/splice.c), the last one possibly split at `len`.
  while (done < len && index < in.slots_.size() && out.slots_.size() < out.max_slots_) {
    Slot& s = in.slots_[index];
    const size_t n = std::min(s.len(), len - done);
    Slot copy;
    copy.data.assign(s.data.begin() + static_cast<ptrdiff_t>(s.off),
                     s.data.begin() + static_cast<ptrdiff_t>(s.off + n));
    copy.packet = s.packet;
    out.slots_.push_back(std::move(copy));
    out.bytes_ += n;
    done += n;
    if (consume) {
      s.off += n;
      in.bytes_ -= n;
      if (s.len() == 0) {
        in.slots_.pop_front();
        continue;  // index stays: the next buffer moved to the front
      }
    }
    ++index;
  }
  if (consume) in.NotifyLocked(EPOLLOUT | EPOLLWRNORM);
  out.NotifyLocked(EPOLLIN | EPOLLRDNORM);
  return done;
}

struct stat Pipe::Stat() const {
  struct stat st {};
  st.st_dev = makedev(0, 14);  // pipefs is an anonymous-device filesystem
  st.st_ino = ino_;
  st.st_mode = S_IFIFO | 0600;
  st.st_nlink = 1;
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_blksize = kPipePage;
  st.st_atim = st.st_mtim = st.st_ctim = ctime_;
  return st;
}

std::shared_ptr<Pipe> NewPipeObject(uint32_t uid, uint32_t gid) { return std::make_shared<Pipe>(uid, gid); }

std::shared_ptr<FileDescription> OpenPipeEnd(std::shared_ptr<Pipe> pipe, int flags) {
  auto end = std::make_shared<PipeEnd>(std::move(pipe), flags);
  end->Attach();
  return end;
}

Result<std::shared_ptr<FileDescription>> OpenFifoEnd(std::shared_ptr<Pipe> pipe, int flags, const Path& at,
                                                     std::shared_ptr<Inode> shown) {
  // fifo_open(): a non-blocking writer needs a reader already there.
  if ((flags & O_ACCMODE) == O_WRONLY && (flags & O_NONBLOCK) && pipe->Readers() == 0) return Errno::kENXIO;
  auto end = std::make_shared<PipeEnd>(std::move(pipe), flags, at, std::move(shown));
  end->Attach();
  return std::shared_ptr<FileDescription>(std::move(end));
}

Result<void> WaitFifoPartner(sentry::kernel::Task& t, FileDescription& f) {
  auto* e = dynamic_cast<PipeEnd*>(&f);
  if (e == nullptr || !e->fifo() || !e->partner_missing()) return {};
  const int acc = f.flags() & O_ACCMODE;
  if (acc == O_RDWR || (f.flags() & O_NONBLOCK)) return {};
  sentry::kernel::Waiter w(t, EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM);
  f.EventRegister(&w);
  absl::Cleanup done = [&] { f.EventUnregister(&w); };
  while (!e->pipe().PartnerOpened(e->reader(), e->partner_since())) {
    Result<void> b = t.Block(w, std::nullopt);
    if (!b.ok()) return b.error() == Errno::kEINTR ? Errno::kERESTARTSYS : b.error();
  }
  return {};
}

PipeEnds NewPipe(int flags, uint32_t uid, uint32_t gid) {
  std::shared_ptr<Pipe> p = NewPipeObject(uid, gid);
  const int extra = flags & (O_NONBLOCK | O_DIRECT);
  return {OpenPipeEnd(p, O_RDONLY | extra), OpenPipeEnd(p, O_WRONLY | extra)};
}

bool IsPipe(const FileDescription& f) { return dynamic_cast<const PipeEnd*>(&f) != nullptr; }

namespace {

// The anonymous pipe's inode as /proc/<pid>/fd/N reaches it: stat is the
// pipe's, open a new end (fifo_open: reopening a pipe never waits here, as
// an open end of the wanted kind or its partner already exists).
class PipeReopen final : public Inode {
 public:
  explicit PipeReopen(std::shared_ptr<Pipe> pipe) : pipe_(std::move(pipe)) {}
  uint32_t mode() const override { return S_IFIFO | 0600; }
  Result<struct stat> Stat(const Caller&) override { return pipe_->Stat(); }
  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path&, int flags) override {
    return OpenPipeEnd(pipe_, flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT));
  }

 private:
  const std::shared_ptr<Pipe> pipe_;
};

}  // namespace

std::shared_ptr<Inode> PipeReopenInode(const FileDescription& f) {
  auto* e = dynamic_cast<const PipeEnd*>(&f);
  if (e == nullptr) return nullptr;
  return std::make_shared<PipeReopen>(e->pipe_ptr());
}

Result<size_t> PipeToPipe(FileDescription& in, FileDescription& out, size_t len, bool consume) {
  auto* i = dynamic_cast<PipeEnd*>(&in);
  auto* o = dynamic_cast<PipeEnd*>(&out);
  if (i == nullptr || o == nullptr) return Errno::kEINVAL;
  return Pipe::Transfer(i->pipe(), o->pipe(), len, consume);
}

Result<uint64_t> PipeFcntl(FileDescription& f, int cmd, uint64_t arg, bool privileged) {
  auto* end = dynamic_cast<PipeEnd*>(&f);
  if (end == nullptr) return Errno::kEBADF;
  if (cmd == F_GETPIPE_SZ) return end->pipe().Size();
  if (cmd == F_SETPIPE_SZ) return end->pipe().SetSize(static_cast<uint32_t>(arg), privileged);
  return Errno::kEINVAL;
}

}  // namespace fs
