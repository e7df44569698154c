// A restricted pickle machine for torch checkpoints' data.pkl.
//
// It interprets the opcodes torch.save emits (protocol 2, plus the protocol 3-5 forms of
// the same values) into a small value tree. Globals are checked against the allowlist in
// pickle_globals.h the moment they are read, and only allowlisted callables are
// "called": each has a fixed meaning here (build a dict, describe a tensor), so nothing
// from the file is ever executed. Any other global, and any opcode that would import or
// call something (INST, OBJ, EXT*, PERSID, NEWOBJ_EX), is refused by name and offset
// before anything is built from it. Memory is bounded: objects, memo entries and mark
// nesting are capped, and every length is checked against the bytes that remain.
// Internal to the formats library.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pickle_globals.h"
#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg::pickle {

struct Value;

// A storage named by BINPERSID ('storage', StorageType, key, location, numel).
struct Storage {
  std::string key;             // the zip record <prefix>/data/<key>
  std::string type_name;       // "torch.FloatStorage"
  std::optional<DType> dtype;  // element type; nullopt for complex/quantized storages
  uint64_t numel = 0;          // elements of dtype (bytes for an untyped storage)
  std::string location;        // "cpu", "cuda:0": where torch would put it
  uint64_t offset = 0;         // pickle offset of the BINPERSID, for errors
};

// A tensor view into a storage, as torch._utils._rebuild_tensor_v2 would build it.
// Geometry is validated against the storage record by the checkpoint reader.
struct Tensor {
  const Value* storage = nullptr;  // kind kStorage
  std::optional<DType> dtype;      // of the elements (the storage's, or v3's dtype argument)
  uint64_t storage_offset = 0;     // in elements
  std::vector<uint64_t> size;
  std::vector<uint64_t> stride;  // in elements; negative strides are refused
  uint64_t offset = 0;           // pickle offset of the REDUCE, for errors
};

struct Value {
  enum class Kind : uint8_t {
    kNone,
    kBool,
    kInt,
    kBigInt,
    kFloat,
    kString,
    kBytes,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor,
  };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;           // string (UTF-8), bytes, big integer in decimal
  std::vector<Value*> items;  // tuple, list; dict as key, value, key, value, ...
  const AllowedGlobal* global = nullptr;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Tensor> tensor;
};
const char* KindName(Value::Kind k);

// The values of one pickle. Values live in the arena (pointers stay valid when the
// arena moves) and may be shared: a memoized object is reachable from many places,
// and a malicious pickle can even make a list contain itself.
struct Unpickled {
  std::deque<Value> arena;
  const Value* root = nullptr;
};

struct MachineLimits {
  uint64_t max_objects = 10'000'000;  // ~100 bytes each: at most ~1 GB for a hostile pickle
  uint64_t max_memo = 10'000'000;
  uint64_t max_mark_depth = 1000;
};

// Runs the pickle `data`. `display` names it in errors ("model.pt:archive/data.pkl");
// offsets in errors are within the pickle.
Result<Unpickled> Unpickle(Bytes data, const std::string& display,
                           const MachineLimits& limits = {});

}  // namespace wg::pickle
