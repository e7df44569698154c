#include "weightgate/verify/golden_package.h"

#include "weightgate/package/media_types.h"
#include "weightgate/package/oci_layout.h"

namespace wg::verify {

Result<std::optional<package::ExtraLayer>> GoldenLayerForFolder(const std::string& model_dir,
                                                                std::string* skipped) {
  Result<LlamaModel> model = LoadLlamaModelFromFolder(model_dir);
  if (!model.ok()) {
    if (skipped) *skipped = model.error().ToString();
    return std::optional<package::ExtraLayer>();
  }
  if (!model->tokenizer) {
    if (skipped) *skipped = model_dir + ": the model has no tokenizer the CPU reference reads";
    return std::optional<package::ExtraLayer>();
  }
  WG_ASSIGN_OR_RETURN(GoldenRecord g, ComputeGolden(*model, GoldenOptions{}));
  package::ExtraLayer layer;
  layer.media_type = std::string(oci::kWeightgateGolden);
  layer.content = g.ToJson();
  layer.title = std::string(kGoldenTitle);
  return std::optional<package::ExtraLayer>(std::move(layer));
}

Result<std::optional<GoldenRecord>> ReadPackageGolden(const std::string& package,
                                                      std::string* digest) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  WG_ASSIGN_OR_RETURN(oci::Manifest m, reader->ReadManifest());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].media_type != oci::kWeightgateGolden) continue;
    const std::string what = "layer " + std::to_string(i) + " (golden.json)";
    WG_ASSIGN_OR_RETURN(std::string text, reader->ReadVerified(m.layers[i], what));
    WG_ASSIGN_OR_RETURN(GoldenRecord g, GoldenRecord::Parse(text, package + ": " + what));
    if (digest) *digest = m.layers[i].digest;
    return std::optional<GoldenRecord>(std::move(g));
  }
  return std::optional<GoldenRecord>();
}

}  // namespace wg::verify
