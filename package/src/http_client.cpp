#include "http_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

namespace wg::package {
namespace {

std::once_flag g_curl_init;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

// State shared with the curl callbacks for one exchange.
struct Exchange {
  const HttpRequest* req = nullptr;
  HttpResponse* resp = nullptr;
  uint64_t sent = 0;
  bool body_started = false;
  std::optional<Error> error;  // a failure retrying cannot fix
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or 100 Continue). Its status is needed before the
    // body arrives, to route a 2xx body to the sink and an error body to memory.
    ex->resp->headers.clear();
    auto sp = line.find(' ');
    if (sp != std::string_view::npos)
      ex->resp->status = std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    ex->resp->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                   Trim(line.substr(colon + 1)));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t len = size * n;
  long status = ex->resp->status;
  if (ex->req->sink && status >= 200 && status < 300) {
    if (!ex->body_started) {
      ex->body_started = true;
      if (ex->req->on_body_start) {
        Status s = ex->req->on_body_start(*ex->resp);
        if (!s.ok()) {
          ex->error = std::move(s).error();
          return 0;
        }
      }
    }
    Status s = ex->req->sink(Bytes(reinterpret_cast<const uint8_t*>(data), len));
    if (!s.ok()) {
      ex->error = std::move(s).error();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (ex->resp->body.size() + len > ex->req->max_body) {
    ex->error = Error::Malformed("response body larger than " + std::to_string(ex->req->max_body) +
                                 " bytes")
                    .Field(ex->req->url);
    return 0;
  }
  ex->resp->body.append(data, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const HttpRequest& req = *ex->req;
  uint64_t remaining = (req.body_fd >= 0 ? req.body_size : req.body.size()) - ex->sent;
  size_t want = std::min<uint64_t>(size * n, remaining);
  if (want == 0) return 0;
  if (req.body_fd >= 0) {
    ssize_t r;
    do {
      r = ::pread(req.body_fd, buf, want, static_cast<off_t>(req.body_offset + ex->sent));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
      ex->error = r < 0 ? Error::Io(std::string("read failed: ") + std::strerror(errno))
                        : Error::Io("file shorter than the blob it should hold")
                              .Offset(req.body_offset + ex->sent);
      return CURL_READFUNC_ABORT;
    }
    want = static_cast<size_t>(r);
  } else {
    std::memcpy(buf, req.body.data() + ex->sent, want);
  }
  ex->sent += want;
  if (req.on_sent) req.on_sent(want);
  return want;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::vector<std::string> HttpResponse::Headers(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (k == name) out.push_back(v);
  return out;
}

HttpClient::HttpClient(HttpSettings timeouts) : timeouts_(timeouts) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& req) {
  if (!curl_) return Error::Io("libcurl could not be initialised");
  CURL* c = curl_;
  curl_easy_reset(c);
  HttpResponse resp;
  Exchange ex;
  ex.req = &req;
  ex.resp = &resp;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "weightgate/0.1");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeouts_.connect_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeouts_.stall_s);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!timeouts_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, timeouts_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  // Storage back ends redirect blob GETs; credentials must not follow to another host.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
  // Larger buffers: fewer callbacks and syscalls per gigabyte.
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 1L << 20);
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);

  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

  bool has_body = req.body_fd >= 0 || !req.body.empty();
  uint64_t body_size = req.body_fd >= 0 ? req.body_size : req.body.size();
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "PUT" || req.method == "PATCH" || req.method == "POST") {
    // UPLOAD with a read callback streams the body; CUSTOMREQUEST sets the verb.
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &ex);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(has_body ? body_size : 0));
    if (req.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (ex.error) return std::move(*ex.error);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 0) resp.status = status;
  char* eff = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.effective_url = eff;
  resp.curl_code = rc;
  if (rc != CURLE_OK) {
    resp.transport_error =
        std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    if (rc == CURLE_SSL_CACERT || rc == CURLE_PEER_FAILED_VERIFICATION ||
        rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_UNSUPPORTED_PROTOCOL ||
        rc == CURLE_URL_MALFORMAT || rc == CURLE_COULDNT_RESOLVE_HOST)
      return Error::Io(req.method + " " + req.url + " failed: " + resp.transport_error);
  }
  return resp;
}

Result<std::string> ResolveUrl(const std::string& base, const std::string& location) {
  CURLU* u = curl_url();
  if (!u) return Error::Io("out of memory");
  std::string out;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, base.c_str(), 0);
  if (rc == CURLUE_OK)
    rc = curl_url_set(u, CURLUPART_URL, location.c_str(), 0);  // relative allowed
  char* full = nullptr;
  if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_URL, &full, 0);
  if (rc == CURLUE_OK) out = full;
  curl_free(full);
  curl_url_cleanup(u);
  if (rc != CURLUE_OK)
    return Error::Malformed("registry sent an unusable Location").Field("Location").Found(location);
  return out;
}

std::string UrlEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

std::string AppendQuery(const std::string& url, const std::string& name, const std::string& value) {
  // A fragment never appears in registry URLs; the query is everything after '?'.
  return url + (url.find('?') == std::string::npos ? "?" : "&") + name + "=" + UrlEscape(value);
}

}  // namespace wg::package
