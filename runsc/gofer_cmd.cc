// `runsc gofer`: the file server role.
#include "base/logging.h"
#include "base/unique_fd.h"
#include "gofer/server.h"
#include "runsc/commands.h"

namespace runsc {

int GoferMain(const Config&, const GoferOptions& o) {
  if (o.fd < 0) {
    fmt::print(stderr, "runsc gofer: --fd is required (this is an internal command)\n");
    return 2;
  }
  // TODO(#7): own mount namespace, pivot_root, capabilities, seccomp.
  return gofer::Serve(base::UniqueFd(o.fd), o.root_path, o.read_only);
}

}  // namespace runsc
