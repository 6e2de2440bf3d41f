// Pseudo-terminals: one Tty is a master/replica pair with the line
// discipline between them, after Linux's drivers/tty/n_tty.c and pty.c.
// Bytes the master writes go through input processing (ICRNL, ISIG, echo,
// canonical line editing) into the replica's input; bytes the replica
// writes go through output processing (OPOST, ONLCR) to the master. The
// replica's termios and window size are the pair's (TCGETS on the master
// reads them, as Linux's tty_pair_get_tty does).
//
// Sessions: the Tty records the session it is the controlling terminal of
// and its foreground process group. A process's controlling terminal is
// the Tty whose session is the process's session (Linux keeps a pointer
// per process; the difference is only visible to a non-leader's TIOCNOTTY,
// see TODO below).
//
// Reads and writes never block here: they return EAGAIN and the files in
// fs/tty_file.cc wait through Task::Block. Signals are sent with no Tty
// lock held. Lock order: Tty::mu_ > a tty file's waiter queue.
#ifndef FS_TTY_H_
#define FS_TTY_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/result.h"
#include "fs/file_description.h"

namespace sentry::kernel {
class Kernel;
class Task;
}  // namespace sentry::kernel

namespace fs {

// struct termios of the kernel ABI (asm-generic/termbits.h): TCGETS/TCSETS.
struct KTermios {
  uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};
static_assert(sizeof(KTermios) == 36);

struct WinSize {
  uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
  bool operator==(const WinSize&) const = default;
};

// Linux's N_TTY_BUF_SIZE: the most input the replica queues.
constexpr size_t kTtyInputMax = 4096;
// Output queued for the master (the pty buffer), before a replica write waits.
constexpr size_t kTtyOutputMax = 65536;

// A signal the line discipline wants sent once its lock is dropped.
struct TtySignal {
  int32_t pgid = 0;  // to a process group, or
  int32_t pid = 0;   // to one process
  int sig = 0;
};

class Tty;

// An open end of a Tty: the master (ptmx) or a replica (/dev/pts/N). The
// Tty notifies open ends of readiness changes (see fs/tty_file.cc).
class TtyEnd {
 public:
  virtual ~TtyEnd() = default;
  virtual void NotifyTty(uint64_t events) = 0;
};

class Tty : public std::enable_shared_from_this<Tty> {
 public:
  // `kernel` may be null (unit tests): no signals are sent.
  Tty(uint32_t index, sentry::kernel::Kernel* kernel);
  uint32_t index() const { return index_; }
  sentry::kernel::Kernel* kernel() const { return kernel_; }

  // ---- Data (never blocking: EAGAIN when nothing can be done now).
  // The master's write: input processing into the replica's input queue.
  // Returns the bytes taken (all in canonical mode: overflow is dropped, as
  // Linux does; in raw mode up to the free room).
  Result<size_t> MasterWrite(std::span<const uint8_t> buf);
  // What the replica wrote (and echoes). EIO once every replica is closed
  // and nothing is left.
  Result<size_t> MasterRead(std::span<uint8_t> buf);
  // The replica's read: one line in canonical mode (0 at VEOF on an empty
  // line), otherwise what is queued. 0 (end of file) once the master closed.
  Result<size_t> ReplicaRead(std::span<uint8_t> buf);
  // Output processing into the master's queue; EIO after the master closed.
  Result<size_t> ReplicaWrite(std::span<const uint8_t> buf);
  uint64_t MasterReadiness(uint64_t mask);
  uint64_t ReplicaReadiness(uint64_t mask);

  // ---- State shared by both ends.
  KTermios termios();
  // TCSETS*: `flush_input` for TCSETSF.
  void SetTermios(const KTermios& t, bool flush_input);
  WinSize winsize();
  // TIOCSWINSZ: SIGWINCH to the foreground group if the size changed.
  void SetWinsize(const WinSize& ws);
  // TCFLSH: 0 input, 1 output, 2 both (as the replica sees them).
  Result<void> Flush(int queue);
  // FIONREAD: readable bytes for that end.
  size_t InputAvailable();
  size_t OutputQueued();
  // TIOCSPTLCK / TIOCGPTLCK: a locked replica cannot be opened (EIO).
  void set_locked(bool l);
  bool locked();
  // TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID: see tty_file.cc.
  int32_t session();
  int32_t foreground_pgrp();
  void SetSession(int32_t sid, int32_t pgrp);
  void SetForegroundPgrp(int32_t pgrp);
  // Forgets the session; returns the foreground group it had.
  int32_t ClearSession();

  // ---- Ends. A replica can be opened while the master lives and the
  // pair is unlocked (EIO otherwise).
  void AttachMaster(TtyEnd* e);
  void DetachMaster(TtyEnd* e);  // hangup of the replicas
  Result<void> AttachReplica(TtyEnd* e);
  void DetachReplica(TtyEnd* e);
  bool master_open();

  // Sends signals collected under the lock.
  void Send(const std::vector<TtySignal>& sigs);

 private:
  bool Canonical() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One input byte through n_tty_receive_char and friends.
  void ReceiveChar(uint8_t c, std::vector<TtySignal>* sigs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Isig(uint8_t c, int sig, std::vector<TtySignal>* sigs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Canonical line editing: VERASE, VWERASE, VKILL.
  void Erase(uint8_t c, int kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Echo of an input byte (ECHOCTL shows control characters as ^X).
  void Echo(uint8_t c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One output byte with OPOST processing into out_.
  void OutputChar(uint8_t c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes the line being edited (canonical mode).
  void PushLine() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a replica read would find something (or EOF) now.
  bool ReplicaCanRead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyMaster(uint64_t events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyReplicas(uint64_t events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t index_;
  sentry::kernel::Kernel* const kernel_;
  absl::Mutex mu_;
  KTermios termios_ ABSL_GUARDED_BY(mu_);
  WinSize winsize_ ABSL_GUARDED_BY(mu_){};
  // The replica's input: in_[0, canon_head_) holds completed lines (their
  // lengths in line_lens_, a 0 length is an end-of-file); the rest is the
  // line being edited. In raw mode everything is readable.
  std::string in_ ABSL_GUARDED_BY(mu_);
  size_t canon_head_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> line_lens_ ABSL_GUARDED_BY(mu_);
  bool lnext_ ABSL_GUARDED_BY(mu_) = false;   // VLNEXT seen: next byte is literal
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // VSTOP (IXON): output held
  // Output for the master (processed replica writes and echoes).
  std::string out_ ABSL_GUARDED_BY(mu_);
  uint32_t column_ ABSL_GUARDED_BY(mu_) = 0;
  bool locked_ ABSL_GUARDED_BY(mu_) = true;  // ptmx opens locked (unlockpt)
  int32_t session_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t pgrp_ ABSL_GUARDED_BY(mu_) = 0;
  TtyEnd* master_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool master_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<TtyEnd*> replicas_ ABSL_GUARDED_BY(mu_);
  bool replica_opened_ ABSL_GUARDED_BY(mu_) = false;  // ever: then the master sees EIO/HUP when none is open
};

}  // namespace fs

#endif  // FS_TTY_H_
