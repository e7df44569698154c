// validate's reports: JSON, and JUnit XML for CI systems.
#include <cstdio>

#include "weightgate/verify/validate.h"

namespace wg::verify {

using Json = nlohmann::ordered_json;

Json ValidateJson(const ValidateReport& report) {
  Json j;
  j["path"] = report.path;
  j["kind"] = report.kind;
  j["outcome"] = OutcomeName(report.Outcome());
  j["summary"] = {{"passed", report.Count(CheckStatus::kPassed)},
                  {"failed", report.Count(CheckStatus::kFailed)},
                  {"skipped", report.Count(CheckStatus::kSkipped)},
                  {"error", report.Count(CheckStatus::kError)}};
  j["checks"] = Json::array();
  for (const auto& c : report.checks)
    j["checks"].push_back({{"name", c.name},
                           {"status", CheckStatusName(c.status)},
                           {"message", c.message},
                           {"details", c.details},
                           {"duration_s", c.seconds},
                           {"failure_class", FailureClassName(c.failure)}});
  return j;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (overlong forms, surrogates and code
// points above U+10FFFF are invalid too).
size_t Utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;                                     // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;                                    // surrogate
    if (c == 0xEF && b(1) == 0xBF && (b(2) == 0xBE || b(2) == 0xBF)) return 0;  // U+FFFE/F
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

std::string Attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + XmlEscape(value) + "\"";
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&apos;";
        ++i;
        continue;
      case '\t':
        out += "&#9;";
        ++i;
        continue;  // kept in attribute values
      case '\n':
        out += "&#10;";
        ++i;
        continue;
      case '\r':
        out += "&#13;";
        ++i;
        continue;
      default:
        break;
    }
    size_t n = Utf8Length(text, i);
    if (n == 0 || (n == 1 && static_cast<unsigned char>(c) < 0x20) || c == 0x7F) {
      out += kReplacement;  // XML 1.0 cannot carry it, not even as a character reference
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string ValidateJunitXml(const ValidateReport& report) {
  double total = 0;
  for (const auto& c : report.checks) total += c.seconds;
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string counts = Attr("tests", std::to_string(report.checks.size())) +
                             Attr("failures", std::to_string(report.Count(CheckStatus::kFailed))) +
                             Attr("errors", std::to_string(report.Count(CheckStatus::kError))) +
                             Attr("skipped", std::to_string(report.Count(CheckStatus::kSkipped))) +
                             Attr("time", Seconds(total));
  x += "<testsuites" + Attr("name", "weightgate validate") + counts + ">\n";
  x += "  <testsuite" + Attr("name", "weightgate validate") + counts + ">\n";
  x += "    <properties>\n";
  x += "      <property" + Attr("name", "path") + Attr("value", report.path) + "/>\n";
  x += "      <property" + Attr("name", "kind") + Attr("value", report.kind) + "/>\n";
  x += "      <property" + Attr("name", "outcome") + Attr("value", OutcomeName(report.Outcome())) +
       "/>\n";
  x += "    </properties>\n";
  for (const auto& c : report.checks) {
    x += "    <testcase" + Attr("classname", "weightgate.validate." + report.kind) +
         Attr("name", c.name) + Attr("time", Seconds(c.seconds));
    std::string body;
    for (const auto& d : c.details) body += d + "\n";
    switch (c.status) {
      case CheckStatus::kPassed:
        x += body.empty() ? "/>\n"
                          : ">\n      <system-out>" + XmlEscape(c.message + "\n" + body) +
                                "</system-out>\n    </testcase>\n";
        continue;
      case CheckStatus::kSkipped:
        x += ">\n      <skipped" + Attr("message", c.message) + "/>\n    </testcase>\n";
        continue;
      case CheckStatus::kFailed:
      case CheckStatus::kError: {
        const char* tag = c.status == CheckStatus::kFailed ? "failure" : "error";
        x += ">\n      <" + std::string(tag) + Attr("message", c.message) +
             Attr("type", FailureClassName(c.failure)) + ">" + XmlEscape(body) + "</" + tag +
             ">\n    </testcase>\n";
        continue;
      }
    }
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

}  // namespace wg::verify
