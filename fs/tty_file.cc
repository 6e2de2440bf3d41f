// The open ends of a pty pair: the master (ptmx) and replicas (/dev/pts/N,
// /dev/tty), their terminal ioctls (drivers/tty/tty_io.c, tty_ioctl.c,
// tty_jobctrl.c, pty.c), job control, and the replica's blocking reads
// with VMIN/VTIME (n_tty_read), all waiting through Task::Block.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "fs/devpts.h"
#include "fs/synthetic.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

using sentry::kernel::Task;
using sentry::kernel::Waiter;
using sentry::mm::UserPtr;

constexpr uint64_t kTtyReadEvents = EPOLLIN | EPOLLRDNORM | EPOLLHUP | EPOLLERR;
constexpr uint64_t kTtyWriteEvents = EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLERR;

Errno Interrupted(Errno e) { return e == Errno::kEINTR ? Errno::kERESTARTSYS : e; }

// __tty_check_change (tty_jobctrl.c): a process of the terminal's session
// that is not in the foreground group gets `sig` (SIGTTIN for reads,
// SIGTTOU for writes under TOSTOP and for settings changes) and the call
// restarts once it is continued; EIO if it ignores or blocks SIGTTIN, or
// its group is orphaned. Ignoring or blocking SIGTTOU lets the call go on.
Result<void> CheckChange(Task& t, Tty& tty, int sig) {
  sentry::kernel::ThreadGroup& tg = t.thread_group();
  if (tty.session() == 0 || tty.session() != tg.sid.load() || tg.no_ctty) return {};  // not our controlling terminal
  const int32_t fg = tty.foreground_pgrp();
  const int32_t pgid = tg.pgid.load();
  if (fg == 0 || fg == pgid) return {};
  bool ignored = (t.signal_mask() & sentry::kernel::SigBit(sig)) != 0;
  {
    absl::MutexLock l(&t.sighand().mu);
    ignored = ignored || t.sighand().actions[sig - 1].handler == 1;  // SIG_IGN
  }
  if (ignored) return sig == SIGTTIN ? Result<void>(Errno::kEIO) : Result<void>();
  if (t.kernel().IsProcessGroupOrphaned(pgid)) return Errno::kEIO;
  t.kernel().SignalProcessGroup(pgid, sig);
  return Errno::kERESTARTSYS;
}

// The ends share this: the pair's ioctls, as tty_ioctl() applies them to
// the replica (tty_pair_get_tty) whichever end they come through.
class TtyFileBase : public VfsFile, public TtyEnd {
 public:
  TtyFileBase(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::shared_ptr<Tty> tty,
              std::shared_ptr<Devpts> devpts, bool master)
      : VfsFile(std::move(at), std::move(inode), flags), tty_(std::move(tty)), devpts_(std::move(devpts)),
        master_(master) {}
  void NotifyTty(uint64_t events) override { NotifyEvents(events); }
  bool Pollable() const override { return true; }
  bool WritesWholeBuffer() const override { return true; }
  Result<uint64_t> Ioctl(sentry::mm::MemoryManager&, uint64_t, uint64_t) override { return Errno::kENOTTY; }
  Result<uint64_t> TaskIoctl(Task& t, uint64_t cmd, uint64_t arg) override;
  Tty& tty() { return *tty_; }

 protected:
  const std::shared_ptr<Tty> tty_;
  const std::shared_ptr<Devpts> devpts_;
  const bool master_;

 private:
  Result<uint64_t> SetCtty(Task& t, uint64_t arg);
  Result<uint64_t> NoCtty(Task& t);
  // TIOCGPTPEER: a replica of this pair opened with `flags`.
  Result<uint64_t> OpenPeer(Task& t, uint64_t flags);
};

class TtyMasterFile final : public TtyFileBase {
 public:
  TtyMasterFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::shared_ptr<Tty> tty,
                std::shared_ptr<Devpts> devpts)
      : TtyFileBase(std::move(at), std::move(inode), flags, std::move(tty), std::move(devpts), true) {
    tty_->AttachMaster(this);
  }
  ~TtyMasterFile() override { tty_->DetachMaster(this); }
  Result<size_t> Read(std::span<uint8_t> buf) override { return tty_->MasterRead(buf); }
  Result<size_t> Write(std::span<const uint8_t> buf) override { return tty_->MasterWrite(buf); }
  uint64_t Readiness(uint64_t mask) override { return tty_->MasterReadiness(mask); }
};

class TtyReplicaFile final : public TtyFileBase {
 public:
  using TtyFileBase::TtyFileBase;
  ~TtyReplicaFile() override { tty_->DetachReplica(this); }
  Result<size_t> Read(std::span<uint8_t> buf) override { return tty_->ReplicaRead(buf); }
  Result<size_t> Write(std::span<const uint8_t> buf) override { return tty_->ReplicaWrite(buf); }
  uint64_t Readiness(uint64_t mask) override { return tty_->ReplicaReadiness(mask); }
  bool OwnBlocking() const override { return true; }
  Result<size_t> TaskRead(Task& t, std::span<uint8_t> buf) override;
  Result<size_t> TaskWrite(Task& t, std::span<const uint8_t> buf) override;
};

Result<size_t> TtyReplicaFile::TaskRead(Task& t, std::span<uint8_t> buf) {
  TRY(CheckChange(t, *tty_, SIGTTIN));
  const KTermios tm = tty_->termios();
  const bool canon = (tm.c_lflag & ICANON) != 0;
  const bool nonblock = (flags() & O_NONBLOCK) != 0;
  // n_tty_read: VMIN bytes (at most the buffer), VTIME in tenths of a
  // second: with VMIN > 0 an inter-byte timer started by the first byte,
  // with VMIN == 0 a timer for the whole read.
  const size_t vmin = canon ? 1 : tm.c_cc[VMIN];
  const absl::Duration vtime = absl::Milliseconds(100) * static_cast<int>(canon ? 0 : tm.c_cc[VTIME]);
  const size_t minimum = std::min<size_t>(vmin == 0 ? 1 : vmin, buf.size());
  std::optional<absl::Time> deadline;
  bool no_wait = false;  // VMIN == VTIME == 0: return what is there
  if (!canon && vmin == 0) {
    if (vtime == absl::ZeroDuration()) no_wait = true;
    else deadline = absl::Now() + vtime;
  }
  if (buf.empty()) return size_t{0};
  std::optional<Waiter> w;
  absl::Cleanup done_waiting = [&] {
    if (w.has_value()) EventUnregister(&*w);
  };
  size_t done = 0;
  while (true) {
    Result<size_t> r = tty_->ReplicaRead(buf.subspan(done));
    if (r.ok()) {
      if (canon) return r.value();  // one line (or 0: end of file)
      done += r.value();
      if (done >= minimum) return done;
      if (r.value() > 0 && vmin > 0 && vtime > absl::ZeroDuration()) deadline = absl::Now() + vtime;
      continue;
    }
    if (r.error() != Errno::kEAGAIN) {
      if (done > 0) return done;
      return r.error();
    }
    if (no_wait) return done;
    if (nonblock) {
      if (done > 0) return done;
      return Errno::kEAGAIN;
    }
    if (!w.has_value()) {
      w.emplace(t, kTtyReadEvents);
      EventRegister(&*w);
      continue;  // registered: check again before sleeping
    }
    Result<void> b = t.Block(*w, deadline);
    if (!b.ok()) {
      if (b.error() == Errno::kETIMEDOUT) return done;
      if (done > 0) return done;
      return Interrupted(b.error());
    }
  }
}

Result<size_t> TtyReplicaFile::TaskWrite(Task& t, std::span<const uint8_t> buf) {
  if (tty_->termios().c_lflag & TOSTOP) TRY(CheckChange(t, *tty_, SIGTTOU));
  std::optional<Waiter> w;
  absl::Cleanup done_waiting = [&] {
    if (w.has_value()) EventUnregister(&*w);
  };
  size_t written = 0;
  while (true) {
    Result<size_t> r = tty_->ReplicaWrite(buf.subspan(written));
    if (r.ok()) {
      written += r.value();
      if (written == buf.size()) return written;
      continue;
    }
    if (r.error() != Errno::kEAGAIN || (flags() & O_NONBLOCK)) {
      if (written > 0) return written;
      return r.error();
    }
    if (!w.has_value()) {
      w.emplace(t, kTtyWriteEvents);
      EventRegister(&*w);
      continue;
    }
    Result<void> b = t.Block(*w, std::nullopt);
    if (!b.ok()) {
      if (written > 0) return written;
      return Interrupted(b.error());
    }
  }
}

Result<uint64_t> TtyFileBase::SetCtty(Task& t, uint64_t arg) {
  sentry::kernel::ThreadGroup& tg = t.thread_group();
  const int32_t sid = tg.sid.load();
  // tiocsctty: already ours is fine; otherwise a session leader without a
  // controlling terminal, on a terminal no other session holds (unless a
  // privileged caller steals it with arg 1), opened for reading.
  if (sid == tg.pid && tty_->session() == sid) return 0;
  if (sid != tg.pid || devpts_->TtyOfSession(sid) != nullptr) return Errno::kEPERM;
  // Stealing another session's terminal (arg 1) and taking one opened
  // write-only need CAP_SYS_ADMIN; the old session just loses it
  // (session_clear_tty: no signals).
  const bool privileged = t.creds().HasCap(CAP_SYS_ADMIN);
  if (tty_->session() != 0 && !(arg == 1 && privileged)) return Errno::kEPERM;
  if (!readable() && !privileged) return Errno::kEPERM;
  tty_->SetSession(sid, tg.pgid.load());
  tg.no_ctty = false;
  return 0;
}

Result<uint64_t> TtyFileBase::NoCtty(Task& t) {
  sentry::kernel::ThreadGroup& tg = t.thread_group();
  if (tty_->session() == 0 || tty_->session() != tg.sid.load() || tg.no_ctty) return Errno::kENOTTY;
  // tiocnotty: a process that does not lead its session only detaches
  // itself (proc_clear_tty); the session keeps its terminal.
  if (tg.sid.load() != tg.pid) {
    tg.no_ctty = true;
    return 0;
  }
  // disassociate_ctty(0): the foreground group gets SIGHUP and SIGCONT.
  const int32_t fg = tty_->ClearSession();
  if (fg > 0) tty_->Send({{.pgid = fg, .sig = SIGHUP}, {.pgid = fg, .sig = SIGCONT}});
  return 0;
}

Result<uint64_t> TtyFileBase::OpenPeer(Task& t, uint64_t flags) {
  constexpr uint64_t kAllowed = O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  if (flags & ~kAllowed) return Errno::kEINVAL;
  const fs::Path* at = location();
  if (at == nullptr || at->dentry->parent() == nullptr) return Errno::kEIO;
  const Caller c = CallerOf(t);
  std::shared_ptr<Dentry> d = TRY(at->dentry->parent()->LookupChild(c, std::to_string(tty_->index())));
  const fs::Path peer{at->mount, d};
  std::shared_ptr<FileDescription> f = TRY(
      devpts_->OpenReplica(c, peer, d->inode(), static_cast<int>(flags & ~O_CLOEXEC) | O_NOCTTY, tty_));
  const int fd = TRY(t.fds().Install(std::move(f), (flags & O_CLOEXEC) != 0));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> TtyFileBase::TaskIoctl(Task& t, uint64_t cmd, uint64_t arg) {
  sentry::mm::MemoryManager& mm = t.mm();
  sentry::kernel::ThreadGroup& tg = t.thread_group();
  // Whether the caller's controlling terminal is this pair (tty_ioctl's
  // current->signal->tty == real_tty; the master end skips the check for
  // the read-only requests, as Linux does).
  auto is_ctty = [&] { return tty_->session() != 0 && tty_->session() == tg.sid.load() && !tg.no_ctty; };
  switch (cmd) {
    case TCGETS: {
      TRY(mm.CopyOut(UserPtr<KTermios>(arg), tty_->termios()));
      return 0;
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      TRY(CheckChange(t, *tty_, SIGTTOU));
      const KTermios tm = TRY(mm.CopyIn(UserPtr<KTermios>(arg)));
      // TCSETSW/TCSETSF wait for output to drain; the master's reader takes
      // it whenever it likes, so like a pty with a slow reader we do not.
      tty_->SetTermios(tm, cmd == TCSETSF);
      return 0;
    }
    case TIOCGWINSZ: {
      const WinSize ws = tty_->winsize();
      TRY(mm.CopyOut(UserPtr<WinSize>(arg), ws));
      return 0;
    }
    case TIOCSWINSZ: {
      const WinSize ws = TRY(mm.CopyIn(UserPtr<WinSize>(arg)));
      tty_->SetWinsize(ws);
      return 0;
    }
    case FIONREAD: {
      const size_t n = master_ ? tty_->OutputQueued() : tty_->InputAvailable();
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), static_cast<int32_t>(n)));
      return 0;
    }
    case TIOCOUTQ: {
      const size_t n = master_ ? 0 : tty_->OutputQueued();
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), static_cast<int32_t>(n)));
      return 0;
    }
    case TCFLSH: {
      TRY(CheckChange(t, *tty_, SIGTTOU));
      int queue = static_cast<int>(arg);
      if (master_ && queue != TCIOFLUSH) queue = queue == TCIFLUSH ? TCOFLUSH : TCIFLUSH;  // the master's view
      TRY(tty_->Flush(queue));
      return 0;
    }
    case TCSBRK:
    case TCSBRKP:
    case TCXONC:
      return 0;  // tcdrain/tcsendbreak/tcflow: nothing to wait for or send on a pty
    case TIOCGETD: {
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), int32_t{0}));  // N_TTY
      return 0;
    }
    case TIOCSETD: {
      const int32_t ld = TRY(mm.CopyIn(UserPtr<int32_t>(arg)));
      if (ld != 0) return Errno::kEINVAL;
      return 0;
    }
    case TIOCEXCL:
    case TIOCNXCL:
      return 0;
    case TIOCSCTTY:
      return SetCtty(t, arg);
    case TIOCNOTTY:
      return NoCtty(t);
    case TIOCGPGRP: {
      if (!master_ && !is_ctty()) return Errno::kENOTTY;
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), tty_->foreground_pgrp()));
      return 0;
    }
    case TIOCSPGRP: {
      TRY(CheckChange(t, *tty_, SIGTTOU));
      if (!is_ctty()) return Errno::kENOTTY;
      const int32_t pgrp = TRY(mm.CopyIn(UserPtr<int32_t>(arg)));
      if (pgrp < 0) return Errno::kEINVAL;
      TRY(t.kernel().CheckProcessGroupInSession(pgrp, tg.sid.load()));
      tty_->SetForegroundPgrp(pgrp);
      return 0;
    }
    case TIOCGSID: {
      if (!master_ && !is_ctty()) return Errno::kENOTTY;
      const int32_t sid = tty_->session();
      if (sid == 0) return Errno::kENOTTY;
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), sid));
      return 0;
    }
    default:
      break;
  }
  if (!master_) return Errno::kENOTTY;
  switch (cmd) {  // pty_unix98_ioctl: the master only
    case TIOCGPTN: {
      TRY(mm.CopyOut(UserPtr<uint32_t>(arg), tty_->index()));
      return 0;
    }
    case TIOCSPTLCK: {
      const int32_t lock = TRY(mm.CopyIn(UserPtr<int32_t>(arg)));
      tty_->set_locked(lock != 0);
      return 0;
    }
    case TIOCGPTLCK: {
      TRY(mm.CopyOut(UserPtr<int32_t>(arg), int32_t{tty_->locked() ? 1 : 0}));
      return 0;
    }
    case TIOCGPTPEER:
      return OpenPeer(t, arg);
    default:
      return Errno::kENOTTY;
  }
}

}  // namespace

Tty* TtyOfFile(FileDescription& f) {
  auto* t = dynamic_cast<TtyFileBase*>(&f);
  return t != nullptr ? &t->tty() : nullptr;
}

Result<std::shared_ptr<FileDescription>> Devpts::OpenMaster(const Caller& c, const Path& at,
                                                            std::shared_ptr<Inode> inode, int flags) {
  // devpts_pty_new: current_fsuid()/current_fsgid() unless the mount says.
  const uint32_t uid = c.creds != nullptr ? c.creds->fsuid : 0;
  const uint32_t gid = c.creds != nullptr ? c.creds->fsgid : 0;
  std::shared_ptr<Tty> tty = TRY(NewTty(c.kernel, uid, gid));
  return std::shared_ptr<FileDescription>(
      std::make_shared<TtyMasterFile>(at, std::move(inode), flags & ~O_NOCTTY, std::move(tty), shared_from_this()));
}

Result<std::shared_ptr<FileDescription>> Devpts::OpenReplica(const Caller& c, const Path& at,
                                                             std::shared_ptr<Inode> inode, int flags,
                                                             std::shared_ptr<Tty> tty) {
  auto f = std::make_shared<TtyReplicaFile>(at, std::move(inode), flags & ~O_NOCTTY, tty, shared_from_this(), false);
  TRY(tty->AttachReplica(f.get()));
  // tty_open_proc_set_tty: a session leader without a controlling
  // terminal that opens one for reading (without O_NOCTTY) acquires it.
  sentry::kernel::ThreadGroup* tg = c.thread_group;
  if (tg != nullptr && !(flags & O_NOCTTY) && f->readable()) {
    const int32_t sid = tg->sid.load();
    if (sid == tg->pid && tty->session() == 0 && TtyOfSession(sid) == nullptr) tty->SetSession(sid, tg->pgid.load());
  }
  return std::shared_ptr<FileDescription>(std::move(f));
}

}  // namespace fs
