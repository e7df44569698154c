// safetensors: reader and writer.
//
// The reader enforces every rule of the reference implementation
// (safetensors/src/tensor.rs: header cap of 100,000,000 bytes, valid UTF-8 JSON,
// offsets contiguous from 0 with no gaps or overlaps, byte length equal to
// product(shape) x dtype size, buffer ending exactly at the end of the file) and two it
// misses: duplicate tensor names and a tensor named "__metadata__" are refused.
// The writer produces what the reference writer produces: tensors sorted by dtype
// alignment (descending) then name, header padded with spaces to a multiple of 8.
// Sharded checkpoints (model.safetensors.index.json) read as one catalogue.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "weightgate/formats/tensor_catalog.h"

namespace wg {

// safetensors dtype names ("F32", "BF16", "BOOL", "F8_E4M3", ...).
std::optional<DType> SafetensorsDType(std::string_view name);
Result<std::string> SafetensorsDTypeName(DType t);  // Unsupported for quantized types

// Reads one .safetensors file. metadata is {"__metadata__": {...}} when present.
Result<TensorCatalog> ReadSafetensors(const std::string& path);
// Reads a sharded checkpoint from its index file. Shards are read once each, in file-name
// order (model-00001-of-N first), and their tensors listed shard by shard in file order;
// every shard is validated, every tensor must be in the shard the index names, and every
// shard tensor must be in the index. Shard names are confined to the index's folder.
// metadata: {"metadata": index metadata, "__metadata__": the shards' common map} (or
// "shard_metadata": {shard: map} when the shards' maps differ).
Result<TensorCatalog> ReadSafetensorsIndex(const std::string& index_path);

// Writes `tensors` to `path` atomically. metadata becomes __metadata__ (omitted if empty).
// The bytes equal the reference writer's for the same input, except that the reference
// orders several metadata keys at random and we sort them.
Status WriteSafetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                        std::vector<TensorWriteSpec> tensors);

}  // namespace wg
