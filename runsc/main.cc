// runsc: one binary, three roles (DEVELOPERS.md invariant 2). Users run
// `runsc do ...` (and, later, the OCI commands); `boot` and `gofer` are the
// internal roles that `do` starts by re-executing this binary.
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "runsc/commands.h"
#include "runsc/config.h"
#include "runsc/oci/commands.h"

int main(int argc, char** argv) {
  runsc::Config config;
  CLI::App app{"runsc: an application-kernel sandbox for Linux (OCI runtime)", "runsc"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "runsc version 0.1.0 (runsc-cpp)\nspec: 1.0.2");
  runsc::AddGlobalFlags(app, config);

  runsc::DoOptions do_opts;
  CLI::App* do_cmd = app.add_subcommand("do", "run a command in a one-off sandbox, using the host root read-only");
  do_cmd->add_option("--cwd", do_opts.cwd, "working directory inside the sandbox (default: the current one)");
  do_cmd->add_option("--root", do_opts.rootfs, "path to the root directory (default \"/\")");
  do_cmd->add_option("-v,--volume", do_opts.volumes,
                     "HOST:SANDBOX[:ro|:rw]: bind-mount a host directory or file at SANDBOX, served by a gofer of "
                     "its own; read-write by default, so the app's writes reach HOST (repeatable)");
  // CMD [ARGS...] never reaches CLI11 (NormalizeArgs splits it off), so the
  // app's own flags are never taken for ours.
  do_cmd->footer("Everything from CMD on is the app's command line, passed unchanged.");

  runsc::BootOptions boot_opts;
  CLI::App* boot_cmd = app.add_subcommand("boot", "")->group("");  // internal: hidden
  boot_cmd->add_option("--spec-fd", boot_opts.spec_fd)->required();
  boot_cmd->add_option("--gofer-fd", boot_opts.gofer_fd)->required();
  boot_cmd->add_option("--control-fd", boot_opts.control_fd);
  boot_cmd->add_option("--ready-fd", boot_opts.ready_fd);

  runsc::GoferOptions gofer_opts;
  CLI::App* gofer_cmd = app.add_subcommand("gofer", "")->group("");  // internal: hidden
  gofer_cmd->add_option("--fd", gofer_opts.fd)->required();
  gofer_cmd->add_option("--root-path", gofer_opts.root_path);
  gofer_cmd->add_option("--read-only", gofer_opts.read_only);

  CLI::App* compat_cmd = app.add_subcommand("compat-doc", "print the syscall compatibility table (markdown)");

  // OCI lifecycle (runtime-spec runtime.md).
  std::string id, signal_name, format = "table", spec_bundle = ".";
  bool force = false, all = false;
  runsc::oci::CreateOptions create_opts;
  auto add_create_flags = [&](CLI::App* cmd) {
    cmd->add_option("-b,--bundle", create_opts.bundle, "path to the bundle directory (default \".\")");
    cmd->add_option("--pid-file", create_opts.pid_file, "file to write the container's process id to");
    cmd->add_option("--console-socket", create_opts.console_socket, "unix socket for the console's pty master");
    cmd->add_option("id", id, "container id")->required();
    // runc flags engines pass that mean nothing for a sandbox.
    cmd->add_flag("--no-pivot")->description("ignored (the sandbox always pivots)");
    cmd->add_flag("--no-new-keyring")->description("ignored (the sandbox has no keyrings)");
    cmd->add_option("--preserve-fds", "ignored: extra fds are not passed into the sandbox yet");
  };
  CLI::App* spec_cmd = app.add_subcommand("spec", "write a default config.json in the bundle directory");
  spec_cmd->add_option("-b,--bundle", spec_bundle, "bundle directory (default \".\")");
  CLI::App* create_cmd = app.add_subcommand("create", "create a container from a bundle");
  add_create_flags(create_cmd);
  CLI::App* run_cmd = app.add_subcommand("run", "create and start a container");
  add_create_flags(run_cmd);
  run_cmd->add_flag("-d,--detach", create_opts.detach, "return once the container has started");
  CLI::App* start_cmd = app.add_subcommand("start", "start a created container");
  start_cmd->add_option("id", id, "container id")->required();
  CLI::App* state_cmd = app.add_subcommand("state", "print a container's OCI state as JSON");
  state_cmd->add_option("id", id, "container id")->required();
  CLI::App* kill_cmd = app.add_subcommand("kill", "send a signal to a container");
  kill_cmd->add_option("id", id, "container id")->required();
  kill_cmd->add_option("signal", signal_name, "signal name or number (default TERM)");
  kill_cmd->add_flag("-a,--all", all, "signal every process of the container");
  CLI::App* delete_cmd = app.add_subcommand("delete", "delete a stopped container");
  delete_cmd->add_option("id", id, "container id")->required();
  delete_cmd->add_flag("-f,--force", force, "kill a running container first");
  CLI::App* list_cmd = app.add_subcommand("list", "list containers");
  list_cmd->add_option("-f,--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  CLI::App* ps_cmd = app.add_subcommand("ps", "list a container's processes");
  ps_cmd->add_option("id", id, "container id")->required();
  ps_cmd->add_option("-f,--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  CLI::App* wait_cmd = app.add_subcommand("wait", "wait for a container to stop; exit with its status");
  wait_cmd->add_option("id", id, "container id")->required();
  CLI::App* features_cmd = app.add_subcommand("features", "print the runtime's features as JSON");
  runsc::oci::ExecOptions exec_opts;
  CLI::App* exec_cmd = app.add_subcommand("exec", "run a new process in a running container");
  exec_cmd->add_option("-p,--process", exec_opts.process_file, "path to a process.json (runtime-spec process)");
  exec_cmd->add_flag("-d,--detach", exec_opts.detach, "return once the process has started");
  exec_cmd->add_flag("-t,--tty", exec_opts.tty, "allocate a pseudo-TTY");
  exec_cmd->add_option("--console-socket", exec_opts.console_socket, "unix socket for the console's pty master");
  exec_cmd->add_option("--pid-file", exec_opts.pid_file, "file to write the process's (host-side) pid to");
  exec_cmd->add_option("--cwd", exec_opts.cwd, "working directory in the container");
  exec_cmd->add_option("-e,--env", exec_opts.env, "KEY=VALUE to add to the environment (repeatable)");
  exec_cmd->add_option("-u,--user", exec_opts.user, "UID[:GID]");
  exec_cmd->add_option("--process-label", "ignored (no SELinux labels in the sandbox)");
  exec_cmd->add_option("--apparmor", "ignored (no AppArmor in the sandbox)");
  exec_cmd->add_flag("--no-new-privs", exec_opts.no_new_privs, "set no_new_privs for the process");
  exec_cmd->add_option("-c,--cap", exec_opts.caps, "add a capability to the process's sets (repeatable)");
  exec_cmd->add_option("--preserve-fds", "ignored");
  exec_cmd->add_option("id", id, "container id")->required();
  exec_cmd->footer("Everything after ID is the command line, passed unchanged.");
  bool events_stats = false;
  int events_interval = 5;
  CLI::App* events_cmd = app.add_subcommand("events", "print a container's stats as JSON lines");
  events_cmd->add_flag("--stats", events_stats, "print one stats line and exit");
  events_cmd->add_option("--interval", events_interval, "seconds between stats lines (default 5)");
  events_cmd->add_option("id", id, "container id")->required();
  CLI::App* pause_cmd = app.add_subcommand("pause", "stop every process of a container");
  pause_cmd->add_option("id", id, "container id")->required();
  CLI::App* resume_cmd = app.add_subcommand("resume", "continue a paused container");
  resume_cmd->add_option("id", id, "container id")->required();
  std::vector<CLI::App*> unsupported;
  for (const char* name : {"checkpoint", "restore", "update"}) {
    CLI::App* cmd = app.add_subcommand(name, "not supported yet");
    cmd->allow_extras();
    unsupported.push_back(cmd);
  }
  std::string sup_bundle;
  CLI::App* sup_cmd = app.add_subcommand("container-supervisor", "")->group("");  // internal
  sup_cmd->add_option("--bundle", sup_bundle)->required();
  sup_cmd->add_option("id", id)->required();

  runsc::SplitArgs split = runsc::NormalizeArgs(argc, argv);
  // CLI11 wants them reversed, without argv[0].
  std::vector<std::string> rev(split.flags.rbegin(), split.flags.rend() - 1);
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (do_cmd->parsed()) {
    do_opts.command = std::move(split.trailing);
    runsc::SetUpLogging(config, "do");
    return runsc::Do(config, do_opts);
  }
  if (boot_cmd->parsed()) {
    runsc::SetUpLogging(config, "boot");
    return runsc::Boot(config, boot_opts);
  }
  if (gofer_cmd->parsed()) {
    runsc::SetUpLogging(config, "gofer");
    return runsc::GoferMain(config, gofer_opts);
  }
  if (compat_cmd->parsed()) return runsc::CompatDoc();
  runsc::SetUpLogging(config, "runsc");
  runsc::oci::SetErrorsToLog(!config.log.empty() || !config.debug_log.empty());
  if (spec_cmd->parsed()) return runsc::oci::WriteSpec(spec_bundle);
  if (create_cmd->parsed()) return runsc::oci::Create(config, id, create_opts);
  if (run_cmd->parsed()) return runsc::oci::Run(config, id, create_opts);
  if (start_cmd->parsed()) return runsc::oci::Start(config, id);
  if (state_cmd->parsed()) return runsc::oci::PrintState(config, id);
  if (kill_cmd->parsed()) return runsc::oci::Kill(config, id, signal_name, all);
  if (delete_cmd->parsed()) return runsc::oci::Delete(config, id, force);
  if (list_cmd->parsed()) return runsc::oci::List(config, format);
  if (ps_cmd->parsed()) return runsc::oci::Ps(config, id, format);
  if (wait_cmd->parsed()) return runsc::oci::Wait(config, id);
  if (features_cmd->parsed()) return runsc::oci::Features();
  if (exec_cmd->parsed()) {
    exec_opts.command = std::move(split.trailing);
    return runsc::oci::Exec(config, id, exec_opts);
  }
  if (pause_cmd->parsed()) return runsc::oci::Pause(config, id, true);
  if (resume_cmd->parsed()) return runsc::oci::Pause(config, id, false);
  if (events_cmd->parsed()) return runsc::oci::Events(config, id, events_stats, events_interval);
  if (sup_cmd->parsed()) return runsc::oci::Supervise(config, id, sup_bundle);
  for (CLI::App* cmd : unsupported) {
    if (cmd->parsed()) return runsc::oci::NotSupported(cmd->get_name());
  }
  return 2;
}
