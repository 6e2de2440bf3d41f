// runsc: one binary, three roles (DEVELOPERS.md invariant 2). Users run
// `runsc do ...` (and, later, the OCI commands); `boot` and `gofer` are the
// internal roles that `do` starts by re-executing this binary.
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "runsc/commands.h"
#include "runsc/config.h"

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
  // CMD [ARGS...] never reaches CLI11 (NormalizeArgs splits it off), so the
  // app's own flags are never taken for ours.
  do_cmd->footer("Everything from CMD on is the app's command line, passed unchanged.");

  runsc::BootOptions boot_opts;
  CLI::App* boot_cmd = app.add_subcommand("boot", "")->group("");  // internal: hidden
  boot_cmd->add_option("--spec-fd", boot_opts.spec_fd)->required();
  boot_cmd->add_option("--gofer-fd", boot_opts.gofer_fd)->required();

  runsc::GoferOptions gofer_opts;
  CLI::App* gofer_cmd = app.add_subcommand("gofer", "")->group("");  // internal: hidden
  gofer_cmd->add_option("--fd", gofer_opts.fd)->required();
  gofer_cmd->add_option("--root-path", gofer_opts.root_path);

  CLI::App* compat_cmd = app.add_subcommand("compat-doc", "print the syscall compatibility table (markdown)");

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
  return 2;
}
