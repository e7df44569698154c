// Command-line pieces shared by sign and verify.
#pragma once

#include <string>
#include <vector>

namespace wg::cli {

// model_signing's --ignore-paths semantics: each path is taken as given (relative to the
// current directory); those inside the model folder become model-relative ignores and the
// rest are dropped.
std::vector<std::string> ModelRelativeIgnores(const std::string& folder,
                                              const std::vector<std::string>& given);

}  // namespace wg::cli
