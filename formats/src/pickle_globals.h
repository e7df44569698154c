// The globals a pickle may name: weightgate's allowlist (what the restricted machine
// will interpret) and the lists of known-dangerous imports used by picklescan and
// modelscan (what the scanner calls "dangerous"). Both tables live in
// pickle_globals.cpp. Internal to the formats library.
#pragma once

#include <optional>
#include <string_view>

#include "weightgate/core/dtype.h"

namespace wg::pickle {

// What the restricted machine makes of an allowlisted global.
enum class Role : uint8_t {
  kOrderedDict,                // collections.OrderedDict
  kRebuildTensor,              // torch._utils._rebuild_tensor (pre-1.0 layout)
  kRebuildTensorV2,            // torch._utils._rebuild_tensor_v2
  kRebuildTensorV3,            // torch._utils._rebuild_tensor_v3 (dtype given separately)
  kRebuildParameter,           // torch._utils._rebuild_parameter
  kRebuildParameterWithState,  // torch._utils._rebuild_parameter_with_state
  kStorageType,                // torch.FloatStorage, torch.UntypedStorage, ...
  kDType,                      // torch.float32, ...
  kSize,                       // torch.Size
  kDevice,                     // torch.device
  kCodecsEncode,               // _codecs.encode: how protocol 2 pickles bytes
};

struct AllowedGlobal {
  std::string_view module;
  std::string_view name;
  Role role;
  // The element type of a storage class or dtype; nullopt for ones weightgate has no
  // DType for (complex, quantized), which are known-harmless but Unsupported.
  std::optional<DType> dtype;
};

// The allowlist entry for module.name, matched exactly; nullptr if not allowed.
const AllowedGlobal* FindAllowed(std::string_view module, std::string_view name);

enum class Severity : uint8_t { kSafe, kUnknown, kDangerous };
const char* SeverityName(Severity s);  // "safe", "unknown", "dangerous"

// Safe: on the allowlist. Dangerous: on picklescan's or modelscan's lists (a listed
// module also covers its submodules; Python 2 names such as __builtin__ are mapped as
// the unpickler maps them), or a dotted name walking through dunder attributes.
// Everything else: unknown.
Severity Classify(std::string_view module, std::string_view name);

}  // namespace wg::pickle
