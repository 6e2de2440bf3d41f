// Pods: further containers joining an existing sandbox (runsc/oci/pod.cc).
#ifndef RUNSC_OCI_POD_H_
#define RUNSC_OCI_POD_H_

#include <optional>
#include <string>

#include "runsc/config.h"
#include "runsc/oci/spec.h"

namespace runsc::oci {

// The sandbox (container id) that `spec`'s CRI annotations say container
// `id` joins; nullopt for a container that makes its own sandbox.
std::optional<std::string> PodSandboxId(const Spec& spec, const std::string& id);

// The joined container's supervisor body: serves its rootfs, starts its
// process in the sandbox (known there as `id`, for `runsc exec`), forwards
// signals; returns its exit code. With `ready_fd` (>= 0, taken), the
// process is held before its first instruction until `runsc start`, and
// one byte on ready_fd says so (runsc create; DoOptions::ready_fd).
int RunInPod(const Config& c, const std::string& id, const std::string& sandbox_id, const Spec& spec,
             int ready_fd = -1);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_POD_H_
