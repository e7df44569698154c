#include "command.h"

namespace wg::cli {

void RegisterConvert(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("convert", "(not yet implemented)");
  cmd->callback([run] { *run = [] { return ReportError(Error::Unsupported("convert is not implemented yet")); }; });
}

}  // namespace wg::cli
