// The pickle scanner: walks a pickle's opcodes and lists every import it would make,
// without executing or building anything.
//
// GLOBAL and INST name their import in the operand. STACK_GLOBAL takes module and name
// from the stack, so a shallow symbolic stack (and memo) follows which entries are
// known strings; an import built from anything else is listed with module "?" and
// severity "unknown". EXT1/2/4 import through the copyreg extension registry and are
// listed the same way. Internal to the formats library.
#pragma once

#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"
#include "weightgate/formats/pytorch.h"

namespace wg::pickle {

// Scans the pickle that starts at data[0], up to and including its STOP, appending
// every import to `out`. Offsets (in entries and errors) are base + the position in
// `data`; `display` names the pickle in errors, `pickle_name` in each entry.
// Returns the number of bytes the pickle occupies. On a malformed pickle the error is
// returned and `out` keeps the imports seen before the fault: a streaming unpickler
// would already have executed them.
Result<uint64_t> ScanOne(Bytes data, uint64_t base, const std::string& display,
                         const std::string& pickle_name, std::vector<PickleGlobal>* out);

}  // namespace wg::pickle
