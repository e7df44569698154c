// PyTorch torch.save checkpoints (zip format), read without executing anything.
//
// data.pkl is interpreted by a restricted pickle machine written here: it knows the
// opcodes torch's weights_only unpickler knows and a small allowlist of globals
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, _rebuild_parameter,
// torch.*Storage and dtype objects, torch.Size). Any other global is refused by name
// (for example "os.system"), before anything is built from it. Storages are read in
// place from the zip's stored (uncompressed) records through the memory map. Legacy
// pre-1.6 pickles (not a zip) are refused with a clear message.
#pragma once

#include <string>
#include <vector>

#include "weightgate/formats/tensor_catalog.h"

namespace wg {

// Reads a torch.save zip checkpoint. Nested dicts are flattened with "." between keys
// ("model.layers.0.weight"); non-tensor leaves (ints, strings, floats) go to metadata.
Result<TensorCatalog> ReadPyTorch(const std::string& path);

// One global a pickle would import, as found by the scanner.
struct PickleGlobal {
  std::string module;
  std::string name;
  bool safe = false;       // on weightgate's allowlist
  std::string severity;    // "safe", "unknown", "dangerous" (picklescan/modelscan lists)
  uint64_t offset = 0;     // opcode offset within the pickle
  std::string pickle;      // the pickle's name inside the archive ("archive/data.pkl")
};

struct PickleScan {
  std::vector<PickleGlobal> globals;  // every GLOBAL / STACK_GLOBAL, in order
  bool legacy = false;                // a bare (non-zip) pickle
  bool safe() const;                  // every global safe
};

// Lists every global the file's pickles would import, without executing or building
// anything. Works on zip checkpoints and bare pickles (.pkl, legacy .bin/.pt).
Result<PickleScan> ScanPickles(const std::string& path);

}  // namespace wg
