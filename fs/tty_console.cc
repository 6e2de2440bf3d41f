#include "fs/tty_console.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

#include "base/logging.h"
#include "fs/devpts.h"

namespace fs {
namespace {

// Writes all of `data` to a (blocking) host fd.
bool HostWriteAll(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TtyConsole>> TtyConsole::Start(std::shared_ptr<FileDescription> master,
                                                      base::UniqueFd host_in, base::UniqueFd host_out) {
  Tty* tty = TtyOfFile(*master);
  if (tty == nullptr) return Errno::kENOTTY;
  base::UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return base::FromHost(errno);
  std::unique_ptr<TtyConsole> c(
      new TtyConsole(std::move(master), tty, std::move(host_in), std::move(host_out), std::move(wake)));
  c->Resize();
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

TtyConsole::TtyConsole(std::shared_ptr<FileDescription> master, Tty* tty, base::UniqueFd in, base::UniqueFd out,
                       base::UniqueFd wake)
    : master_(std::move(master)),
      tty_(tty),
      tty_ref_(tty->shared_from_this()),
      in_(std::move(in)),
      out_(std::move(out)),
      wake_(std::move(wake)) {
  // A task-less waiter: the tty notifies it (under its locks) when the app
  // wrote output or made room for input; the thread then looks again.
  waiter_ = std::make_unique<sentry::kernel::Waiter>([this] { Wake(); }, EPOLLIN | EPOLLOUT | EPOLLHUP);
  master_->EventRegister(waiter_.get());
}

TtyConsole::~TtyConsole() {
  Finish();
  if (master_ != nullptr) master_->EventUnregister(waiter_.get());
}

void TtyConsole::HangUp() {
  master_->EventUnregister(waiter_.get());
  master_.reset();
}

void TtyConsole::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
}

void TtyConsole::Resize() {
  struct winsize ws {};
  if (ioctl(in_.get(), TIOCGWINSZ, &ws) != 0) return;
  tty_->SetWinsize(WinSize{ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel});
}

void TtyConsole::Finish() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  Wake();
  thread_.join();
}

bool TtyConsole::CopyOut() {
  uint8_t buf[4096];
  while (true) {
    Result<size_t> r = master_->Read(buf);
    if (!r.ok()) return r.error() == Errno::kEAGAIN;
    if (r.value() == 0) return true;
    if (!HostWriteAll(out_.get(), buf, r.value())) return false;
  }
}

void TtyConsole::Loop() {
  std::string pending;  // host input the pty had no room for yet
  bool host_open = true;
  while (true) {
    const bool app_open = CopyOut();
    if (stop_.load() || !app_open) return;
    while (!pending.empty()) {
      Result<size_t> w = master_->Write(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(pending.data()), pending.size()));
      if (!w.ok() || w.value() == 0) break;  // full: wait for the app to read
      pending.erase(0, w.value());
    }
    struct pollfd p[2] = {{wake_.get(), POLLIN, 0}, {in_.get(), POLLIN, 0}};
    const bool want_input = host_open && pending.empty();
    if (poll(p, want_input ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      logging::Warn("console: poll: {}", strerror(errno));
      return;
    }
    if (p[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_.get(), &v, sizeof(v));
    }
    if (want_input && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      const ssize_t n = read(in_.get(), buf, sizeof(buf));
      if (n > 0) {
        pending.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        // The host terminal hung up: so does the sandbox's (the session
        // leader gets SIGHUP when the master goes).
        host_open = false;
        logging::Debug("console: host terminal closed");
        HangUp();
        return;
      }
    }
  }
}

}  // namespace fs
