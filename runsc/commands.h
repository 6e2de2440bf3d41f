// The runsc commands. Each returns the process exit code.
#ifndef RUNSC_COMMANDS_H_
#define RUNSC_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runsc/config.h"

namespace runsc {

struct DoOptions {
  std::string cwd;              // default: the caller's working directory
  std::string rootfs = "/";     // `runsc do --root DIR`: the sandbox's root
  std::vector<std::string> command;
  // Set by the OCI commands from config.json; `do` uses the caller's.
  std::optional<std::vector<std::string>> env;
  std::optional<uint32_t> uid, gid;
};

// `runsc do CMD...`: a one-off sandbox; exit code is the app's.
int Do(const Config& c, const DoOptions& o);

struct BootOptions {
  int spec_fd = -1;   // JSON ExecSpec from `do`
  int gofer_fd = -1;  // connected gofer socket
};
// `runsc boot` (internal): the sentry.
int Boot(const Config& c, const BootOptions& o);

struct GoferOptions {
  int fd = -1;
  std::string root_path = "/";
  bool read_only = true;
};
// `runsc gofer` (internal): the file server.
int GoferMain(const Config& c, const GoferOptions& o);

// `runsc compat-doc`: docs/compatibility.md, generated from the syscall table.
int CompatDoc();

}  // namespace runsc

#endif  // RUNSC_COMMANDS_H_
