// Golden records in packages: computing the golden layer when a folder is packed, and
// reading it back for gpu-check.
#pragma once

#include <optional>
#include <string>

#include "weightgate/core/error.h"
#include "weightgate/gpu_check/golden.h"
#include "weightgate/package/package.h"

namespace wg::verify {

inline constexpr std::string_view kGoldenTitle = "golden.json";

// The golden layer of the Llama model in `model_dir`, computed by the CPU reference with
// the fixed prompt (GoldenOptions defaults). nullopt, with `*skipped` saying why in one
// line, when the folder holds no model the forward pass supports.
Result<std::optional<package::ExtraLayer>> GoldenLayerForFolder(const std::string& model_dir,
                                                                std::string* skipped);

// The golden record of a package (nullopt when it has none).
Result<std::optional<GoldenRecord>> ReadPackageGolden(const std::string& package,
                                                      std::string* digest = nullptr);

}  // namespace wg::verify
