// Container state under --root (default /var/run/runsc): one directory per
// container holding state.json (written atomically: temp file + rename) and
// a lock file; commands on one container serialize on its flock.
#ifndef RUNSC_OCI_STATE_H_
#define RUNSC_OCI_STATE_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace runsc::oci {

struct State {
  std::string id;
  std::string status;  // creating, created, running, stopped (OCI)
  pid_t pid = 0;       // the container's supervisor process on the host
  std::string bundle;
  std::string created;  // RFC 3339
  int exit_status = -1;  // once stopped
  std::map<std::string, std::string> annotations;
  // The host cgroup the sandbox runs in (runsc/oci/cgroup.h); "" if none.
  // owned: made by create (then delete kills what is left in it and
  // removes it), not an existing one named by cgroupsPath.
  std::string cgroup;
  bool cgroup_owned = false;
  // While paused: the state resume returns to ("created" or "running"),
  // as runc, which can freeze a created container too.
  std::string paused_from;
};

// OCI container ids: [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024 bytes, no "/".
absl::Status ValidateId(const std::string& id);

class StateDir {
 public:
  // Takes the container's lock (blocking). `create`: make the directory,
  // failing if the container exists.
  static absl::StatusOr<StateDir> Open(const std::string& root, const std::string& id, bool create);
  StateDir(StateDir&&) = default;

  absl::StatusOr<State> Load() const;
  absl::Status Save(const State& s) const;
  // Removes the directory (the lock goes with it).
  absl::Status Remove();
  const std::string& path() const { return dir_; }

 private:
  StateDir(std::string dir, base::UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
  std::string dir_;
  base::UniqueFd lock_;
};

// Every container id under `root`, sorted.
std::vector<std::string> ListIds(const std::string& root);
// The OCI state JSON (`runsc state`).
std::string StateJson(const State& s);
// Sets status "stopped" if the recorded process is gone (or a zombie).
void Refresh(State& s);
bool ProcessAlive(pid_t pid);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_STATE_H_
