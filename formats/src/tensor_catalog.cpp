#include "weightgate/formats/tensor_catalog.h"

namespace wg {

const char* FormatName(Format f) {
  switch (f) {
    case Format::kSafetensors: return "safetensors";
    case Format::kGguf: return "gguf";
    case Format::kPyTorch: return "pytorch";
    case Format::kLlama2c: return "llama2c";
  }
  return "unknown";
}

uint64_t TensorInfo::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

const TensorInfo* TensorCatalog::Find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

uint64_t TensorCatalog::ParameterCount() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.elements();
  return n;
}

uint64_t TensorCatalog::TotalBytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.nbytes;
  return n;
}

TensorWriteSpec CopyTensor(const TensorInfo& t) {
  TensorWriteSpec s;
  s.name = t.name;
  s.dtype = t.dtype;
  s.shape = t.shape;
  s.nbytes = t.nbytes;
  // Copy in 16 MiB pieces and drop each from the resident set once written.
  s.produce = [t](const ByteSink& sink) -> Status {
    constexpr uint64_t kChunk = 16 << 20;
    for (uint64_t off = 0; off < t.nbytes; off += kChunk) {
      uint64_t n = std::min(kChunk, t.nbytes - off);
      WG_TRY(sink(t.file->bytes().subspan(t.offset + off, n)));
      t.file->Release(t.offset + off, n);
    }
    return Ok();
  };
  return s;
}

}  // namespace wg
