// One HTTP exchange over libcurl, with request bodies streamed from a file range and
// response bodies streamed to a callback. Internal to the registry client.
//
// Send() reports transport failures (refused, reset, dropped mid-body, stalled) in
// HttpResponse::transport_error rather than as an Error, so the caller can decide to retry
// and resume; it returns an Error only for failures that retrying cannot fix (a sink that
// refused the bytes, a file that cannot be read).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weightgate/core/error.h"
#include "weightgate/core/file.h"

namespace wg::package {

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Body: either in memory or `body_size` bytes of body_fd starting at body_offset.
  std::string_view body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_size = 0;
  bool follow_redirects = false;  // only for GETs of blobs (storage redirects)
  // Where the response body goes. Null: into HttpResponse::body, up to max_body bytes.
  // Called only for 2xx answers; the body of an error answer is always captured.
  std::function<Status(Bytes)> sink;
  // Called once, before the first byte of a 2xx body reaches the sink, with the status and
  // headers: a ranged GET checks there that the server honoured the Range.
  std::function<Status(const HttpResponse&)> on_body_start;
  uint64_t max_body = 16ull << 20;
  std::function<void(uint64_t)> on_sent;  // body bytes handed to the socket
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string effective_url;
  CURLcode curl_code = CURLE_OK;
  std::string transport_error;  // non-empty when the exchange did not complete
  std::string Header(std::string_view lowercase_name) const;
  std::vector<std::string> Headers(std::string_view lowercase_name) const;
};

struct HttpSettings {
  long connect_s = 30;
  long stall_s = 60;
  std::string ca_file;  // extra trust anchors (PEM); empty = the system store
};

class HttpClient {
 public:
  explicit HttpClient(HttpSettings timeouts);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  CURL* curl_;  // reused so that connections are kept alive between requests
  HttpSettings timeouts_;
};

// Resolves a Location header (absolute or relative) against the URL it answered.
Result<std::string> ResolveUrl(const std::string& base, const std::string& location);
// Appends name=value (value percent-encoded) to the URL's query.
std::string AppendQuery(const std::string& url, const std::string& name, const std::string& value);
std::string UrlEscape(std::string_view s);

}  // namespace wg::package
