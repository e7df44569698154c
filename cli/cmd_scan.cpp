#include "command.h"

namespace wg::cli {

void RegisterScan(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("scan", "(not yet implemented)");
  cmd->callback([run] { *run = [] { return ReportError(Error::Unsupported("scan is not implemented yet")); }; });
}

}  // namespace wg::cli
