// Strict UTF-8 and JSON checks for safetensors headers and index files.
#include <set>
#include <vector>

#include "safetensors_internal.h"

namespace wg::safetensors_detail {

std::optional<uint64_t> FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const uint64_t n = text.size();
  uint64_t i = 0;
  auto cont = [&](uint64_t k, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
  };
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The second byte's range excludes overlong forms (E0, F0), UTF-16 surrogates (ED)
    // and code points past U+10FFFF (F4); C0, C1 and F5..FF never start a sequence.
    uint64_t len = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = cont(1) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      len = cont(1, lo, hi) && cont(2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      len = cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
    }
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

Result<nlohmann::ordered_json> ParseJsonNoDuplicates(std::string_view text, const std::string& file,
                                                     uint64_t base) {
  using Json = nlohmann::ordered_json;
  // The parser reports keys object by object: one set per open object finds repeats, and
  // the key being read in each open object gives the repeat's path ("a.dtype").
  struct OpenObject {
    std::set<std::string> keys;
    std::string current;
  };
  std::vector<OpenObject> open_objects;
  std::optional<std::string> duplicate;
  auto on_event = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key: {
        if (open_objects.empty()) break;
        OpenObject& top = open_objects.back();
        top.current = parsed.get<std::string>();
        if (!top.keys.insert(top.current).second && !duplicate) {
          duplicate.emplace();
          for (const OpenObject& o : open_objects)
            *duplicate += (duplicate->empty() ? "" : ".") + o.current;
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  // nlohmann's lexer takes a raw NUL for the end of input, so "{}\0<anything>" would parse.
  // JSON never allows a raw NUL (inside strings it must be escaped), so refuse it here.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos)
    return Error::Malformed("invalid JSON: raw NUL byte").File(file).Offset(base + nul);
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    // e.byte counts from 1 and may point one past the end (at end of input).
    uint64_t pos = e.byte == 0 ? 0 : e.byte - 1;
    if (pos > text.size()) pos = text.size();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the rest says what broke.
    std::string what = e.what();
    if (size_t bracket = what.find("] "); bracket != std::string::npos) what.erase(0, bracket + 2);
    return Error::Malformed("invalid JSON: " + what).File(file).Offset(base + pos);
  } catch (const Json::exception& e) {
    // Not only parse_error: a number too large for a double (1e999) is out_of_range (406).
    std::string what = e.what();
    if (size_t bracket = what.find("] "); bracket != std::string::npos) what.erase(0, bracket + 2);
    return Error::Malformed("invalid JSON: " + what).File(file).Offset(base);
  }
  if (duplicate)
    return Error::Malformed("duplicate JSON key")
        .File(file)
        .Offset(base)
        .Field(*duplicate)
        .Expected("each key once per object")
        .Found("a repeat");
  return doc;
}

}  // namespace wg::safetensors_detail
