// ScanPath: structural validation of every model file under a path, and the imports of
// every pickle, without executing anything. The readers do the format checks (each
// refuses what its reference implementation refuses); on top of that every tensor's
// span is checked against its file once more, so a reader bug cannot hide a bad span.
#include <algorithm>
#include <filesystem>

#include "weightgate/formats/inspect.h"

namespace wg {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

bool IsMalformedCode(ErrorCode c) {
  return c == ErrorCode::kMalformed || c == ErrorCode::kUnsupported || c == ErrorCode::kIo ||
         c == ErrorCode::kUsage;
}

// Every tensor lies inside its file, and a contiguous one is exactly shape x dtype bytes.
void CheckSpans(const TensorCatalog& cat, FileScan& f) {
  for (const TensorInfo& t : cat.tensors) {
    const std::string file = t.file ? t.file->path() : f.path;
    uint64_t end = 0;
    if (!t.file || __builtin_add_overflow(t.offset, t.nbytes, &end) || end > t.file->size()) {
      f.problems.push_back(Error::Malformed("tensor bytes lie outside the file")
                               .File(file)
                               .Offset(t.offset)
                               .Field(t.name)
                               .Expected("end <= " + std::to_string(t.file ? t.file->size() : 0))
                               .Found(std::to_string(t.offset) + " + " + std::to_string(t.nbytes)));
      continue;
    }
    if (!t.contiguous()) continue;
    auto elements = ElementCount(t.shape);
    auto bytes = elements.ok() ? ByteSize(t.dtype, *elements) : Result<uint64_t>(elements.error());
    if (!bytes.ok() || *bytes != t.nbytes)
      f.problems.push_back(
          Error::Malformed("tensor byte length does not match shape and dtype")
              .File(file)
              .Offset(t.offset)
              .Field(t.name)
              .Expected(bytes.ok() ? std::to_string(*bytes) + " bytes" : bytes.error().message())
              .Found(std::to_string(t.nbytes) + " bytes"));
  }
}

FileScan ScanFile(const std::string& path, bool named) {
  FileScan f;
  f.path = path;
  f.format = DetectFormat(path);
  if (!f.format) {
    // A file the user named must be a model; in a folder, other files are skipped.
    if (named) {
      auto why = OpenCatalog(path);  // the most specific reason it is not one
      f.problems.push_back(why.ok() ? Error::Unsupported("not a recognised model file").File(path)
                                    : why.error());
    }
    return f;
  }
  if (*f.format == Format::kPyTorch && !fs::path(path).filename().string().ends_with(".json")) {
    auto scan = ScanPickles(path);
    if (!scan.ok()) {
      f.problems.push_back(scan.error());
      return f;
    }
    f.pickle = std::move(scan).value();
    // Unsafe: reported by the globals; reading on would add nothing. Bare pickles hold no
    // tensors weightgate reads, so their globals are all there is to check.
    if (!f.pickle->safe() || f.pickle->legacy) return f;
  }
  auto cat = OpenCatalog(path);
  if (!cat.ok()) {
    f.problems.push_back(cat.error());
    return f;
  }
  f.tensors = cat->tensors.size();
  CheckSpans(*cat, f);
  return f;
}

}  // namespace

bool FileScan::unsafe() const {
  if (pickle && !pickle->safe()) return true;
  return std::any_of(problems.begin(), problems.end(),
                     [](const Error& e) { return e.code() == ErrorCode::kUnsafe; });
}

bool FileScan::malformed() const {
  return std::any_of(problems.begin(), problems.end(),
                     [](const Error& e) { return IsMalformedCode(e.code()); });
}

bool ScanReport::unsafe() const {
  return std::any_of(files.begin(), files.end(), [](const FileScan& f) { return f.unsafe(); });
}
bool ScanReport::malformed() const {
  return std::any_of(files.begin(), files.end(), [](const FileScan& f) { return f.malformed(); });
}
bool ScanReport::clean() const {
  return std::none_of(files.begin(), files.end(), [](const FileScan& f) { return f.failed(); });
}

ScanReport ScanPath(const std::string& path) {
  ScanReport r;
  r.path = path;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    r.files.push_back(ScanFile(path, true));
    return r;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) r.files.push_back(ScanFile(n, false));
  if (std::none_of(r.files.begin(), r.files.end(), [](const FileScan& f) { return f.format; })) {
    FileScan none;
    none.path = path;
    none.problems.push_back(Error::Usage("no model file in folder").File(path));
    r.files.push_back(std::move(none));
  }
  return r;
}

Json ErrorJson(const Error& e) {
  Json j;
  j["code"] = ErrorCodeName(e.code());
  j["message"] = e.message();
  if (e.file()) j["file"] = *e.file();
  if (e.offset()) j["offset"] = *e.offset();
  if (e.field()) j["field"] = *e.field();
  if (e.expected()) j["expected"] = *e.expected();
  if (e.found()) j["found"] = *e.found();
  j["text"] = e.ToString();
  return j;
}

Json ScanJson(const ScanReport& r) {
  Json j;
  j["path"] = r.path;
  j["clean"] = r.clean();
  j["unsafe"] = r.unsafe();
  j["malformed"] = r.malformed();
  Json files = Json::array();
  for (const FileScan& f : r.files) {
    Json e;
    e["path"] = f.path;
    e["format"] = f.format ? Json(FormatName(*f.format)) : Json(nullptr);
    e["status"] = f.unsafe()      ? "unsafe"
                  : f.malformed() ? "malformed"
                  : f.failed()    ? "failed"
                  : !f.format     ? "skipped"
                                  : "ok";
    e["tensors"] = f.tensors;
    Json problems = Json::array();
    for (const Error& p : f.problems) problems.push_back(ErrorJson(p));
    e["problems"] = std::move(problems);
    if (f.pickle) {
      Json globals = Json::array();
      uint64_t unsafe = 0;
      for (const PickleGlobal& g : f.pickle->globals) {
        unsafe += !g.safe;
        globals.push_back({{"module", g.module},
                           {"name", g.name},
                           {"global", g.module + "." + g.name},
                           {"safe", g.safe},
                           {"severity", g.severity},
                           {"pickle", g.pickle},
                           {"offset", g.offset}});
      }
      e["pickle"] = {{"legacy", f.pickle->legacy},
                     {"globals", std::move(globals)},
                     {"unsafe_globals", unsafe}};
    }
    files.push_back(std::move(e));
  }
  j["files"] = std::move(files);
  return j;
}

}  // namespace wg
