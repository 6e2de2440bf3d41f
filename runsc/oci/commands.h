// The OCI lifecycle commands (runtime-spec runtime.md), with runc's and
// runsc's flags and exit codes.
#ifndef RUNSC_OCI_COMMANDS_H_
#define RUNSC_OCI_COMMANDS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "runsc/config.h"

namespace runsc::oci {

struct CreateOptions {
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool detach = false;  // run only
};

// Whether failures also go to the log (--log/--debug-log set): engines
// (containerd's shim, conmon) report the log's last error line. Set once by
// main() before any command runs.
void SetErrorsToLog(bool on);
bool ErrorsToLog();
// Prints "runsc: <msg>" (and logs it when ErrorsToLog()); returns 1, the
// failing command's exit status.
int Fail(std::string_view msg);
int Fail(const absl::Status& s);

int WriteSpec(const std::string& bundle);
int Create(const Config& c, const std::string& id, const CreateOptions& o);
int Start(const Config& c, const std::string& id);
int Run(const Config& c, const std::string& id, const CreateOptions& o);
int PrintState(const Config& c, const std::string& id);
int Kill(const Config& c, const std::string& id, const std::string& signal, bool all);
int Delete(const Config& c, const std::string& id, bool force);
int List(const Config& c, const std::string& format);
int Wait(const Config& c, const std::string& id);
int Ps(const Config& c, const std::string& id, const std::string& format);

struct ExecOptions {
  std::string process_file;  // --process: a process JSON (runtime-spec)
  std::vector<std::string> command;
  bool detach = false;
  bool tty = false;              // -t (tty engineer)
  std::string console_socket;    // (tty engineer)
  std::string pid_file;
  std::string cwd;
  std::vector<std::string> env;  // --env KEY=VALUE, repeatable
  std::string user;              // --user UID[:GID]
  std::vector<std::string> caps; // --cap CAP_X (repeatable): added to the process's sets
  bool no_new_privs = false;     // --no-new-privs
};
// `runsc exec`: a new process in the running sandbox (runsc/oci/exec.cc).
int Exec(const Config& c, const std::string& id, const ExecOptions& o);
// `runsc pause`/`resume`: stop or continue every process of the sandbox.
int Pause(const Config& c, const std::string& id, bool pause);
// `runsc events`: runc-style stats JSON lines (--stats: one, then exit).
int Events(const Config& c, const std::string& id, bool stats_once, int interval_s);
int Features();
// checkpoint, restore, pause, resume, events, exec: a clear error for now.
int NotSupported(const std::string& command);
// The hidden `runsc container-supervisor` role started by create.
int Supervise(const Config& c, const std::string& id, const std::string& bundle);

// "TERM", "SIGTERM", "15" -> 15; 0 if unknown.
int ParseSignal(const std::string& s);

}  // namespace runsc::oci

#endif  // RUNSC_OCI_COMMANDS_H_
