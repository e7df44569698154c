// OCI image layout: reading and writing a folder (oci-layout, index.json,
// blobs/sha256/<hex>) or one uncompressed tar of such a folder.
//
// This is the storage layer under pack, unpack, inspect, push and pull. It knows
// descriptors, manifests, indexes and blobs; it knows nothing of models (package.h does).
//
// Reading never trusts the layout: blob names must be sha256 digests, tar entries must be
// regular files or the two blob directories (no links, devices, duplicates), and every
// blob handed out is checked against its descriptor's size; digests are checked while
// the bytes stream (Stream, ReadVerified). Blobs are memory-mapped spans of the blob file
// or of the tar itself, so reading a 100 GB package keeps the resident set flat.
//
// Writing is deterministic and atomic: the same blobs and index give the same bytes
// (tar: fixed mtime, uid/gid 0, mode 0644, sorted by the caller's order, no host names);
// nothing appears at the output path until Commit(), and an abandoned writer removes
// its temporary files.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"
#include "weightgate/core/progress.h"
#include "weightgate/package/media_types.h"

namespace wg::oci {

// "sha256:<64 lowercase hex>"; anything else is refused (kMalformed, or kUnsupported for
// another algorithm).
Status ValidateDigest(std::string_view digest);

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  uint64_t size = 0;
  std::string artifact_type;                       // empty = absent
  std::map<std::string, std::string> annotations;  // sorted, so JSON is deterministic

  // The annotation's value, or "" when absent.
  std::string Annotation(std::string_view key) const;
  nlohmann::ordered_json ToJson() const;
  // `where` names the document and field for errors ("manifest: layers[3]").
  static Result<Descriptor> FromJson(const nlohmann::json& j, const std::string& where);
};

struct Manifest {
  std::string media_type = std::string(kOciManifest);
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  std::optional<Descriptor> subject;

  // Compact JSON with keys in a fixed order: the bytes whose digest names the manifest.
  std::string Serialize() const;
  static Result<Manifest> Parse(std::string_view json, const std::string& where);
};

struct Index {
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;

  std::string Serialize() const;
  static Result<Index> Parse(std::string_view json, const std::string& where);
};

// Where a blob's bytes lie: a span of a memory-mapped file (a blob file, or the tar).
struct BlobData {
  std::shared_ptr<const MappedFile> file;
  uint64_t offset = 0;
  uint64_t size = 0;
  Bytes bytes() const { return file->bytes().subspan(offset, size); }
};

// Receives a blob's bytes in order, in as many calls as the reader likes.
using BlobSink = std::function<Status(Bytes)>;

class LayoutReader {
 public:
  // Opens a layout folder, or a tar of one (any other file). A tar is checked whole
  // before this returns: entry types, names, duplicates, truncation.
  static Result<std::unique_ptr<LayoutReader>> Open(const std::string& path);
  virtual ~LayoutReader() = default;

  virtual bool is_tar() const = 0;
  const std::string& path() const { return path_; }
  const Index& index() const { return index_; }

  // Digests of every blob present, sorted.
  virtual std::vector<std::string> BlobDigests() const = 0;
  virtual bool HasBlob(const std::string& digest) const = 0;
  // The blob's bytes, unverified, after checking it exists and its size equals d.size.
  // Errors name `what` (e.g. "layer 3 (model.safetensors)").
  virtual Result<BlobData> Blob(const Descriptor& d, const std::string& what = "") const = 0;

  // Reads a small blob (manifest, config) whole and checks its size and digest.
  Result<std::string> ReadVerified(const Descriptor& d, const std::string& what = "",
                                   uint64_t max_bytes = 16 << 20) const;
  // Streams a blob to `sink` in chunks, hashing in the same pass; returns kMismatch after
  // the last chunk if the digest differs (the caller discards what it wrote). Pages
  // already streamed leave the resident set.
  Status Stream(const Descriptor& d, const BlobSink& sink, Progress* progress = nullptr,
                const std::string& what = "") const;

  // The manifest named by `ref` (org.opencontainers.image.ref.name), or the only one
  // when ref is empty. `descriptor`, if given, receives its index entry.
  Result<Manifest> ReadManifest(const std::string& ref = "",
                                Descriptor* descriptor = nullptr) const;

 protected:
  std::string path_;
  Index index_;
};

// A blob arriving in pieces (e.g. pulled from a registry). Destroying it before
// Finish() discards it.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Write(Bytes data) = 0;
  // Checks the size and, when one was given, the expected digest; returns the
  // descriptor (media type as passed to BeginBlob).
  virtual Result<Descriptor> Finish() = 0;
};

struct WriterOptions {
  bool tar = false;  // one .tar file instead of a folder
  // Modification time of every tar entry (SOURCE_DATE_EPOCH by convention; 0 default).
  int64_t mtime = 0;
  // Folder output: clone files with FICLONE where the file system allows (a reflink shares
  // extents copy-on-write, so later edits to the source cannot reach the package).
  bool reflink = true;
  // Replace an existing package at the path on Commit (otherwise refuse).
  bool replace = false;
};

class LayoutWriter {
 public:
  static Result<std::unique_ptr<LayoutWriter>> Create(const std::string& path,
                                                      const WriterOptions& options);
  virtual ~LayoutWriter() = default;

  // Adds a file's bytes as a blob, hashing while it copies (each input byte read once).
  // A blob already added (same digest) is not stored twice.
  virtual Result<Descriptor> AddFile(const std::string& src, std::string_view media_type,
                                     Progress* progress = nullptr) = 0;
  virtual Result<Descriptor> AddBytes(std::string_view data, std::string_view media_type) = 0;
  // A blob of known size written in pieces; expected_digest ("" = none) is verified at
  // Finish. One BlobWriter at a time (a tar is sequential).
  virtual Result<std::unique_ptr<BlobWriter>> BeginBlob(uint64_t size, std::string_view media_type,
                                                        std::string expected_digest = "") = 0;
  // Writes index.json (and oci-layout), syncs, and moves the package into place.
  virtual Status Commit(const Index& index) = 0;
};

// SOURCE_DATE_EPOCH from the environment when set and valid, else 0.
int64_t SourceDateEpoch();

}  // namespace wg::oci
