// TensorCatalog: the one view of a model file that every verb works from.
//
// Whatever the format (safetensors, GGUF, a PyTorch zip checkpoint, a llama2.c
// checkpoint), a reader produces the same catalogue: each tensor's name, dtype, shape
// and where its bytes lie in a memory-mapped file, plus the format's metadata. No tensor
// bytes are copied or loaded: a catalogue of a 100 GB model costs a few kilobytes.
//
// Shapes are always outermost-first (the numpy/torch order), also for GGUF, whose files
// list dimensions innermost-first; readers and writers do the reversal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "weightgate/core/dtype.h"
#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg {

enum class Format { kSafetensors, kGguf, kPyTorch, kLlama2c };
const char* FormatName(Format f);  // "safetensors", "gguf", "pytorch", "llama2c"

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;  // outermost first
  // The file holding the bytes (kept mapped while any TensorInfo refers to it).
  std::shared_ptr<const MappedFile> file;
  uint64_t offset = 0;  // absolute offset of the first byte in `file`
  uint64_t nbytes = 0;  // bytes from `offset` that the tensor reads
  // Element strides, outermost first, for a strided view into a storage (PyTorch
  // transposed or sliced tensors). Empty means C-contiguous: the tensor is exactly
  // nbytes bytes in row-major order.
  std::vector<int64_t> strides;

  bool contiguous() const { return strides.empty(); }
  Bytes data() const { return file->bytes().subspan(offset, nbytes); }
  uint64_t elements() const;  // product of shape (validated by the reader)
};

struct TensorCatalog {
  Format format = Format::kSafetensors;
  std::vector<std::string> files;   // the files read, in order (shards, tokenizer)
  std::vector<TensorInfo> tensors;  // in file order
  // Format metadata, for display and for converters: safetensors' __metadata__ (a
  // string map), GGUF key/values (arrays longer than 64 elements summarized only in
  // Summarize(); the full values are in the GGUF reader), llama2.c's config, a
  // checkpoint's non-tensor entries.
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();

  const TensorInfo* Find(const std::string& name) const;
  uint64_t ParameterCount() const;
  uint64_t TotalBytes() const;
};

// A tensor to be written: the header fields and a producer of its bytes, called once,
// which must pass exactly `nbytes` bytes to `sink` in order (in as many calls as it
// likes). Writers compute every header field before any data, so they stream.
using ByteSink = std::function<Status(Bytes)>;
struct TensorWriteSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;  // outermost first
  uint64_t nbytes = 0;
  std::function<Status(const ByteSink& sink)> produce;
};

// A spec that copies a contiguous catalogue tensor unchanged.
TensorWriteSpec CopyTensor(const TensorInfo& t);

// Options for opening any supported path.
struct OpenOptions {
  std::string tokenizer;  // llama2.c: tokenizer file to use instead of the one found beside
};

// Detects the format of `path` (a file, a sharded safetensors or PyTorch index, or a folder
// holding one model: model.safetensors.index.json, one *.safetensors, pytorch_model*.bin
// shards, one *.gguf or one llama2.c checkpoint) and reads its catalogue.
Result<TensorCatalog> OpenCatalog(const std::string& path, const OpenOptions& options = {});

// The format of what OpenCatalog would read at `path` (a file by its first bytes, then its
// name; an index by its name; a folder by the model files in it); nullopt if unknown.
// llama2.c files have no magic in v0: they are recognised by a consistent header that
// predicts the exact file size.
std::optional<Format> DetectFormat(const std::string& path);

}  // namespace wg
