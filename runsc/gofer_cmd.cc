// `runsc gofer`: the file server role. Confines itself (docs/security.md),
// then serves the rootfs to the sentry.
#include <fcntl.h>
#include <linux/capability.h>

#include "base/logging.h"
#include "base/unique_fd.h"
#include "gofer/server.h"
#include "runsc/commands.h"
#include "runsc/sandbox.h"
#include "runsc/seccomp_filter.h"

namespace runsc {
namespace {

int GoferFail(std::string_view what) {
  fmt::print(stderr, "runsc gofer: {}\n", what);
  logging::Error("{}", what);
  return gofer::kServeSetupError;
}

}  // namespace

int GoferMain(const Config& c, const GoferOptions& o) {
  if (o.fd < 0) {
    fmt::print(stderr, "runsc gofer: --fd is required (this is an internal command)\n");
    return 2;
  }
  base::UniqueFd sock(o.fd);
  // Opened before the pivot: Open re-opens regular files through it
  // (gofer/README.md, point 4), and no procfs exists in the new root.
  base::UniqueFd proc(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return GoferFail(fmt::format("open /proc/self/fd: {}", strerror(errno)));
  // Where a --debug seccomp violation is reported, besides stderr (opened
  // before the pivot; kept for the life of the process).
  const std::string& log_path = !c.debug_log.empty() ? c.debug_log : c.log;
  const int report_fd =
      c.debug && !log_path.empty() ? ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
  // Its mount namespace holds only the rootfs (read-only), nothing else of
  // the host: a gofer bug cannot name a host path outside it.
  if (auto s = sandbox::PivotToRootfs(o.root_path, o.read_only); !s.ok()) {
    return GoferFail(fmt::format("confining to the rootfs \"{}\": {}", o.root_path, s.ToString()));
  }
  base::UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return GoferFail(fmt::format("open of the rootfs: {}", strerror(errno)));
  // File serving as root needs to read and create any file and set owners;
  // nothing else (no CAP_SYS_ADMIN, CAP_MKNOD, CAP_NET_*, CAP_SYS_PTRACE...).
  if (auto s = sandbox::DropCapabilities({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID});
      !s.ok()) {
    return GoferFail(fmt::format("dropping capabilities: {}", s.ToString()));
  }
  if (auto s = sandbox::SetNoNewPrivs(); !s.ok()) return GoferFail(s.ToString());
  if (c.seccomp) {
    const auto mode = c.debug ? seccomp::OnViolation::kTrapAndLog : seccomp::OnViolation::kKillProcess;
    if (auto s = seccomp::Install(seccomp::GoferPolicy(), mode, report_fd); !s.ok()) {
      return GoferFail(fmt::format("installing the seccomp filter: {}", s.ToString()));
    }
  } else {
    logging::Warn("gofer: --seccomp=false: the gofer runs without a host syscall filter (weaker isolation)");
  }
  return gofer::ServeFds(std::move(sock), std::move(root), std::move(proc), o.read_only);
}

}  // namespace runsc
