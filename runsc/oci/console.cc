#include "runsc/oci/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "fmt/format.h"

namespace runsc::oci {
namespace {

absl::Status HostError(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

// utils.SendRawFd in runc: one byte string plus one fd in SCM_RIGHTS.
absl::Status SendFd(int sock, const std::string& name, int fd) {
  struct iovec iov = {const_cast<char*>(name.data()), name.size()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return HostError("sendmsg(console master)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<base::UniqueFd> NewConsole(const std::string& socket_path, uint16_t rows, uint16_t cols) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(fmt::format("--console-socket \"{}\": not a usable socket path", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  base::UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return HostError("posix_openpt (the console)");
  if (grantpt(master.get()) != 0 || unlockpt(master.get()) != 0) return HostError("unlockpt (the console)");
  char name[128];
  if (ptsname_r(master.get(), name, sizeof(name)) != 0) return HostError("ptsname (the console)");
  base::UniqueFd replica(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!replica.valid()) return HostError(fmt::format("open({})", name));
  if (rows != 0 || cols != 0) {
    struct winsize ws = {};
    ws.ws_row = rows;
    ws.ws_col = cols;
    if (ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return HostError("TIOCSWINSZ (process.consoleSize)");
  }
  base::UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return HostError("socket(AF_UNIX)");
  if (connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return HostError(fmt::format("connecting to --console-socket {}", socket_path));
  }
  if (auto s = SendFd(sock.get(), "/dev/ptmx", master.get()); !s.ok()) return s;
  return replica;
}

absl::Status AcquireConsole(int fd) {
  if (ioctl(fd, TIOCSCTTY, 0) != 0) return HostError("TIOCSCTTY (the console)");
  return absl::OkStatus();
}

}  // namespace runsc::oci
