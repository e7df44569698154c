// Parsing REGISTRY/REPO[:TAG][@DIGEST] the way docker, skopeo and oras read it.
#include <algorithm>
#include <cctype>

#include "weightgate/package/registry.h"

namespace wg::package {
namespace {

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) &&
           !std::isupper(static_cast<unsigned char>(c));
  });
}

// distribution's path-component grammar: [a-z0-9]+ separated by '.', '_', '__' or '-'+.
bool ValidRepository(std::string_view repo) {
  if (repo.empty() || repo.size() > 255) return false;
  size_t start = 0;
  while (start <= repo.size()) {
    size_t slash = repo.find('/', start);
    std::string_view part = repo.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(part.front()) || !alnum(part.back())) return false;
    for (size_t i = 0; i < part.size(); ++i) {
      char c = part[i];
      if (alnum(c) || c == '-') continue;
      if (c == '.' || c == '_') {
        if (i + 1 < part.size() && !alnum(part[i + 1]) && !(c == '_' && part[i + 1] == '_'))
          return false;
        continue;
      }
      return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

}  // namespace

Result<ImageReference> ImageReference::Parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error::Usage("invalid image reference: " + why)
        .Field("reference")
        .Expected("REGISTRY/REPOSITORY[:TAG][@sha256:HEX]")
        .Found(std::string(text));
  };
  ImageReference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.substr(0, 7) != "sha256:" || digest.size() != 7 + 64 || !IsHex(digest.substr(7)))
      return bad("digest must be sha256: followed by 64 lowercase hex digits");
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // The registry is the first component when it looks like a host.
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      ref.registry = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  // A tag follows the last ':' after the last '/'.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag))
      return bad("tag '" + ref.tag + "' is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  }
  ref.repository = std::string(rest);
  if (ref.registry.empty()) {
    ref.registry = "docker.io";
    if (ref.repository.find('/') == std::string::npos) ref.repository = "library/" + ref.repository;
  }
  if (ref.registry.empty() || ref.registry.find_first_of(" /\\?#@") != std::string::npos)
    return bad("registry host '" + ref.registry + "' is not a host[:port]");
  if (!ValidRepository(ref.repository))
    return bad("repository '" + ref.repository + "' must be lowercase path components [a-z0-9._-]");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string ImageReference::ApiHost() const {
  return registry == "docker.io" || registry == "index.docker.io" ? "registry-1.docker.io"
                                                                  : registry;
}

std::string ImageReference::ToString() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

}  // namespace wg::package
