// The gofer file server: serves one rootfs to one sentry over one connected
// unix socket (SOCK_SEQPACKET), until the sentry closes it. The `runsc gofer`
// role calls Serve; tests call it on a thread.
#ifndef GOFER_SERVER_H_
#define GOFER_SERVER_H_

#include <string>

#include "base/unique_fd.h"

namespace gofer {

// Exit codes of Serve.
inline constexpr int kServeOk = 0;            // the peer closed the connection
inline constexpr int kServeProtocolError = 1;  // malformed message: connection dropped
inline constexpr int kServeSetupError = 2;     // root or /proc/self/fd could not be opened

// Serves `root_path` on `sock`. With `read_only`, every mutation and every
// open for writing fails with EROFS. Opens /proc/self/fd once at start (to
// re-open walked files without resolving names; see README.md), so call it
// before any chroot/pivot_root that hides /proc, or use ServeFds.
//
// Process-wide effect: sets the umask to 0, since the sentry sends modes with
// the app's umask already applied.
int Serve(base::UniqueFd sock, const std::string& root_path, bool read_only);

// Like Serve, with the root directory and /proc/self/fd already opened by the
// caller (any fd type; they are re-opened O_PATH). For a gofer that confines
// itself (chroot, seccomp) after opening them.
int ServeFds(base::UniqueFd sock, base::UniqueFd root, base::UniqueFd proc_self_fd, bool read_only);

}  // namespace gofer

#endif  // GOFER_SERVER_H_
