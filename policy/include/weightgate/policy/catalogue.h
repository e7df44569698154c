// The built-in licence catalogue: common model licences as policies.
//
// Each entry encodes the clauses a machine can check (a user cap, a field of use, a
// name prefix, a notice to ship) and cites the licence section each one encodes. The
// citations come from docs/policy.md's sources; where the section number is not
// confirmed the clause text says so instead of guessing one.
#pragma once

#include <string>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/policy/policy.h"

namespace wg::policy {

struct CatalogueEntry {
  std::string key;     // what --license takes: "llama3.1", "apache-2.0", ...
  std::string name;    // "Llama 3.1 Community License"
  std::string spdx;    // SPDX id or LicenseRef-...
  std::string hf_id;   // Hugging Face licence id, "" if none
  std::string source;  // where the clause citations come from
};

const std::vector<CatalogueEntry>& Catalogue();
// Accepts the key, the SPDX id or the HF id, case-insensitively.
Result<Policy> PolicyFromCatalogue(const std::string& name);

}  // namespace wg::policy
