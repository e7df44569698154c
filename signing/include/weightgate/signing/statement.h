// The in-toto statement OMS signs: a ModelManifest as the model_signing predicate.
//
//   {"_type": "https://in-toto.io/Statement/v1",
//    "subject": [{"name": <model name>, "digest": {"sha256": <root digest>}}],
//    "predicateType": "https://model_signing/signature/v1.0",
//    "predicate": {"serialization": {...}, "resources": [{"name", "algorithm", "digest"}]}}
//
// The root digest is SHA-256 over the raw resource digests in listed order, whatever the
// resource hash. Reading also accepts the pre-1.0 predicate "https://model_signing/Digests/v0.1"
// (one subject per file, SHA-256).
#pragma once

#include <string>
#include <string_view>

#include "weightgate/core/error.h"
#include "weightgate/signing/manifest.h"

namespace wg::signing {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kPredicateType = "https://model_signing/signature/v1.0";
inline constexpr std::string_view kPredicateTypeV01 = "https://model_signing/Digests/v0.1";

// The statement as UTF-8 JSON (2-space indent, like model_signing). Fails on file names
// that are not valid UTF-8, which JSON cannot carry.
Result<std::string> StatementJson(const ModelManifest& manifest);

// Parses a signed statement back into the manifest it vouches for: checks _type,
// predicateType, one subject whose digest matches the resources, every resource name
// (no absolute or ".." paths, no duplicates) and the serialization parameters.
Result<ModelManifest> ManifestFromStatement(std::string_view payload);

}  // namespace wg::signing
