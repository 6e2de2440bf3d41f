// The control channel of a running sandbox (`runsc exec`, `runsc ps`): a
// SOCK_SEQPACKET unix socket "ctl" in the container's state directory,
// bound by `runsc do` (the sentry cannot bind after pivoting to an empty
// root) and served by a thread of the sentry. One request per connection,
// one JSON object per message; stdio fds travel with an exec request as
// SCM_RIGHTS.
//
//   {"op":"exec","argv":[..],"env":[..],"cwd":"/","uid":0,"gid":0,"groups":[],
//    "umask":18?}  + fds 0,1,2  ->  {"pid":N} | {"error":"..","errno":E}
//                                 then {"status":wait status} when it exits
//   {"op":"container",...exec's fields, "root_readonly":b, "mounts":[{destination,
//    type, ro, mode, file, fd: index into the fds}]} + fds 0,1,2, a gofer
//    socket for its rootfs, then one per bind mount -> like exec; the client then sends
//    {"signal":N} to signal it, and closing the connection kills it
//    With "hold":true (runsc create) the process waits before its first
//    instruction until op "start"; "sysctl":{key: value} must match the pod's.
//   {"op":"start","container"?:id}  ->  {"ok":true}: the held process runs
//   {"op":"signal","signal":N,"container"?:id,"all"?:b} -> {"ok":true,"signalled":n}:
//    the container's init, or with "all" every process of the container
//   {"op":"pause"|"resume"}     ->  {"ok":true}
//   {"op":"ps","container"?:id} ->  {"processes":[{"pid","ppid","uid","state","comm","cmdline"}]}
//
// "container" names a pod's further container; without it, the sandbox's
// first container (processes are tagged by container: ThreadGroup::container).
//
// Only processes that can open the state directory (root, 0711 + 0600
// socket) can connect.
#ifndef RUNSC_CONTROL_H_
#define RUNSC_CONTROL_H_

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace sentry::kernel {
class Kernel;
struct ExecSpec;
}
namespace fs {
class HostPoller;
}

namespace runsc {

// Binds and listens on <dir>/ctl (any path length).
absl::StatusOr<base::UniqueFd> ListenControl(const std::string& dir);
// Connects to <dir>/ctl. NotFound if no sandbox serves it.
absl::StatusOr<base::UniqueFd> ConnectControl(const std::string& dir);

// One message, at most kMaxControlMessage bytes, with up to kMaxControlFds fds.
inline constexpr size_t kMaxControlMessage = 1 << 20;
inline constexpr size_t kMaxControlFds = 64;  // stdio, a rootfs gofer, one gofer per bind mount
absl::Status SendControl(int sock, const nlohmann::json& msg, std::span<const int> fds = {});
absl::StatusOr<nlohmann::json> RecvControl(int sock, std::vector<base::UniqueFd>* fds = nullptr);

// The credentials of a process to start, from a boot spec or an exec
// request: uid, gid, groups, and the optional "caps" object
// ({"bounding","effective","permitted","inheritable","ambient"}: bit sets
// before the container's execve) and "no_new_privs". Fills spec.uid/gid/
// groups, spec.creds (when caps are given) and spec.no_new_privs.
void CredsFromJson(const nlohmann::json& j, sentry::kernel::ExecSpec& spec);

// OCI create: container `id`'s first process ("" for the sandbox's first)
// is held by WaitForStart, called from its ExecSpec::before_run, until the
// control op "start" (or a SIGKILL from op "signal"). HoldForStart first.
void HoldForStart(const std::string& id);
void WaitForStart(const std::string& id);

// The sentry's side: accepts and serves connections on `listener` on a
// detached thread, for the life of the process.
void StartControlServer(sentry::kernel::Kernel& k, std::shared_ptr<fs::HostPoller> poller, base::UniqueFd listener);

}  // namespace runsc

#endif  // RUNSC_CONTROL_H_
