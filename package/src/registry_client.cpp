// The OCI distribution client: blob and manifest transfers with auth, retries and resume.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "http_client.h"
#include "registry_auth.h"
#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"
#include "weightgate/core/progress.h"
#include "weightgate/package/registry.h"
#include "write_batcher.h"

namespace wg::package {
namespace {

constexpr const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

// A 206 answer to "Range: bytes=POS-" must start at POS (Content-Range: bytes S-E/T).
Status CheckRangeStart(const HttpResponse& resp, uint64_t pos, const std::string& url) {
  std::string cr = resp.Header("content-range");
  auto sp = cr.find(' ');
  uint64_t start =
      sp == std::string::npos ? UINT64_MAX : std::strtoull(cr.c_str() + sp + 1, nullptr, 10);
  if (start != pos)
    return Error::Io("registry answered another range than asked")
        .Field(url)
        .Expected("bytes " + std::to_string(pos) + "-")
        .Found(cr);
  return Ok();
}

Status CheckDigest(const std::string& digest) {
  auto d = Digest::Parse(digest);
  if (!d.ok() || d->algo != HashAlgo::kSha256 || d->Prefixed() != digest)
    return Error::Malformed("not a sha256 digest")
        .Field("digest")
        .Expected("sha256:<64 lowercase hex>")
        .Found(digest);
  return Ok();
}

// "registry said: BLOB_UNKNOWN: blob unknown to registry" from the JSON error body.
std::string RegistryErrors(const HttpResponse& r) {
  nlohmann::json doc = nlohmann::json::parse(r.body, nullptr, false);
  std::string out;
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array()) {
    for (const auto& e : doc["errors"]) {
      if (!e.is_object()) continue;
      if (!out.empty()) out += "; ";
      if (e.contains("code") && e["code"].is_string()) out += e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string())
        out += ": " + e["message"].get<std::string>();
    }
  }
  return out;
}

Error HttpError(const std::string& what, const std::string& url, const HttpResponse& r) {
  std::string detail = RegistryErrors(r);
  return Error::Io(what + " failed" + (detail.empty() ? "" : " (" + detail + ")"))
      .Field(url)
      .Found("HTTP " + std::to_string(r.status));
}

// Hashes what an interrupted pull left, a window at a time, so RSS stays flat.
void HashMapped(const MappedFile& map, Hasher& hasher) {
  constexpr uint64_t kWindow = 64 << 20;
  for (uint64_t at = 0; at < map.size(); at += kWindow) {
    uint64_t n = std::min(kWindow, map.size() - at);
    map.WillNeed(at, n);
    hasher.Update(map.bytes().subspan(at, n));
    map.Release(at, n);
  }
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Where an upload's bytes come from: a file range or memory.
struct BlobBody {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string_view mem;
  void Fill(HttpRequest& req, uint64_t from, uint64_t n) const {
    if (fd >= 0) {
      req.body_fd = fd;
      req.body_offset = offset + from;
      req.body_size = n;
    } else {
      req.body = mem.substr(from, n);
    }
  }
};

class RegistryClientImpl final : public RegistryClient {
 public:
  RegistryClientImpl(std::string host, RegistryOptions opt,
                     std::optional<RegistryCredentials> creds)
      : host_(std::move(host)),
        base_((opt.plain_http ? "http://" : "https://") + host_),
        opt_(std::move(opt)),
        http_(HttpSettings{opt_.connect_timeout_s, opt_.stall_timeout_s, opt_.ca_file}),
        auth_(host_, std::move(creds), opt_.plain_http) {}

  Result<bool> BlobExists(const std::string& repo, const std::string& digest) override {
    return BlobExistsIn(repo, digest, PullScope(repo));
  }

  // A push asks with the push scope, so a token server is visited once, not twice.
  Result<bool> BlobExistsIn(const std::string& repo, const std::string& digest,
                            const std::string& scope) {
    WG_TRY(CheckDigest(digest));
    std::string url = base_ + "/v2/" + repo + "/blobs/" + digest;
    WG_ASSIGN_OR_RETURN(HttpResponse r, Execute(scope, [&](HttpRequest& q) {
                          q.method = "HEAD";
                          q.url = url;
                          return Ok();
                        }));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return HttpError("HEAD blob", url, r);
  }

  Status PushBlob(const std::string& repo, const std::string& digest, const std::string& path,
                  uint64_t offset, uint64_t size) override {
    WG_TRY(CheckDigest(digest));
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::FromErrno("open", path);
    FdCloser closer(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return Error::FromErrno("stat", path);
    if (static_cast<uint64_t>(st.st_size) < offset + size)
      return Error::Malformed("blob extends past the end of its file")
          .File(path)
          .Offset(offset)
          .Expected("file size >= " + std::to_string(offset + size))
          .Found(std::to_string(st.st_size));
    BlobBody body{fd, offset, size, {}};
    return PushBody(repo, digest, body);
  }

  Status PushBlobBytes(const std::string& repo, const std::string& digest,
                       std::string_view bytes) override {
    WG_TRY(CheckDigest(digest));
    BlobBody body{-1, 0, bytes.size(), bytes};
    return PushBody(repo, digest, body);
  }

  Status PullBlob(const std::string& repo, const std::string& digest, int64_t expected_size,
                  const std::string& dest) override;
  Status PullBlobStream(const std::string& repo, const std::string& digest, uint64_t size,
                        const std::function<Status(Bytes)>& sink) override;

  Result<std::string> PushManifest(const std::string& repo, const std::string& ref,
                                   const std::string& media_type, std::string_view bytes) override {
    std::string url = base_ + "/v2/" + repo + "/manifests/" + ref;
    std::string digest =
        HashBytes(HashAlgo::kSha256,
                  Bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))
            .Prefixed();
    WG_ASSIGN_OR_RETURN(HttpResponse r, Execute(PushScope(repo), [&](HttpRequest& q) {
                          q.method = "PUT";
                          q.url = url;
                          q.headers.push_back("Content-Type: " + media_type);
                          q.body = bytes;
                          return Ok();
                        }));
    if (r.status != 201 && r.status != 200) return HttpError("PUT manifest", url, r);
    std::string said = r.Header("docker-content-digest");
    if (!said.empty() && said != digest)
      return Error::Mismatch("registry stored the manifest under another digest")
          .Field(url)
          .Expected(digest)
          .Found(said);
    return digest;
  }

  Result<FetchedManifest> PullManifest(const std::string& repo, const std::string& ref) override {
    std::string url = base_ + "/v2/" + repo + "/manifests/" + ref;
    WG_ASSIGN_OR_RETURN(HttpResponse r, Execute(PullScope(repo), [&](HttpRequest& q) {
                          q.url = url;
                          q.headers.push_back(kManifestAccept);
                          q.max_body = 16 << 20;
                          return Ok();
                        }));
    if (r.status == 404)
      return Error::Io("manifest not found" +
                       std::string(RegistryErrors(r).empty() ? "" : " (" + RegistryErrors(r) + ")"))
          .Field(url)
          .Found("HTTP 404");
    if (r.status != 200) return HttpError("GET manifest", url, r);
    FetchedManifest m;
    m.bytes = std::move(r.body);
    m.media_type = r.Header("content-type");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type.resize(semi);
    m.digest = HashBytes(HashAlgo::kSha256,
                         Bytes(reinterpret_cast<const uint8_t*>(m.bytes.data()), m.bytes.size()))
                   .Prefixed();
    if (ref.rfind("sha256:", 0) == 0 && ref != m.digest)
      return Error::Mismatch("manifest bytes do not hash to the requested digest")
          .Field(url)
          .Expected(ref)
          .Found(m.digest);
    std::string said = r.Header("docker-content-digest");
    if (!said.empty() && said.rfind("sha256:", 0) == 0 && said != m.digest)
      return Error::Mismatch("manifest bytes do not hash to the digest the registry announced")
          .Field(url)
          .Expected(said)
          .Found(m.digest);
    return m;
  }

  const TransferStats& stats() const override { return stats_; }
  void BeginProgress(const std::string& label, uint64_t total) override {
    progress_.reset();
    if (opt_.progress) progress_ = std::make_unique<Progress>(label, total);
  }
  void EndProgress() override {
    if (progress_) progress_->Finish();
    progress_.reset();
  }

 private:
  static std::string PullScope(const std::string& repo) { return "repository:" + repo + ":pull"; }
  static std::string PushScope(const std::string& repo) {
    return "repository:" + repo + ":pull,push";
  }
  void Advance(uint64_t n) {
    if (progress_) progress_->Add(n);
  }

  void Backoff(int attempt, const HttpResponse* r) {
    auto wait = opt_.initial_backoff * (1LL << std::min(attempt - 1, 20));
    if (r) {
      // Honour a short Retry-After (seconds) from 429/503.
      std::string ra = r->Header("retry-after");
      if (!ra.empty() && ra.size() < 7 && std::all_of(ra.begin(), ra.end(), ::isdigit))
        wait =
            std::max<std::chrono::milliseconds>(wait, std::chrono::seconds(std::atol(ra.c_str())));
    }
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(wait, opt_.max_backoff));
  }

  static bool Retryable(const HttpResponse& r) {
    return !r.transport_error.empty() || r.status >= 500 || r.status == 429;
  }

  // Sends the request `make` builds (fresh for every attempt), authenticating on a 401 and
  // retrying transport failures and 5xx/429 with exponential backoff. Returns the last
  // answer that was not retryable; a retryable failure on the last attempt is an Error.
  Result<HttpResponse> Execute(const std::string& scope,
                               const std::function<Status(HttpRequest&)>& make,
                               int max_attempts = 0) {
    if (max_attempts <= 0) max_attempts = std::max(1, opt_.max_attempts);
    int auth_rounds = 0;
    for (int attempt = 1;; ++attempt) {
      HttpRequest req;
      WG_TRY(make(req));
      if (std::string h = auth_.HeaderFor(scope); !h.empty()) req.headers.push_back(h);
      WG_ASSIGN_OR_RETURN(HttpResponse r, http_.Send(req));
      if (r.transport_error.empty() && r.status == 401 && auth_rounds >= 2)
        return Error::Io("registry refused the credentials")
            .Field(req.url)
            .Expected(
                "valid WEIGHTGATE_REGISTRY_USER/WEIGHTGATE_REGISTRY_PASSWORD or "
                "~/.docker/config.json auths")
            .Found("HTTP 401");
      if (r.transport_error.empty() && r.status == 401) {
        ++auth_rounds;
        WG_TRY(auth_.HandleChallenge(http_, r, scope));
        --attempt;  // an auth round trip is not a failed attempt
        continue;
      }
      if (!Retryable(r)) return r;
      if (attempt >= max_attempts) {
        std::string what =
            r.transport_error.empty() ? "HTTP " + std::to_string(r.status) : r.transport_error;
        std::string detail = RegistryErrors(r);
        return Error::Io(req.method + " failed after " + std::to_string(attempt) + " attempt(s)" +
                         (detail.empty() ? "" : " (" + detail + ")"))
            .Field(req.url)
            .Found(what);
      }
      ++stats_.retries;
      Backoff(attempt, &r);
    }
  }

  // Skip, mount, or upload one blob.
  Status PushBody(const std::string& repo, const std::string& digest, const BlobBody& body,
                  bool again = false) {
    if (!again) {
      WG_ASSIGN_OR_RETURN(bool exists, BlobExistsIn(repo, digest, PushScope(repo)));
      if (exists) {
        ++stats_.blobs_skipped;
        Advance(body.size);
        return Ok();
      }
    }
    std::string session;  // an upload URL a refused mount may hand us
    for (const auto& from : opt_.mount_from) {
      if (from == repo || again) continue;
      std::string url = base_ + "/v2/" + repo + "/blobs/uploads/?mount=" + UrlEscape(digest) +
                        "&from=" + UrlEscape(from);
      WG_ASSIGN_OR_RETURN(HttpResponse r,
                          Execute(PushScope(repo) + " " + PullScope(from), [&](HttpRequest& q) {
                            q.method = "POST";
                            q.url = url;
                            return Ok();
                          }));
      if (r.status == 201) {
        ++stats_.blobs_mounted;
        Advance(body.size);
        return Ok();
      }
      if (r.status == 202 && !r.Header("location").empty()) {
        WG_ASSIGN_OR_RETURN(session, ResolveUrl(url, r.Header("location")));
        break;
      }
    }
    // A whole-blob failure (the upload session died) restarts from a new session.
    Status last = Ok();
    for (int attempt = 1; attempt <= std::max(1, opt_.max_attempts); ++attempt) {
      if (attempt > 1) {
        ++stats_.retries;
        Backoff(attempt - 1, nullptr);
      }
      if (session.empty()) {
        auto s = OpenSession(repo);
        if (!s.ok()) return std::move(s).error();
        session = *s;
      }
      last = body.size <= opt_.monolithic_max ? UploadMonolithic(repo, digest, body, session)
                                              : UploadChunked(repo, digest, body, session);
      session.clear();
      if (last.ok()) {
        ++stats_.blobs_uploaded;
        return Ok();
      }
      if (last.error().code() != ErrorCode::kIo) return last;  // not worth retrying
    }
    return last;
  }

  Result<std::string> OpenSession(const std::string& repo) {
    std::string url = base_ + "/v2/" + repo + "/blobs/uploads/";
    WG_ASSIGN_OR_RETURN(HttpResponse r, Execute(PushScope(repo), [&](HttpRequest& q) {
                          q.method = "POST";
                          q.url = url;
                          return Ok();
                        }));
    if (r.status != 202 || r.Header("location").empty())
      return HttpError("POST blob upload", url, r);
    if (std::string min = r.Header("oci-chunk-min-length");
        !min.empty() && std::all_of(min.begin(), min.end(), ::isdigit))
      chunk_min_ = std::strtoull(min.c_str(), nullptr, 10);
    return ResolveUrl(url, r.Header("location"));
  }

  Status UploadMonolithic(const std::string& repo, const std::string& digest, const BlobBody& body,
                          const std::string& session) {
    std::string url = AppendQuery(session, "digest", digest);
    // One attempt: a dropped PUT leaves the session in an unknown state; the caller restarts.
    WG_ASSIGN_OR_RETURN(HttpResponse r,
                        Execute(
                            PushScope(repo),
                            [&](HttpRequest& q) {
                              q.method = "PUT";
                              q.url = url;
                              q.headers.push_back("Content-Type: application/octet-stream");
                              body.Fill(q, 0, body.size);
                              q.on_sent = [this](uint64_t n) { Sent(n); };
                              return Ok();
                            },
                            1));
    if (r.status != 201) return HttpError("PUT blob " + digest, url, r);
    return Ok();
  }

  Status UploadChunked(const std::string& repo, const std::string& digest, const BlobBody& body,
                       std::string location) {
    uint64_t chunk = std::max<uint64_t>({opt_.chunk_size, chunk_min_, 1});
    uint64_t pos = 0;
    int failures = 0;
    while (pos < body.size) {
      uint64_t n = std::min(chunk, body.size - pos);
      auto sent = Execute(
          PushScope(repo),
          [&](HttpRequest& q) {
            q.method = "PATCH";
            q.url = location;
            q.headers.push_back("Content-Type: application/octet-stream");
            q.headers.push_back("Content-Range: " + std::to_string(pos) + "-" +
                                std::to_string(pos + n - 1));
            body.Fill(q, pos, n);
            q.on_sent = [this](uint64_t k) { Sent(k); };
            return Ok();
          },
          1);
      // 202 per the spec; ECR answers 201 (kitops #821).
      if (sent.ok() && (sent->status == 202 || sent->status == 201) &&
          !sent->Header("location").empty()) {
        WG_ASSIGN_OR_RETURN(location, ResolveUrl(location, sent->Header("location")));
        pos += n;
        ++stats_.chunks_uploaded;
        continue;
      }
      if (sent.ok() && !Retryable(*sent) && sent->status != 416)
        return HttpError("PATCH blob chunk", location, *sent);
      // Ask the registry how much it holds and continue from there.
      if (++failures >= std::max(1, opt_.max_attempts))
        return sent.ok() ? HttpError("PATCH blob chunk", location, *sent) : std::move(sent).error();
      ++stats_.retries;
      Backoff(failures, sent.ok() ? &*sent : nullptr);
      auto st = Execute(PushScope(repo), [&](HttpRequest& q) {
        q.url = location;
        return Ok();
      });
      if (!st.ok() || st->status != 204)
        return Error::Io("upload session lost after a failed chunk").Field(location);
      std::string range = st->Header("range");
      auto dash = range.find('-');
      uint64_t end =
          dash == std::string::npos ? 0 : std::strtoull(range.c_str() + dash + 1, nullptr, 10);
      if (end == 0)
        return Error::Io("upload session lost after a failed chunk")
            .Field(location)
            .Found("Range: " + range);
      if (!st->Header("location").empty()) {
        WG_ASSIGN_OR_RETURN(location, ResolveUrl(location, st->Header("location")));
      }
      pos = std::min(end + 1, body.size);
    }
    std::string url = AppendQuery(location, "digest", digest);
    WG_ASSIGN_OR_RETURN(HttpResponse r,
                        Execute(
                            PushScope(repo),
                            [&](HttpRequest& q) {
                              q.method = "PUT";
                              q.url = url;
                              q.headers.push_back("Content-Type: application/octet-stream");
                              return Ok();
                            },
                            1));
    if (r.status != 201) return HttpError("PUT (close) blob " + digest, url, r);
    return Ok();
  }

  void Sent(uint64_t n) {
    stats_.bytes_uploaded += n;
    Advance(n);
  }

  std::string host_;
  std::string base_;
  RegistryOptions opt_;
  HttpClient http_;
  RegistryAuth auth_;
  TransferStats stats_;
  uint64_t chunk_min_ = 0;
  std::unique_ptr<Progress> progress_;
};

Status RegistryClientImpl::PullBlob(const std::string& repo, const std::string& digest,
                                    int64_t expected_size, const std::string& dest) {
  WG_TRY(CheckDigest(digest));
  FileSystem& fsys = FileSystem::Default();
  std::string part = dest + ".part";
  // A blob an interrupted pull already finished is kept if it still verifies.
  if (::access(dest.c_str(), F_OK) == 0) WG_TRY(fsys.Rename(dest, part));
  WG_ASSIGN_OR_RETURN(auto file, fsys.ReopenWritableFile(part));
  auto hasher = Hasher::Create(HashAlgo::kSha256);
  uint64_t pos = 0;      // bytes received and hashed
  uint64_t on_disk = 0;  // of which written to the file; the rest wait in `batch`
  bool write_failed = false;
  WriteBatcher batch(
      [&](Bytes b) -> Status {
        Status s = file->WriteAt(on_disk, b);
        if (!s.ok()) {
          write_failed = true;
          return s;
        }
        on_disk += b.size();
        return Ok();
      },
      expected_size >= 0 ? static_cast<uint64_t>(expected_size) : WriteBatcher::kBatch);
  auto restart = [&]() -> Status {
    batch.Clear();
    WG_TRY(file->Truncate(0));
    hasher = Hasher::Create(HashAlgo::kSha256);
    pos = on_disk = 0;
    return Ok();
  };
  // Bytes that cannot be right are not kept for a resume.
  auto discard = [&] {
    file.reset();
    (void)fsys.Remove(part);
  };
  // What an interrupted pull left is hashed again, then continued.
  if (file->Size() > 0) {
    WG_ASSIGN_OR_RETURN(auto left, MappedFile::Open(part));
    HashMapped(*left, *hasher);
    pos = on_disk = left->size();
  }
  if (expected_size >= 0 && pos > static_cast<uint64_t>(expected_size)) WG_TRY(restart());
  bool complete = expected_size >= 0 && pos == static_cast<uint64_t>(expected_size);
  if (pos > 0 && !complete) ++stats_.blobs_resumed;
  if (pos > 0) Advance(pos);

  std::string url = base_ + "/v2/" + repo + "/blobs/" + digest;
  if (!complete) {
    auto sent = Execute(PullScope(repo), [&](HttpRequest& q) {
      q.url = url;
      q.follow_redirects = true;
      if (pos > 0) q.headers.push_back("Range: bytes=" + std::to_string(pos) + "-");
      q.on_body_start = [&](const HttpResponse& resp) -> Status {
        if (resp.status == 200 && pos > 0) return restart();  // Range ignored
        if (resp.status == 206) return CheckRangeStart(resp, pos, url);
        return Ok();
      };
      q.sink = [&](Bytes b) -> Status {
        if (expected_size >= 0 && pos + b.size() > static_cast<uint64_t>(expected_size))
          return Error::Mismatch("registry sent more bytes than the descriptor's size")
              .Field(digest)
              .Expected(std::to_string(expected_size));
        WG_TRY(batch.Add(b));
        hasher->Update(b);
        pos += b.size();
        stats_.bytes_downloaded += b.size();
        Advance(b.size());
        return Ok();
      };
      return Ok();
    });
    if (!sent.ok()) {
      if (sent.error().code() == ErrorCode::kMismatch) {
        discard();
      } else if (!write_failed) {
        // A dropped connection: what arrived goes to disk for the next pull to resume.
        (void)batch.Flush();
        (void)file->Close();
      }
      return std::move(sent).error();
    }
    HttpResponse& r = *sent;
    // 416: what we hold is already the whole blob (size unknown up front); verified below.
    if (!(r.status == 200 || r.status == 206 || (r.status == 416 && pos > 0))) {
      discard();
      if (r.status == 404)
        return Error::Malformed("the manifest names a blob the registry does not have")
            .Field(url)
            .Found("HTTP 404");
      return HttpError("GET blob", url, r);
    }
    ++stats_.blobs_downloaded;
  } else {
    ++stats_.blobs_skipped;
  }
  Digest got = hasher->Finish();
  if (got.Prefixed() != digest ||
      (expected_size >= 0 && pos != static_cast<uint64_t>(expected_size))) {
    discard();
    if (got.Prefixed() != digest)
      return Error::Mismatch("pulled blob does not match its digest; deleted")
          .Field(url)
          .Expected(digest)
          .Found(got.Prefixed());
    return Error::Mismatch("pulled blob has the wrong size; deleted")
        .Field(url)
        .Expected(std::to_string(expected_size))
        .Found(std::to_string(pos));
  }
  WG_TRY(batch.Flush());
  WG_TRY(file->Sync());
  WG_TRY(file->Close());
  return fsys.Rename(part, dest);
}

Status RegistryClientImpl::PullBlobStream(const std::string& repo, const std::string& digest,
                                          uint64_t size, const std::function<Status(Bytes)>& sink) {
  WG_TRY(CheckDigest(digest));
  std::string url = base_ + "/v2/" + repo + "/blobs/" + digest;
  uint64_t pos = 0;      // bytes delivered to the sink, over every attempt
  uint64_t discard = 0;  // bytes of this attempt's body the sink already has
  if (size == 0) {
    ++stats_.blobs_downloaded;
    return Ok();
  }
  auto sent = Execute(PullScope(repo), [&](HttpRequest& q) {
    q.url = url;
    q.follow_redirects = true;
    discard = 0;
    if (pos > 0) q.headers.push_back("Range: bytes=" + std::to_string(pos) + "-");
    q.on_body_start = [&](const HttpResponse& resp) -> Status {
      if (resp.status == 200) discard = pos;  // Range ignored: the body starts at byte 0
      if (resp.status == 206) return CheckRangeStart(resp, pos, url);
      return Ok();
    };
    q.sink = [&](Bytes b) -> Status {
      uint64_t skip = std::min<uint64_t>(discard, b.size());
      discard -= skip;
      b = b.subspan(skip);
      if (b.empty()) return Ok();
      if (pos + b.size() > size)
        return Error::Mismatch("registry sent more bytes than the descriptor's size")
            .Field(url)
            .Expected(std::to_string(size));
      WG_TRY(sink(b));
      pos += b.size();
      stats_.bytes_downloaded += b.size();
      Advance(b.size());
      return Ok();
    };
    return Ok();
  });
  if (!sent.ok()) return std::move(sent).error();
  const HttpResponse& r = *sent;
  if (r.status == 404)
    return Error::Malformed("the manifest names a blob the registry does not have")
        .Field(url)
        .Found("HTTP 404");
  if (r.status != 200 && r.status != 206) return HttpError("GET blob", url, r);
  if (pos != size)
    return Error::Mismatch("pulled blob has the wrong size")
        .Field(url)
        .Expected(std::to_string(size))
        .Found(std::to_string(pos));
  ++stats_.blobs_downloaded;
  return Ok();
}

}  // namespace

Result<std::unique_ptr<RegistryClient>> RegistryClient::Create(const std::string& registry_host,
                                                               RegistryOptions options) {
  if (registry_host.empty() || registry_host.find_first_of("/ ?#@") != std::string::npos)
    return Error::Usage("registry host must be host[:port]").Field("registry").Found(registry_host);
  std::optional<RegistryCredentials> creds;
  if (!options.username.empty()) {
    creds = RegistryCredentials{options.username, options.password};
  } else {
    WG_ASSIGN_OR_RETURN(creds, LookupCredentials(registry_host));
  }
  return std::unique_ptr<RegistryClient>(
      new RegistryClientImpl(registry_host, std::move(options), std::move(creds)));
}

}  // namespace wg::package
