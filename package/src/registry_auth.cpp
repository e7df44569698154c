#include "registry_auth.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "weightgate/core/file.h"

namespace wg::package {

std::optional<AuthChallenge> ParseChallenge(const std::string& header) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) ++i;
  };
  skip_ws();
  size_t start = i;
  while (i < header.size() && header[i] != ' ') ++i;
  if (i == start) return std::nullopt;
  AuthChallenge ch;
  for (size_t k = start; k < i; ++k)
    ch.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(header[k]))));
  while (i < header.size()) {
    skip_ws();
    size_t eq = header.find('=', i);
    if (eq == std::string::npos) break;
    std::string key;
    for (size_t k = i; k < eq; ++k)
      if (header[k] != ' ')
        key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(header[k]))));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value.push_back(header[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < header.size() && header[i] != ',') value.push_back(header[i++]);
    }
    ch.params[key] = value;
  }
  return ch;
}

std::string Base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  std::string clean;
  for (char c : in)
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  if (clean.size() % 4 != 0) return Error::Malformed("base64 length is not a multiple of 4");
  std::string out(clean.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return Error::Malformed("invalid base64");
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

Result<std::optional<RegistryCredentials>> LookupCredentials(const std::string& host) {
  const char* user = std::getenv("WEIGHTGATE_REGISTRY_USER");
  const char* pass = std::getenv("WEIGHTGATE_REGISTRY_PASSWORD");
  if (user && *user)
    return std::optional<RegistryCredentials>(RegistryCredentials{user, pass ? pass : ""});

  std::filesystem::path config;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) {
    config = std::filesystem::path(dir) / "config.json";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    config = std::filesystem::path(home) / ".docker" / "config.json";
  } else {
    return std::optional<RegistryCredentials>();
  }
  std::error_code ec;
  if (!std::filesystem::exists(config, ec)) return std::optional<RegistryCredentials>();
  WG_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(config.string(), 4 << 20));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return Error::Malformed("not a JSON object")
        .File(config.string())
        .Expected("Docker config.json");
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) return std::optional<RegistryCredentials>();
  // Keys are "host", "host:port" or URLs such as "https://index.docker.io/v1/".
  auto key_host = [](std::string key) {
    if (auto p = key.find("://"); p != std::string::npos) key = key.substr(p + 3);
    if (auto p = key.find('/'); p != std::string::npos) key = key.substr(0, p);
    return key;
  };
  std::string want =
      host == "registry-1.docker.io" || host == "docker.io" ? "index.docker.io" : host;
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    std::string k = key_host(it.key());
    if (k == "docker.io" || k == "registry-1.docker.io") k = "index.docker.io";
    if (k != want || !it.value().is_object()) continue;
    const auto& entry = it.value();
    if (entry.contains("auth") && entry["auth"].is_string()) {
      auto decoded = Base64Decode(entry["auth"].get<std::string>());
      if (!decoded.ok())
        return std::move(decoded)
            .error()
            .File(config.string())
            .Field("auths." + it.key() + ".auth");
      auto colon = decoded->find(':');
      if (colon == std::string::npos)
        return Error::Malformed("auth is not base64 of user:password")
            .File(config.string())
            .Field("auths." + it.key() + ".auth");
      return std::optional<RegistryCredentials>(
          RegistryCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)});
    }
    if (entry.contains("username") && entry["username"].is_string() && entry.contains("password") &&
        entry["password"].is_string())
      return std::optional<RegistryCredentials>(RegistryCredentials{
          entry["username"].get<std::string>(), entry["password"].get<std::string>()});
  }
  return std::optional<RegistryCredentials>();
}

std::string RegistryAuth::HeaderFor(const std::string& scope) const {
  if (scheme_ == "basic" && creds_)
    return "Authorization: Basic " + Base64Encode(creds_->username + ":" + creds_->password);
  if (scheme_ == "bearer") {
    auto it = tokens_.find(scope);
    if (it != tokens_.end()) return "Authorization: Bearer " + it->second;
    // A token for a wider scope string that contains this one is as good.
    for (const auto& [s, tok] : tokens_)
      if (s.find(scope) != std::string::npos) return "Authorization: Bearer " + tok;
  }
  return {};
}

Status RegistryAuth::HandleChallenge(HttpClient& http, const HttpResponse& unauthorized,
                                     const std::string& scope) {
  std::optional<AuthChallenge> ch;
  for (const auto& h : unauthorized.Headers("www-authenticate")) {
    ch = ParseChallenge(h);
    if (ch && (ch->scheme == "bearer" || ch->scheme == "basic")) break;
  }
  if (!ch)
    return Error::Io("registry answered 401 without a usable WWW-Authenticate challenge")
        .Field(host_);
  scheme_ = ch->scheme;
  if (scheme_ == "basic") {
    if (!creds_)
      return Error::Io("registry requires credentials (Basic) and none are configured")
          .Field(host_)
          .Expected(
              "WEIGHTGATE_REGISTRY_USER/WEIGHTGATE_REGISTRY_PASSWORD or an auths entry in "
              "~/.docker/config.json");
    return Ok();
  }
  if (scheme_ != "bearer")
    return Error::Unsupported("registry asks for auth scheme '" + scheme_ + "'").Field(host_);
  std::string realm = ch->params["realm"];
  if (realm.rfind("https://", 0) != 0 && !(plain_http_ && realm.rfind("http://", 0) == 0))
    return Error::Unsafe("token realm is not https").Field("WWW-Authenticate realm").Found(realm);
  std::string url = realm;
  if (!ch->params["service"].empty()) url = AppendQuery(url, "service", ch->params["service"]);
  // Several scopes (a mount also needs pull on the source) go as repeated scope parameters.
  std::string scopes = scope;
  if (!ch->params["scope"].empty() && scope.find(ch->params["scope"]) == std::string::npos)
    scopes += (scopes.empty() ? "" : " ") + ch->params["scope"];
  for (size_t b = 0; b < scopes.size();) {
    size_t e = scopes.find(' ', b);
    if (e == std::string::npos) e = scopes.size();
    if (e > b) url = AppendQuery(url, "scope", scopes.substr(b, e - b));
    b = e + 1;
  }
  HttpRequest req;
  req.url = url;
  req.max_body = 1 << 20;
  if (creds_)
    req.headers.push_back("Authorization: Basic " +
                          Base64Encode(creds_->username + ":" + creds_->password));
  WG_ASSIGN_OR_RETURN(HttpResponse resp, http.Send(req));
  if (!resp.transport_error.empty())
    return Error::Io("token request failed: " + resp.transport_error).Field(realm);
  if (resp.status == 401 || resp.status == 403)
    return Error::Io(creds_ ? "token server refused the credentials"
                            : "token server requires credentials and none are configured")
        .Field(realm)
        .Expected(
            "valid WEIGHTGATE_REGISTRY_USER/WEIGHTGATE_REGISTRY_PASSWORD or ~/.docker/config.json "
            "auths")
        .Found("HTTP " + std::to_string(resp.status));
  if (resp.status != 200)
    return Error::Io("token request failed")
        .Field(realm)
        .Found("HTTP " + std::to_string(resp.status));
  nlohmann::json doc = nlohmann::json::parse(resp.body, nullptr, false);
  std::string token;
  if (doc.is_object()) {
    if (doc.contains("token") && doc["token"].is_string())
      token = doc["token"].get<std::string>();
    else if (doc.contains("access_token") && doc["access_token"].is_string())
      token = doc["access_token"].get<std::string>();
  }
  if (token.empty())
    return Error::Malformed("token response has no token")
        .Field(realm)
        .Expected("{\"token\": ...}");
  tokens_[scope] = token;
  return Ok();
}

}  // namespace wg::package
