// The model a reading verb (convert, gpu-check) works on: a plain file or folder, or a
// package opened under its release policy.
//
// A package is checked against its policy before any byte is read: the operation must be
// allowed, gated/closed weights need an identity (and a grant), an `acceptance: required`
// licence needs a receipt. It is then unpacked (decrypted, for a sealed release) into a
// private folder (mode 0700) beside the verb's output, and that folder is removed when the
// ModelInput goes away, so plaintext of a gated release lives only as long as the verb.
// A plain file or folder that carries an inherited policy (weightgate-policy.yaml beside it,
// written by `convert`) is held to that policy the same way.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "package_gating.h"
#include "policy_source.h"

namespace wg::cli {

// Where a derivative's inherited policy and parent record live beside it.
inline constexpr char kInheritedPolicyFile[] = "weightgate-policy.yaml";
inline constexpr char kParentFile[] = "weightgate-parent.json";

struct ModelInputOptions {
  std::string operation;  // run | convert | quantize
  GatingUnpackOptions gate;
  std::string receipt;
  std::string scratch_parent;  // folder for the private unpack ("" = the system temp folder)
  std::string tokenizer;       // llama2.c tokenizer given on the command line
};

struct ModelInput {
  std::string path;       // what to read: a model file or a Hugging Face folder
  std::string tokenizer;  // llama2.c tokenizer (given, or found in the package)
  std::optional<LoadedPolicy> policy;
  std::string parent_digest;  // the package's manifest digest, or sha256:<hex> of the file
  std::string parent_name;    // the package's name[:version], or the file name
  std::string scratch;        // private folder removed by the destructor ("" if none)

  ModelInput() = default;
  ModelInput(const ModelInput&) = delete;
  ModelInput& operator=(const ModelInput&) = delete;
  ~ModelInput();
};

Result<std::unique_ptr<ModelInput>> OpenModelInput(const std::string& in,
                                                   const ModelInputOptions& o);

// --identity, --grant, --passphrase-file and --receipt, as unpack takes them.
void AddModelInputFlags(CLI::App* cmd, ModelInputOptions* o);

}  // namespace wg::cli
