// TtyConsole: the sandbox's terminal when its stdio is a host terminal
// (`runsc do` in a terminal, an OCI container with process.terminal). The
// app gets a replica of a sentry pty (/dev/pts/0 as in a runc container)
// as its controlling terminal, so the line discipline, ^C/^Z/^\ and job
// control all happen inside the sandbox; one sentry thread copies bytes
// between the pty's master and the host terminal, which the CLI has put in
// raw mode. Nothing the app does reaches the host terminal but bytes: no
// termios ioctl is forwarded.
#ifndef FS_TTY_CONSOLE_H_
#define FS_TTY_CONSOLE_H_

#include <atomic>
#include <memory>
#include <thread>

#include "base/result.h"
#include "base/unique_fd.h"
#include "fs/file_description.h"
#include "fs/tty.h"

namespace fs {

class TtyConsole {
 public:
  // Starts copying between `master` (a ptmx file of the sandbox) and the
  // host terminal: input from `host_in`, output to `host_out` (may be the
  // same fd). Takes the host window size now and on each Resize().
  static Result<std::unique_ptr<TtyConsole>> Start(std::shared_ptr<FileDescription> master, base::UniqueFd host_in,
                                                   base::UniqueFd host_out);
  ~TtyConsole();  // Finish()
  // The host terminal's size changed (SIGWINCH): the app's terminal gets
  // it, and its foreground group SIGWINCH.
  void Resize();
  // Copies out what the app wrote and not yet shown, then stops the thread
  // (before the sentry exits, so the last output is not lost).
  void Finish();

 private:
  TtyConsole(std::shared_ptr<FileDescription> master, Tty* tty, base::UniqueFd in, base::UniqueFd out,
             base::UniqueFd wake);
  void Loop();
  // Master -> host until the master has nothing; false once the replicas
  // are all closed (EIO) or the host refuses.
  bool CopyOut();
  void Wake();
  // The host terminal went away: close our master, so the sandbox's
  // session leader gets SIGHUP and the replica reads 0 (pty_close).
  void HangUp();

  // The loop thread's alone (and the destructor's after it): reset when
  // the host side hangs up, so the app's terminal is hung up too.
  std::shared_ptr<FileDescription> master_;
  Tty* const tty_;  // kept alive by tty_ref_
  const std::shared_ptr<Tty> tty_ref_;
  base::UniqueFd in_, out_, wake_;
  std::unique_ptr<sentry::kernel::Waiter> waiter_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace fs

#endif  // FS_TTY_CONSOLE_H_
