// An OCI distribution (registry v2) client: blobs and manifests over HTTP(S) with libcurl.
//
// What it does for a release engineer pushing multi-gigabyte weights:
//  - skips blobs the registry already has (HEAD), so a new version that shares its weights
//    uploads only what changed; mounts blobs from another repository of the same registry
//    instead of uploading them (mount_from);
//  - uploads small blobs in one PUT and large ones in chunks (PATCH with Content-Range), each
//    chunk streamed from disk: no blob is ever held whole in memory;
//  - retries with exponential backoff on 5xx/429 answers and dropped connections (bounded);
//  - resumes pulls: a partial blob file is continued with a Range request, and every pulled
//    byte is hashed while written; a blob whose SHA-256 differs is deleted and refused;
//  - authenticates with the registry's WWW-Authenticate challenge: Bearer tokens
//    (realm/service/scope) or Basic, with credentials from WEIGHTGATE_REGISTRY_USER /
//    WEIGHTGATE_REGISTRY_PASSWORD or ~/.docker/config.json ($DOCKER_CONFIG/config.json) "auths".
//
// Thread safety: one RegistryClient per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg::package {

// REGISTRY/REPO[:TAG][@sha256:HEX]. The registry part is the first path component when it
// looks like a host (has '.' or ':' or is "localhost"); otherwise docker.io, whose one-part
// repositories live under "library/". No tag and no digest means ":latest".
struct ImageReference {
  std::string registry;    // "127.0.0.1:5000", "ghcr.io", "docker.io"
  std::string repository;  // "team/model"
  std::string tag;         // may be empty when digest is set
  std::string digest;      // "sha256:<hex>" or empty

  static Result<ImageReference> Parse(std::string_view text);
  // The tag or digest as used in /v2/<repo>/manifests/<ref> (digest wins).
  std::string ManifestRef() const { return digest.empty() ? tag : digest; }
  // The host the API answers on ("registry-1.docker.io" for docker.io).
  std::string ApiHost() const;
  std::string ToString() const;
};

struct RegistryOptions {
  bool plain_http = false;  // http:// instead of https:// (loopback test registries)
  // A PEM file of CA certificates to trust for https (a private registry's own CA); empty = the
  // system store. Certificates are always verified.
  std::string ca_file;
  // Blobs up to this size go in one PUT; larger ones in PATCH chunks of chunk_size.
  uint64_t monolithic_max = 64ull << 20;
  uint64_t chunk_size = 64ull << 20;
  int max_attempts = 5;  // per request, counting the first
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8000};
  long connect_timeout_s = 30;
  // A transfer slower than 1 KiB/s for this long counts as dropped (and is retried).
  long stall_timeout_s = 60;
  // Repositories on the same registry to mount blobs from before uploading them.
  std::vector<std::string> mount_from;
  // Explicit credentials; when empty, the environment and the Docker config are consulted.
  std::string username;
  std::string password;
  bool progress = true;  // byte progress bars on a terminal
};

// What a transfer did, so callers (and tests) can see that a shared blob was not re-sent.
struct TransferStats {
  uint64_t blobs_skipped = 0;   // registry already had it (push) / local copy valid (pull)
  uint64_t blobs_mounted = 0;   // cross-repository mount
  uint64_t blobs_uploaded = 0;  // bytes actually sent
  uint64_t blobs_downloaded = 0;
  uint64_t blobs_resumed = 0;  // pulls continued from a partial file
  uint64_t chunks_uploaded = 0;
  uint64_t bytes_uploaded = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t retries = 0;
};

struct FetchedManifest {
  std::string media_type;
  std::string digest;  // sha256 of bytes, checked against the requested digest
  std::string bytes;
};

class RegistryClient {
 public:
  // The client talks to one registry host; repository names are per call.
  static Result<std::unique_ptr<RegistryClient>> Create(const std::string& registry_host,
                                                        RegistryOptions options);
  virtual ~RegistryClient() = default;

  // Whether the registry holds the blob (HEAD /v2/<repo>/blobs/<digest>).
  virtual Result<bool> BlobExists(const std::string& repo, const std::string& digest) = 0;
  // Uploads `size` bytes of `path` starting at `offset` as blob `digest`, unless the registry
  // already has it or it can be mounted from options.mount_from.
  virtual Status PushBlob(const std::string& repo, const std::string& digest,
                          const std::string& path, uint64_t offset, uint64_t size) = 0;
  // Uploads a small in-memory blob (config, manifest-sized data).
  virtual Status PushBlobBytes(const std::string& repo, const std::string& digest,
                               std::string_view bytes) = 0;
  // Downloads blob `digest` to `dest`. Bytes go to `dest + ".part"` first; an existing .part is
  // continued with a Range request (after re-hashing what it holds). On a verified digest the
  // .part is renamed to dest; on a mismatch it is deleted and a kMismatch error returned.
  // `expected_size` < 0 means unknown.
  virtual Status PullBlob(const std::string& repo, const std::string& digest, int64_t expected_size,
                          const std::string& dest) = 0;
  // Streams blob `digest` of `size` bytes to `sink`, in order, exactly once each: a dropped
  // connection continues with a Range request, and a registry that ignores Range has the bytes
  // already delivered skipped. The sink verifies the digest (a LayoutWriter BlobWriter given
  // the expected digest does), so each byte is hashed once; the size is checked here.
  virtual Status PullBlobStream(const std::string& repo, const std::string& digest, uint64_t size,
                                const std::function<Status(Bytes)>& sink) = 0;
  // PUT /v2/<repo>/manifests/<ref>; returns the manifest's digest.
  virtual Result<std::string> PushManifest(const std::string& repo, const std::string& ref,
                                           const std::string& media_type,
                                           std::string_view bytes) = 0;
  // GET with Accept for OCI manifest and index (and Docker schema 2). When ref is a digest the
  // bytes must hash to it.
  virtual Result<FetchedManifest> PullManifest(const std::string& repo, const std::string& ref) = 0;

  virtual const TransferStats& stats() const = 0;
  // A byte total for progress bars spanning several blobs (0 = one bar per blob).
  virtual void BeginProgress(const std::string& label, uint64_t total_bytes) = 0;
  virtual void EndProgress() = 0;
};

// Credentials for a registry host: WEIGHTGATE_REGISTRY_USER / WEIGHTGATE_REGISTRY_PASSWORD
// first, then the "auths" entry of $DOCKER_CONFIG/config.json (default ~/.docker/config.json)
// whose key is the host or a URL naming it. Empty optional when none is configured.
struct RegistryCredentials {
  std::string username;
  std::string password;
};
Result<std::optional<RegistryCredentials>> LookupCredentials(const std::string& registry_host);

}  // namespace wg::package
