#include "weightgate/verify/golden_package.h"

#include <unistd.h>

#include <random>

#include "weightgate/package/media_types.h"
#include "weightgate/package/oci_layout.h"

namespace wg::verify {
namespace {
namespace fs = std::filesystem;

// A fresh, private folder under the system's temporary directory.
Result<fs::path> MakeTempDir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) return Error::Io("no temporary directory: " + ec.message());
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    fs::path p =
        base / ("weightgate-gpu-check-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (fs::create_directory(p, ec)) {
      fs::permissions(p, fs::perms::owner_all, ec);
      return p;
    }
  }
  return Error::Io("cannot create a temporary folder").File(base.string());
}

}  // namespace

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

PackagedModel::~PackagedModel() {
  if (dir.empty()) return;
  model = LlamaModel();  // release the maps before the files go
  std::error_code ec;
  fs::remove_all(dir, ec);
}

Result<PackagedModel> OpenPackagedModel(const std::string& package_path) {
  PackagedModel pm;
  WG_ASSIGN_OR_RETURN(pm.golden, ReadPackageGolden(package_path, &pm.golden_digest));
  WG_ASSIGN_OR_RETURN(fs::path tmp, MakeTempDir());
  pm.dir = tmp;
  package::UnpackOptions o;
  o.output = (tmp / "model").string();
  o.only = {package::Role::kWeights, package::Role::kConfig, package::Role::kTokenizer};
  WG_TRY(package::Unpack(package_path, o));
  Result<LlamaModel> m = LoadLlamaModelFromFolder(o.output);
  if (!m.ok()) return std::move(m).error().File(package_path);
  pm.model = std::move(*m);
  return pm;
}

}  // namespace wg::verify
