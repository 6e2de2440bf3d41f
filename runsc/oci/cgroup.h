// A container's host cgroup (v1: this host's cgroup v2 hierarchy has no
// controllers; the v1 ones are mounted under /sys/fs/cgroup/<controller>).
// The container's supervisor is put in it at create, before it starts the
// gofers and the sentry, so the whole sandbox (sentry, its ptrace stubs,
// gofers) is inside. One directory of the same path per controller:
//   cpu      linux.resources.cpu shares, quota, period
//   cpuacct  `runsc events --stats` cpu figures
//   memory   linux.resources.memory.limit plus kSentryOverhead (the
//            sandbox's own accounting, --total-memory, is the exact limit the
//            app sees; the host limit only backs it up), usage for stats
//   freezer  `runsc pause`/`resume`
//   pids     linux.resources.pids.limit as a host backstop: the exact limit
//            the app sees is the sentry's own (--max-tasks, fork fails
//            with EAGAIN); host tasks of a sandbox are not the app's (one
//            sentry thread per app task, a stub per address space, the
//            supervisor, gofers and the sentry's own threads), so the host
//            bound is HostPidsLimit(limit).
//
// Path (runc's cgroupfs rules): linux.cgroupsPath absolute from each
// controller's root, or relative to the caller's cgroup; with
// --systemd-cgroup, "slice:prefix:name" is the systemd layout
// /<slice expanded>/<prefix>-<name>.scope, made directly in cgroupfs (no
// systemd is asked). Empty: /runsc/<id>.
#ifndef RUNSC_OCI_CGROUP_H_
#define RUNSC_OCI_CGROUP_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "runsc/oci/spec.h"

namespace runsc::oci {

inline constexpr uint64_t kSentryOverhead = 64ull << 20;
// The host pids.max for an app limit of `limit` tasks: a sentry thread and
// at most one stub task per app task, plus the sandbox's fixed processes
// and threads.
inline constexpr uint64_t HostPidsLimit(uint64_t limit) { return 2 * limit + 64; }

// The cgroup path for a container (see above); "" if the path is invalid.
std::string CgroupPathFor(const Spec& spec, const std::string& id, bool systemd);

// Makes the cgroup in every available controller, applies linux.resources
// and moves `pid` in. Controllers that are not mounted are skipped.
// *created: whether the leaf directory is new (else an existing cgroup is
// shared, and DestroyCgroup must not kill what is in it).
absl::Status CreateCgroup(const std::string& path, const Spec& spec, pid_t pid, bool* created);
// Freezes (true) or thaws every task of the cgroup; waits until FROZEN.
// Unavailable if there is no freezer.
absl::Status FreezeCgroup(const std::string& path, bool freeze);
// Whether the cgroup's freezer says FROZEN.
bool CgroupFrozen(const std::string& path);
// runc's stats "cpu" and "memory" objects; missing controllers are left out.
nlohmann::json CgroupStats(const std::string& path);
// Thaws the cgroup, kills every task left in it if `owned` (a sandbox
// process that outlived its supervisor), and removes its directories.
// Missing directories are fine.
void DestroyCgroup(const std::string& path, bool owned);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_CGROUP_H_
