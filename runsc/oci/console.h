// Consoles for process.terminal (runc's --console-socket protocol): the
// runtime makes a host pty, sends its master to the engine over the unix
// socket the engine named, and the pty's replica becomes the container's
// stdio. Inside the sandbox that host terminal is bridged to the sandbox's
// own /dev/pts/0 (fs/tty_console.h), as for `runsc do` in a terminal.
//
// For `exec -t --console-socket S`: call NewConsole(S, size) the same way
// and give the returned replica to the exec'd process as fds 0-2.
#ifndef RUNSC_OCI_CONSOLE_H_
#define RUNSC_OCI_CONSOLE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace runsc::oci {

// Opens a host pty (/dev/ptmx), sets its window size to rows x cols (both
// 0: left at the host default), connects to the unix socket `socket_path`
// and sends the master with SCM_RIGHTS, the message's bytes being the
// master's name as runc sends it (utils.SendFile: "/dev/ptmx"); containerd,
// podman (conmon) and crun's receivers take that. Returns the replica,
// opened O_RDWR|O_NOCTTY. Errors name the socket or the host call.
absl::StatusOr<base::UniqueFd> NewConsole(const std::string& socket_path, uint16_t rows, uint16_t cols);

// In the process that will own the console (a new session's leader, with
// the replica as fd 0): makes it the controlling terminal, so the host's
// SIGWINCH reaches the sandbox and runsc do sees a foreground terminal.
absl::Status AcquireConsole(int fd);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_CONSOLE_H_
