// From files on disk to a ModelManifest: the hashing layer under OMS signing.
//
// A model is a folder (every regular file below it, minus ignored paths) or, for a
// package, any list of (name, path) pairs the caller hands over. Files or shards are
// hashed in parallel from memory maps; the result is a sorted ModelManifest and nothing
// else, so the signer never sees a file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/signing/manifest.h"

namespace wg::signing {

// One file of a model: its OMS name and where its bytes are.
struct ModelFile {
  std::string name;  // model-relative POSIX path ("tokenizer/vocab.json")
  std::string path;  // where to read it
  uint64_t size = 0;
  // A span: the model file is bytes [offset, offset + size) of `path` (a blob inside a
  // package's tar), hashed exactly, not to the end of `path`.
  bool span = false;
  uint64_t offset = 0;
};

// The paths model_signing always leaves out of a folder's manifest.
const std::vector<std::string>& GitIgnorePaths();  // .git .gitattributes .github .gitignore

// True if name is an ignore path or lies below one (model_signing's is_relative_to).
bool IsIgnored(std::string_view name, const std::vector<std::string>& ignore_paths);

// Every regular file under root except ignored ones, sorted by name. Symbolic links are
// refused unless allow_symlinks (then a link to a file is hashed as that file, under the
// link's name); sockets, FIFOs and devices are always refused.
Result<std::vector<ModelFile>> ListModelFiles(const std::string& root,
                                              const std::vector<std::string>& ignore_paths,
                                              bool allow_symlinks = false);

// Hashes the files as serialization says (one resource per file, or per shard of
// shard_size bytes; empty files have no shards) on every core.
Result<ModelManifest> HashModelFiles(std::string model_name, const std::vector<ModelFile>& files,
                                     const Serialization& serialization);

// ListModelFiles + HashModelFiles for a folder; the manifest's name is the folder's basename.
// serialization.ignore_paths must already hold every model-relative path to leave out.
Result<ModelManifest> HashModelFolder(const std::string& root, const Serialization& serialization);

}  // namespace wg::signing
