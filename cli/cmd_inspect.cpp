#include "command.h"

namespace wg::cli {

void RegisterInspect(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("inspect", "(not yet implemented)");
  cmd->callback([run] { *run = [] { return ReportError(Error::Unsupported("inspect is not implemented yet")); }; });
}

}  // namespace wg::cli
