// What `weightgate inspect` and `weightgate scan` report, as library calls: a catalogue
// described as JSON (with licence information found in the metadata or beside the
// files), and a structural scan of every model file under a path, pickles included,
// that never executes anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weightgate/formats/pytorch.h"
#include "weightgate/formats/tensor_catalog.h"

namespace wg {

// Licence information: metadata fields whose key names a licence (GGUF general.license*,
// safetensors __metadata__ "license", ...), LICENSE/LICENCE/COPYING files beside the
// model, and license/license_name/license_link of a Hugging Face model card (README.md
// front matter). {"fields": {key: value}, "files": [{"path", "first_line"}],
// "model_card": {"license", ...}}; the last two only when found.
nlohmann::ordered_json FindLicence(const TensorCatalog& cat, const std::string& path);

// {"path", "format", "files": [{"path", "bytes"}], "tensor_count", "parameters",
//  "total_bytes", "dtypes": {name: count}, "tensors": [{"name", "dtype", "shape", "offset",
//  "bytes", "file" (index into files), "strides" (strided views only)}], "metadata",
//  "licence"}
nlohmann::ordered_json InspectJson(const TensorCatalog& cat, const std::string& path);

// One file's scan.
struct FileScan {
  std::string path;
  std::optional<Format> format;  // nullopt: not a model file (skipped)
  uint64_t tensors = 0;
  std::optional<PickleScan> pickle;  // PyTorch zips and bare pickles
  std::vector<Error> problems;       // why it is not clean (unsafe globals are listed in pickle)
  bool unsafe() const;               // a pickle global off the allowlist, or an Unsafe error
  bool malformed() const;            // a Malformed / Unsupported / I/O problem
  bool failed() const { return !problems.empty() || unsafe(); }
};

struct ScanReport {
  std::string path;
  std::vector<FileScan> files;
  bool unsafe() const;
  bool malformed() const;
  bool clean() const;
};

// Scans a file, or every file directly inside a folder (files of no known format are
// listed as skipped): reads every header and checks every tensor span against its file;
// for pickles lists every global they would import. Nothing is executed.
ScanReport ScanPath(const std::string& path);
nlohmann::ordered_json ScanJson(const ScanReport& report);

// {"code", "message", "file", "offset", "field", "expected", "found" (those present), "text"}
nlohmann::ordered_json ErrorJson(const Error& e);

}  // namespace wg
