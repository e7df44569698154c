// ScanPickles: the imports of every pickle in a torch checkpoint or a bare pickle.
#include <algorithm>
#include <filesystem>

#include "pickle_scanner.h"
#include "weightgate/formats/pytorch.h"
#include "zip_reader.h"

namespace wg {
namespace {

constexpr uint64_t kMaxPickleBytes = 256 << 20;

// A legacy (pre-1.6) torch.save file starts with a pickle of its magic number
// 0x1950a86a20f9469cfc6c (PROTO 2, LONG1 of 10 bytes, STOP), then four more pickles:
// protocol version, sys_info, the object, the storage keys. Raw storage bytes follow.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr size_t kLegacyPickles = 5;
constexpr size_t kMaxPicklesInFile = 1 << 20;

bool AnyUnsafe(const std::vector<PickleGlobal>& globals, size_t from) {
  return std::any_of(globals.begin() + static_cast<ptrdiff_t>(from), globals.end(),
                     [](const PickleGlobal& g) { return !g.safe; });
}

// Scans pickles laid end to end. The first `required` are what a loader reads and
// must be well-formed; after them, bytes that are not a complete pickle are data.
Status ScanSequence(Bytes data, const std::string& display, const std::string& name,
                    size_t required, size_t max_count, std::vector<PickleGlobal>* out) {
  uint64_t pos = 0;
  for (size_t i = 0; i < max_count && pos < data.size(); ++i) {
    const size_t before = out->size();
    Result<uint64_t> used = pickle::ScanOne(data.subspan(pos), pos, display, name, out);
    if (used.ok()) {
      pos += *used;
      continue;
    }
    // A streaming unpickler has already imported (and run) what came before the
    // fault, so unsafe imports found there are the finding, not the fault.
    if (i < required) {
      if (AnyUnsafe(*out, 0)) return Ok();
      return std::move(used).error();
    }
    if (!AnyUnsafe(*out, before)) out->resize(before);
    return Ok();
  }
  if (pos == 0 && required > 0) return Error::Malformed("empty file: no pickle").File(display);
  return Ok();
}

}  // namespace

bool PickleScan::safe() const {
  return std::all_of(globals.begin(), globals.end(), [](const PickleGlobal& g) { return g.safe; });
}

Result<PickleScan> ScanPickles(const std::string& path) {
  WG_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const Bytes all = file->bytes();
  PickleScan scan;
  if (!zip::LooksLikeZip(all.first(std::min<uint64_t>(all.size(), 4)))) {
    scan.legacy = true;
    const bool torch_legacy =
        all.size() >= sizeof kLegacyMagic &&
        std::equal(std::begin(kLegacyMagic), std::end(kLegacyMagic), all.begin());
    const std::string name = std::filesystem::path(path).filename().string();
    WG_TRY(ScanSequence(all, path, name, torch_legacy ? kLegacyPickles : 1,
                        torch_legacy ? kLegacyPickles : kMaxPicklesInFile, &scan.globals));
    return scan;
  }
  WG_ASSIGN_OR_RETURN(zip::ZipArchive zip, zip::ZipArchive::Open(file));
  for (const zip::Entry& e : zip.entries()) {
    if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".pkl") != 0) continue;
    WG_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, zip.ReadSmall(e, kMaxPickleBytes));
    // torch reads one pickle per record; bytes after its STOP are never unpickled.
    WG_TRY(ScanSequence(bytes, path + ":" + e.name, e.name, 1, 1, &scan.globals));
  }
  return scan;
}

}  // namespace wg
