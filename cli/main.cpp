// weightgate's entry point: assembles the verbs and maps their results to exit codes.
// Each verb lives in its own cmd_*.cpp and only parses, calls a library, and prints.
#include <cstdio>

#include "cmd_package.h"
#include "command.h"
#include "weightgate/core/progress.h"

int main(int argc, char** argv) {
  using namespace wg::cli;
  CLI::App app{"weightgate: pack, sign, verify, gate, convert and check model weights"};
  app.set_version_flag("--version", "weightgate 0.1.0");
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "No progress bars or informational messages");

  Runner run;
  RegisterInspect(app, global, &run);
  RegisterScan(app, global, &run);
  RegisterConvert(app, global, &run);
  RegisterPackageVerbs(app, global, &run);
  RegisterPush(app, global, &run);
  RegisterPull(app, global, &run);
  RegisterKeygen(app, global, &run);
  RegisterSign(app, global, &run);
  RegisterVerify(app, global, &run);
  RegisterHash(app, global, &run);
  RegisterGpuCheck(app, global, &run);
  RegisterPolicy(app, global, &run);
  RegisterGating(app, global, &run);
  RegisterValidate(app, global, &run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "weightgate: error: %s\nRun 'weightgate --help' for usage.\n", e.what());
    return kExitUsage;
  }
  wg::Progress::SetQuiet(global.quiet);
  if (!run) return kExitUsage;
  return run();
}
