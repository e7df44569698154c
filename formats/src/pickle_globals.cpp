#include "pickle_globals.h"

#include <array>

namespace wg::pickle {
namespace {

using R = Role;

// What torch.save writes for tensors, parameters and state dicts (torch 1.6 to 2.x),
// a subset of torch's own weights_only allowlist (torch/_weights_only_unpickler.py).
constexpr AllowedGlobal kAllowed[] = {
    {"collections", "OrderedDict", R::kOrderedDict, {}},
    {"torch._utils", "_rebuild_tensor", R::kRebuildTensor, {}},
    {"torch._utils", "_rebuild_tensor_v2", R::kRebuildTensorV2, {}},
    {"torch._utils", "_rebuild_tensor_v3", R::kRebuildTensorV3, {}},
    {"torch._utils", "_rebuild_parameter", R::kRebuildParameter, {}},
    {"torch._utils", "_rebuild_parameter_with_state", R::kRebuildParameterWithState, {}},
    {"torch", "Size", R::kSize, {}},
    {"torch", "device", R::kDevice, {}},
    {"_codecs", "encode", R::kCodecsEncode, {}},
    // Legacy storage classes name the element type (torch.storage._dtype_to_storage_type_map).
    {"torch", "DoubleStorage", R::kStorageType, DType::kF64},
    {"torch", "FloatStorage", R::kStorageType, DType::kF32},
    {"torch", "HalfStorage", R::kStorageType, DType::kF16},
    {"torch", "BFloat16Storage", R::kStorageType, DType::kBF16},
    {"torch", "LongStorage", R::kStorageType, DType::kI64},
    {"torch", "IntStorage", R::kStorageType, DType::kI32},
    {"torch", "ShortStorage", R::kStorageType, DType::kI16},
    {"torch", "CharStorage", R::kStorageType, DType::kI8},
    {"torch", "ByteStorage", R::kStorageType, DType::kU8},
    {"torch", "BoolStorage", R::kStorageType, DType::kBool},
    {"torch", "ComplexDoubleStorage", R::kStorageType, {}},
    {"torch", "ComplexFloatStorage", R::kStorageType, {}},
    {"torch", "QInt8Storage", R::kStorageType, {}},
    {"torch", "QInt32Storage", R::kStorageType, {}},
    {"torch", "QUInt8Storage", R::kStorageType, {}},
    {"torch", "QUInt4x2Storage", R::kStorageType, {}},
    {"torch", "QUInt2x4Storage", R::kStorageType, {}},
    // Untyped (byte) storages: torch 1.13 names the class in torch.storage, torch 2 in torch.
    {"torch.storage", "UntypedStorage", R::kStorageType, DType::kU8},
    {"torch", "UntypedStorage", R::kStorageType, DType::kU8},
    // dtype objects pickle as globals under their canonical names.
    {"torch", "float64", R::kDType, DType::kF64},
    {"torch", "float32", R::kDType, DType::kF32},
    {"torch", "float16", R::kDType, DType::kF16},
    {"torch", "bfloat16", R::kDType, DType::kBF16},
    {"torch", "int64", R::kDType, DType::kI64},
    {"torch", "int32", R::kDType, DType::kI32},
    {"torch", "int16", R::kDType, DType::kI16},
    {"torch", "int8", R::kDType, DType::kI8},
    {"torch", "uint64", R::kDType, DType::kU64},
    {"torch", "uint32", R::kDType, DType::kU32},
    {"torch", "uint16", R::kDType, DType::kU16},
    {"torch", "uint8", R::kDType, DType::kU8},
    {"torch", "bool", R::kDType, DType::kBool},
    {"torch", "float8_e4m3fn", R::kDType, DType::kF8E4M3},
    {"torch", "float8_e5m2", R::kDType, DType::kF8E5M2},
    {"torch", "complex32", R::kDType, {}},
    {"torch", "complex64", R::kDType, {}},
    {"torch", "complex128", R::kDType, {}},
    {"torch", "qint8", R::kDType, {}},
    {"torch", "quint8", R::kDType, {}},
    {"torch", "qint32", R::kDType, {}},
    {"torch", "quint4x2", R::kDType, {}},
    {"torch", "quint2x4", R::kDType, {}},
    {"torch", "float8_e4m3fnuz", R::kDType, {}},
    {"torch", "float8_e5m2fnuz", R::kDType, {}},
};

// picklescan's _unsafe_globals and modelscan's unsafe_globals (CRITICAL and HIGH),
// merged, plus a few imports of the same power those lists lack (importlib,
// _posixsubprocess, http.client as Python 3's httplib, torch.hub.load, builtins
// setattr/delattr/globals). A module listed with no names is dangerous as a whole,
// submodules included.
struct DangerousEntry {
  std::string_view module;
  std::array<std::string_view, 16> names;  // empty: the whole module
};

constexpr DangerousEntry kDangerous[] = {
    {"builtins",
     {"eval", "exec", "execfile", "compile", "getattr", "setattr", "delattr", "apply", "open",
      "breakpoint", "__import__", "globals"}},
    {"os", {}},
    {"posix", {}},
    {"nt", {}},
    {"subprocess", {}},
    {"_posixsubprocess", {}},
    {"sys", {}},
    {"socket", {}},
    {"ssl", {}},
    {"shutil", {}},
    {"runpy", {}},
    {"pty", {}},
    {"pdb", {}},
    {"bdb", {}},
    {"pickle", {}},
    {"_pickle", {}},
    {"pip", {}},
    {"pydoc", {}},
    {"timeit", {}},
    {"venv", {}},
    {"webbrowser", {}},
    {"httplib", {}},
    {"http.client", {}},
    {"requests.api", {}},
    {"aiohttp", {}},
    {"asyncio", {}},
    {"ctypes", {}},
    {"commands", {}},
    {"numpy.f2py", {}},
    {"distutils.file_util", {}},
    {"idlelib", {}},
    {"importlib", {}},
    {"functools", {"partial"}},
    {"operator", {"attrgetter", "itemgetter", "methodcaller"}},
    {"code", {"InteractiveInterpreter.runcode", "InteractiveConsole.runcode", "interact"}},
    {"cProfile", {"run", "runctx"}},
    {"profile", {"run", "runctx", "Profile.run", "Profile.runctx"}},
    {"trace", {"Trace.run", "Trace.runctx", "Trace.runfunc"}},
    {"torch.serialization", {"load"}},
    {"torch.hub", {"load", "load_state_dict_from_url"}},
    {"torch._inductor.codecache", {"compile_file"}},
    {"torch.jit.unsupported_tensor_ops", {"execWrapper"}},
};

// Python 3's unpickler renames Python 2 modules for protocols < 3 (fix_imports,
// Lib/_compat_pickle.py); these are the renames that land on a listed module.
constexpr std::pair<std::string_view, std::string_view> kPython2Modules[] = {
    {"__builtin__", "builtins"}, {"exceptions", "builtins"}, {"cPickle", "pickle"},
    {"commands", "subprocess"},  {"httplib", "http.client"},
};

// module equals parent, or is a submodule of it.
bool InModule(std::string_view module, std::string_view parent) {
  return module == parent ||
         (module.size() > parent.size() && module.substr(0, parent.size()) == parent &&
          module[parent.size()] == '.');
}

// name equals listed, or reaches an attribute of it ("partial.func").
bool IsOrUnder(std::string_view name, std::string_view listed) {
  return InModule(name, listed);
}

bool ListedDangerous(std::string_view module, std::string_view name) {
  for (const DangerousEntry& d : kDangerous) {
    if (!InModule(module, d.module)) continue;
    if (d.names[0].empty()) return true;
    // Names are matched on the listed module itself, not its submodules.
    if (module != d.module) continue;
    for (std::string_view n : d.names)
      if (!n.empty() && IsOrUnder(name, n)) return true;
  }
  return false;
}

// Protocol 4 resolves dotted names attribute by attribute, so "OrderedDict.__init__.
// __globals__" reaches anything a module can see: a dunder hop is a sandbox escape.
bool WalksDunder(std::string_view name) {
  if (name.find('.') == std::string_view::npos) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.size() >= 2 && part.substr(0, 2) == "__") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

const AllowedGlobal* FindAllowed(std::string_view module, std::string_view name) {
  for (const AllowedGlobal& a : kAllowed)
    if (a.module == module && a.name == name) return &a;
  return nullptr;
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kSafe:
      return "safe";
    case Severity::kUnknown:
      return "unknown";
    case Severity::kDangerous:
      return "dangerous";
  }
  return "unknown";
}

Severity Classify(std::string_view module, std::string_view name) {
  if (FindAllowed(module, name)) return Severity::kSafe;
  if (ListedDangerous(module, name) || WalksDunder(name)) return Severity::kDangerous;
  for (const auto& [py2, py3] : kPython2Modules)
    if (module == py2 && ListedDangerous(py3, name)) return Severity::kDangerous;
  return Severity::kUnknown;
}

}  // namespace wg::pickle
