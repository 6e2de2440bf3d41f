#include "runsc/oci/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace runsc::oci {

using json = nlohmann::json;

absl::Status ValidateId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container id must not be empty");
  if (id.size() > 1024) return absl::InvalidArgumentError("container id is longer than 1024 bytes");
  auto ok_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.'; };
  if (!std::isalnum(static_cast<unsigned char>(id[0])) || !std::all_of(id.begin(), id.end(), ok_char)) {
    return absl::InvalidArgumentError(fmt::format("invalid container id \"{}\": want [A-Za-z0-9][A-Za-z0-9_+.-]*", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<StateDir> StateDir::Open(const std::string& root, const std::string& id, bool create) {
  if (absl::Status s = ValidateId(id); !s.ok()) return s;
  // Like runc's MkdirAll: engines pass roots like /run/containerd/runc/<ns>.
  for (size_t slash = root.find('/', 1); ; slash = root.find('/', slash + 1)) {
    const std::string prefix = root.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0711) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, fmt::format("cannot create state root {}", prefix));
    }
    if (slash == std::string::npos) break;
  }
  const std::string dir = root + "/" + id;
  if (create) {
    if (::mkdir(dir.c_str(), 0711) != 0) {
      if (errno == EEXIST) return absl::AlreadyExistsError(fmt::format("container \"{}\" already exists", id));
      return absl::ErrnoToStatus(errno, fmt::format("cannot create {}", dir));
    }
  }
  base::UniqueFd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(fmt::format("container \"{}\" does not exist", id));
    return absl::ErrnoToStatus(errno, fmt::format("cannot open {}/lock", dir));
  }
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, "flock");
  }
  return StateDir(dir, std::move(lock));
}

absl::StatusOr<State> StateDir::Load() const {
  std::ifstream f(dir_ + "/state.json");
  if (!f.good()) return absl::NotFoundError(fmt::format("{}/state.json: {}", dir_, strerror(errno)));
  std::stringstream ss;
  ss << f.rdbuf();
  State s;
  try {
    const json j = json::parse(ss.str());
    s.id = j.at("id").get<std::string>();
    s.status = j.at("status").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.created = j.value("created", "");
    s.exit_status = j.value("exitStatus", -1);
    if (j.contains("annotations")) s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    s.cgroup = j.value("cgroupPath", "");
    s.cgroup_owned = j.value("cgroupOwned", false);
    s.paused_from = j.value("pausedFrom", "");
  } catch (const json::exception& e) {
    return absl::DataLossError(fmt::format("{}/state.json is corrupt: {}", dir_, e.what()));
  }
  return s;
}

absl::Status StateDir::Save(const State& s) const {
  json j = {{"ociVersion", "1.0.2"}, {"id", s.id},           {"status", s.status},        {"pid", s.pid},
            {"bundle", s.bundle},    {"created", s.created}, {"exitStatus", s.exit_status}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  if (!s.cgroup.empty()) {
    j["cgroupPath"] = s.cgroup;
    j["cgroupOwned"] = s.cgroup_owned;
  }
  if (!s.paused_from.empty()) j["pausedFrom"] = s.paused_from;
  const std::string tmp = dir_ + "/state.json.tmp";
  const std::string text = j.dump();
  base::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, fmt::format("cannot write {}", tmp));
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd.get()) != 0) {
    return absl::ErrnoToStatus(errno, fmt::format("cannot write {}", tmp));
  }
  fd.Reset();
  if (::rename(tmp.c_str(), (dir_ + "/state.json").c_str()) != 0) {
    return absl::ErrnoToStatus(errno, "rename state.json");
  }
  return absl::OkStatus();
}

absl::Status StateDir::Remove() {
  DIR* d = ::opendir(dir_.c_str());
  if (d != nullptr) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((dir_ + "/" + name).c_str());
    }
    ::closedir(d);
  }
  if (::rmdir(dir_.c_str()) != 0) return absl::ErrnoToStatus(errno, fmt::format("cannot remove {}", dir_));
  return absl::OkStatus();
}

std::vector<std::string> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return ids;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != ".." && ValidateId(name).ok()) ids.push_back(name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string StateJson(const State& s) {
  json j = {{"ociVersion", "1.0.2"}, {"id", s.id}, {"status", s.status}, {"pid", s.pid}, {"bundle", s.bundle}};
  if (!s.created.empty()) j["created"] = s.created;
  j["annotations"] = s.annotations;
  return j.dump(2);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  // A zombie (exited, not yet reaped by whoever adopted it) is not running.
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(f, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z' && line[paren + 2] != 'X';
}

void Refresh(State& s) {
  if (s.status == "stopped") return;
  if (!ProcessAlive(s.pid)) s.status = "stopped";
}

}  // namespace runsc::oci
