// The line discipline (drivers/tty/n_tty.c) of a pty pair. See tty.h.
#include "fs/tty.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <termios.h>

#include <algorithm>
#include <cctype>

#include "sentry/kernel/kernel.h"

namespace fs {
namespace {

constexpr uint64_t kIn = EPOLLIN | EPOLLRDNORM;
constexpr uint64_t kOut = EPOLLOUT | EPOLLWRNORM;

enum EraseKind { kErase, kWerase, kKill };

// tty_std_termios (drivers/tty/tty_io.c) with the pty replica's defaults.
KTermios StdTermios() {
  KTermios t{};
  t.c_iflag = ICRNL | IXON;
  t.c_oflag = OPOST | ONLCR;
  t.c_cflag = B38400 | CS8 | CREAD | HUPCL;
  t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  // INIT_C_CC: ^C ^\ ^? ^U ^D, VTIME 0, VMIN 1, VSWTC 0, ^Q ^S ^Z, VEOL 0,
  // ^R ^O ^W ^V, VEOL2 0.
  const uint8_t cc[19] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0};
  std::copy(std::begin(cc), std::end(cc), t.c_cc);
  return t;
}

bool IsCtl(uint8_t c) { return c < 0x20 || c == 0x7f; }

}  // namespace

Tty::Tty(uint32_t index, sentry::kernel::Kernel* kernel) : index_(index), kernel_(kernel), termios_(StdTermios()) {}

bool Tty::Canonical() const { return (termios_.c_lflag & ICANON) != 0; }

void Tty::NotifyMaster(uint64_t events) {
  if (master_ != nullptr) master_->NotifyTty(events);
}

void Tty::NotifyReplicas(uint64_t events) {
  for (TtyEnd* e : replicas_) e->NotifyTty(events);
}

void Tty::Send(const std::vector<TtySignal>& sigs) {
  if (kernel_ == nullptr) return;
  for (const TtySignal& s : sigs) {
    if (s.pgid > 0) kernel_->SignalProcessGroup(s.pgid, s.sig);
    if (s.pid > 0) kernel_->SignalProcess(s.pid, s.sig);
  }
}

// ---- Output (replica -> master): n_tty's do_output_char.

void Tty::OutputChar(uint8_t c) {
  const uint32_t o = termios_.c_oflag;
  if (!(o & OPOST)) {
    out_.push_back(static_cast<char>(c));
    return;
  }
  switch (c) {
    case '\n':
      if (o & ONLRET) column_ = 0;
      if (o & ONLCR) {
        column_ = 0;
        out_.append("\r\n");
        return;
      }
      break;
    case '\r':
      if ((o & ONOCR) && column_ == 0) return;
      if (o & OCRNL) {
        c = '\n';
        if (o & ONLRET) column_ = 0;
        break;
      }
      column_ = 0;
      break;
    case '\t':
      if ((o & TABDLY) == XTABS) {
        const uint32_t spaces = 8 - (column_ & 7);
        column_ += spaces;
        out_.append(spaces, ' ');
        return;
      }
      column_ += 8 - (column_ & 7);
      break;
    case '\b':
      if (column_ > 0) --column_;
      break;
    default:
      if (o & OLCUC) c = static_cast<uint8_t>(std::toupper(c));
      if (!IsCtl(c)) ++column_;
      break;
  }
  out_.push_back(static_cast<char>(c));
}

void Tty::Echo(uint8_t c) {
  if ((termios_.c_lflag & ECHOCTL) && IsCtl(c) && c != '\t' && c != '\n' && c != termios_.c_cc[VSTART] &&
      c != termios_.c_cc[VSTOP]) {
    OutputChar('^');
    OutputChar(c ^ 0x40);
    return;
  }
  OutputChar(c);
}

Result<size_t> Tty::ReplicaWrite(std::span<const uint8_t> buf) {
  absl::MutexLock l(&mu_);
  if (master_closed_) return Errno::kEIO;
  if (out_.size() >= kTtyOutputMax) return Errno::kEAGAIN;
  size_t n = 0;
  // ONLCR may double a byte: stop at the limit, never far past it.
  while (n < buf.size() && out_.size() < kTtyOutputMax) OutputChar(buf[n++]);
  if (n > 0) NotifyMaster(kIn);
  return n;
}

Result<size_t> Tty::MasterRead(std::span<uint8_t> buf) {
  absl::MutexLock l(&mu_);
  if (out_.empty() || stopped_) {
    if (replica_opened_ && replicas_.empty() && out_.empty()) return Errno::kEIO;
    if (buf.empty()) return size_t{0};
    return Errno::kEAGAIN;
  }
  const size_t n = std::min(buf.size(), out_.size());
  std::copy_n(out_.data(), n, buf.data());
  out_.erase(0, n);
  if (n > 0) NotifyReplicas(kOut);
  return n;
}

// ---- Input (master -> replica): n_tty_receive_char and friends.

void Tty::PushLine() {
  line_lens_.push_back(in_.size() - canon_head_);
  canon_head_ = in_.size();
}

void Tty::Isig(uint8_t c, int sig, std::vector<TtySignal>* sigs) {
  if (!(termios_.c_lflag & NOFLSH)) {
    in_.clear();
    canon_head_ = 0;
    line_lens_.clear();
    out_.clear();
  }
  stopped_ = false;
  if (termios_.c_lflag & ECHO) Echo(c);
  if (pgrp_ > 0) sigs->push_back({.pgid = pgrp_, .sig = sig});
}

void Tty::Erase(uint8_t c, int kind) {
  const uint32_t lf = termios_.c_lflag;
  if (in_.size() == canon_head_) return;  // nothing on the line
  if (kind == kKill && (!(lf & ECHO) || !(lf & ECHOK) || !(lf & ECHOKE) || !(lf & ECHOE))) {
    in_.resize(canon_head_);
    if (lf & ECHO) {
      Echo(c);
      if (lf & ECHOK) OutputChar('\n');
    }
    return;
  }
  bool seen_word = false;
  while (in_.size() > canon_head_) {
    const uint8_t last = static_cast<uint8_t>(in_.back());
    if (kind == kWerase) {
      const bool alnum = std::isalnum(last) || last == '_';
      if (alnum) seen_word = true;
      else if (seen_word) break;
    }
    in_.pop_back();
    if (lf & ECHO) {
      if (!(lf & ECHOE) && kind == kErase) {
        Echo(c);
      } else {
        const int width = ((lf & ECHOCTL) && IsCtl(last) && last != '\t') ? 2 : 1;
        for (int i = 0; i < width; ++i) out_.append("\b \b");
        column_ = column_ >= static_cast<uint32_t>(width) ? column_ - width : 0;
      }
    }
    if (kind == kErase) break;
  }
}

void Tty::ReceiveChar(uint8_t c, std::vector<TtySignal>* sigs) {
  const uint32_t iflag = termios_.c_iflag;
  const uint32_t lflag = termios_.c_lflag;
  const uint8_t* cc = termios_.c_cc;
  auto is = [&](int idx) { return cc[idx] != _POSIX_VDISABLE && c == cc[idx]; };
  if (iflag & ISTRIP) c &= 0x7f;
  if ((iflag & IUCLC) && (lflag & IEXTEN)) c = static_cast<uint8_t>(std::tolower(c));
  if (lnext_) {
    lnext_ = false;
  } else {
    if (iflag & IXON) {
      if (is(VSTOP)) {
        stopped_ = true;
        return;
      }
      if (is(VSTART)) {
        stopped_ = false;
        NotifyMaster(kIn);
        return;
      }
    }
    if (stopped_ && (iflag & IXANY)) stopped_ = false;
    if (c == '\r') {
      if (iflag & IGNCR) return;
      if (iflag & ICRNL) c = '\n';
    } else if (c == '\n' && (iflag & INLCR)) {
      c = '\r';
    }
    if (lflag & ISIG) {
      if (is(VINTR)) return Isig(c, SIGINT, sigs);
      if (is(VQUIT)) return Isig(c, SIGQUIT, sigs);
      if (is(VSUSP)) return Isig(c, SIGTSTP, sigs);
    }
    if (lflag & ICANON) {
      if (is(VERASE)) return Erase(c, kErase);
      if (is(VKILL)) return Erase(c, kKill);
      if ((lflag & IEXTEN) && is(VWERASE)) return Erase(c, kWerase);
      if ((lflag & IEXTEN) && is(VLNEXT)) {
        lnext_ = true;
        if (lflag & ECHO) {
          // n_tty echoes "^\b" so the next character overwrites the caret.
          if (lflag & ECHOCTL) out_.append("^\b");
        }
        return;
      }
      if ((lflag & IEXTEN) && is(VREPRINT)) {
        if (lflag & ECHO) {
          Echo(c);
          OutputChar('\n');
          for (size_t i = canon_head_; i < in_.size(); ++i) Echo(static_cast<uint8_t>(in_[i]));
        }
        return;
      }
      if (c == '\n' || is(VEOL) || ((lflag & IEXTEN) && is(VEOL2))) {
        if ((lflag & ECHO) || (c == '\n' && (lflag & ECHONL))) Echo(c);
        in_.push_back(static_cast<char>(c));
        PushLine();
        return;
      }
      if (is(VEOF)) {
        PushLine();  // not stored: a read returns the line without it
        return;
      }
    }
  }
  // An ordinary byte. Canonical lines keep one byte of room for the newline.
  const size_t limit = (lflag & ICANON) ? kTtyInputMax - 1 : kTtyInputMax;
  if (in_.size() >= limit) return;  // dropped, as n_tty does when full
  if (lflag & ECHO) Echo(c);
  in_.push_back(static_cast<char>(c));
}

Result<size_t> Tty::MasterWrite(std::span<const uint8_t> buf) {
  std::vector<TtySignal> sigs;
  size_t n = 0;
  {
    absl::MutexLock l(&mu_);
    const bool raw = !Canonical();
    if (raw && in_.size() >= kTtyInputMax && !buf.empty()) return Errno::kEAGAIN;
    const size_t out_before = out_.size();
    for (; n < buf.size(); ++n) {
      if (raw && in_.size() >= kTtyInputMax) break;
      ReceiveChar(buf[n], &sigs);
    }
    if (ReplicaCanRead()) NotifyReplicas(kIn);
    if (out_.size() != out_before || !out_.empty()) NotifyMaster(kIn);
  }
  Send(sigs);
  return n;
}

bool Tty::ReplicaCanRead() const {
  if (Canonical()) return !line_lens_.empty();
  return !in_.empty();
}

Result<size_t> Tty::ReplicaRead(std::span<uint8_t> buf) {
  absl::MutexLock l(&mu_);
  if (!ReplicaCanRead()) {
    if (master_closed_) return size_t{0};  // hung up: hung_up_tty_read
    return Errno::kEAGAIN;
  }
  size_t n = 0;
  if (Canonical()) {
    // At most one line; what does not fit stays for the next read.
    const size_t len = line_lens_.front();
    n = std::min(buf.size(), len);
    std::copy_n(in_.data(), n, buf.data());
    in_.erase(0, n);
    canon_head_ -= n;
    if (n == len) {
      line_lens_.erase(line_lens_.begin());
    } else {
      line_lens_.front() -= n;
    }
  } else {
    n = std::min(buf.size(), in_.size());
    std::copy_n(in_.data(), n, buf.data());
    in_.erase(0, n);
    canon_head_ = std::min(canon_head_, in_.size());
  }
  NotifyMaster(kOut);  // room for the master to write
  return n;
}

uint64_t Tty::MasterReadiness(uint64_t mask) {
  absl::MutexLock l(&mu_);
  uint64_t r = 0;
  if (!out_.empty() && !stopped_) r |= kIn;
  if (!Canonical() ? in_.size() < kTtyInputMax : true) r |= kOut;
  if (replica_opened_ && replicas_.empty()) r |= EPOLLHUP;
  return r & (mask | EPOLLHUP | EPOLLERR);
}

uint64_t Tty::ReplicaReadiness(uint64_t mask) {
  absl::MutexLock l(&mu_);
  uint64_t r = 0;
  if (ReplicaCanRead()) r |= kIn;
  if (out_.size() < kTtyOutputMax) r |= kOut;
  if (master_closed_) r |= EPOLLHUP | kIn | kOut;
  return r & (mask | EPOLLHUP | EPOLLERR);
}

// ---- State.

KTermios Tty::termios() {
  absl::MutexLock l(&mu_);
  return termios_;
}

void Tty::SetTermios(const KTermios& t, bool flush_input) {
  absl::MutexLock l(&mu_);
  const bool was_canon = Canonical();
  termios_ = t;
  if (flush_input) {
    in_.clear();
    canon_head_ = 0;
    line_lens_.clear();
  }
  if (was_canon != Canonical()) {
    // n_tty_set_termios: raw -> canonical makes what is queued one pushed
    // line; canonical -> raw makes everything readable.
    line_lens_.clear();
    canon_head_ = 0;
    if (Canonical() && !in_.empty()) PushLine();
    if (!Canonical()) canon_head_ = in_.size();
  }
  if (!(t.c_iflag & IXON)) stopped_ = false;
  NotifyReplicas(kIn | kOut);
  NotifyMaster(kIn | kOut);
}

WinSize Tty::winsize() {
  absl::MutexLock l(&mu_);
  return winsize_;
}

void Tty::SetWinsize(const WinSize& ws) {
  int32_t pgrp = 0;
  {
    absl::MutexLock l(&mu_);
    if (winsize_ == ws) return;  // tty_do_resize: no signal without a change
    winsize_ = ws;
    pgrp = pgrp_;
  }
  if (pgrp > 0) Send({{.pgid = pgrp, .sig = SIGWINCH}});
}

Result<void> Tty::Flush(int queue) {
  if (queue < 0 || queue > 2) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (queue == TCIFLUSH || queue == TCIOFLUSH) {
    in_.clear();
    canon_head_ = 0;
    line_lens_.clear();
    NotifyMaster(kOut);
  }
  if (queue == TCOFLUSH || queue == TCIOFLUSH) {
    out_.clear();
    NotifyReplicas(kOut);
  }
  return {};
}

size_t Tty::InputAvailable() {
  absl::MutexLock l(&mu_);
  if (!Canonical()) return in_.size();
  size_t n = 0;
  for (size_t len : line_lens_) n += len;
  return n;
}

size_t Tty::OutputQueued() {
  absl::MutexLock l(&mu_);
  return out_.size();
}

void Tty::set_locked(bool v) {
  absl::MutexLock l(&mu_);
  locked_ = v;
}

bool Tty::locked() {
  absl::MutexLock l(&mu_);
  return locked_;
}

int32_t Tty::session() {
  absl::MutexLock l(&mu_);
  return session_;
}

int32_t Tty::foreground_pgrp() {
  absl::MutexLock l(&mu_);
  return pgrp_;
}

void Tty::SetSession(int32_t sid, int32_t pgrp) {
  absl::MutexLock l(&mu_);
  session_ = sid;
  pgrp_ = pgrp;
}

void Tty::SetForegroundPgrp(int32_t pgrp) {
  absl::MutexLock l(&mu_);
  pgrp_ = pgrp;
  // Readers of the old background group may now proceed (or stop).
  NotifyReplicas(kIn | kOut);
}

int32_t Tty::ClearSession() {
  absl::MutexLock l(&mu_);
  const int32_t pgrp = pgrp_;
  session_ = 0;
  pgrp_ = 0;
  return pgrp;
}

// ---- Ends.

void Tty::AttachMaster(TtyEnd* e) {
  absl::MutexLock l(&mu_);
  master_ = e;
}

void Tty::DetachMaster(TtyEnd* e) {
  std::vector<TtySignal> sigs;
  {
    absl::MutexLock l(&mu_);
    if (master_ != e) return;
    master_ = nullptr;
    master_closed_ = true;
    // pty_close -> tty_vhangup of the replica: the session leader gets
    // SIGHUP and SIGCONT and the terminal leaves the session.
    if (session_ > 0) {
      sigs.push_back({.pid = session_, .sig = SIGHUP});
      sigs.push_back({.pid = session_, .sig = SIGCONT});
    }
    session_ = 0;
    pgrp_ = 0;
    NotifyReplicas(kIn | kOut | EPOLLHUP);
  }
  Send(sigs);
}

Result<void> Tty::AttachReplica(TtyEnd* e) {
  absl::MutexLock l(&mu_);
  if (master_closed_ || locked_) return Errno::kEIO;
  replicas_.push_back(e);
  replica_opened_ = true;
  return {};
}

void Tty::DetachReplica(TtyEnd* e) {
  absl::MutexLock l(&mu_);
  std::erase(replicas_, e);
  if (replicas_.empty()) NotifyMaster(kIn | kOut | EPOLLHUP);
}

bool Tty::master_open() {
  absl::MutexLock l(&mu_);
  return !master_closed_;
}

}  // namespace fs
