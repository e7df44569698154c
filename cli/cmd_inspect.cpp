#include "cmd_package.h"
#include "command.h"

namespace wg::cli {

void RegisterInspect(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd = app.add_subcommand("inspect", "Show what a model file or package holds");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path, "Model file or package")->required();
  cmd->add_flag("--json", *json, "Print one JSON document");
  cmd->callback([run, path, json] {
    *run = [path, json] {
      if (IsPackage(*path)) return InspectPackageVerb(*path, *json);
      return ReportError(Error::Unsupported("inspect is not implemented yet"));
    };
  });
}

}  // namespace wg::cli
