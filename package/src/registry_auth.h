// Registry authentication: the WWW-Authenticate challenge, Basic and Bearer-token flows.
// Internal to the registry client.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "http_client.h"
#include "weightgate/package/registry.h"

namespace wg::package {

struct AuthChallenge {
  std::string scheme;                         // "basic" or "bearer" (lowercased)
  std::map<std::string, std::string> params;  // realm, service, scope, error...
};
// Parses `Bearer realm="https://auth",service="reg",scope="repository:a:pull"`.
std::optional<AuthChallenge> ParseChallenge(const std::string& header);

std::string Base64Encode(std::string_view in);
Result<std::string> Base64Decode(std::string_view in);

// Holds what the client learned: the scheme the registry wants and the tokens per scope.
class RegistryAuth {
 public:
  RegistryAuth(std::string host, std::optional<RegistryCredentials> creds, bool plain_http)
      : host_(std::move(host)), creds_(std::move(creds)), plain_http_(plain_http) {}

  // The Authorization header for a request needing `scope` ("" when none is known yet).
  std::string HeaderFor(const std::string& scope) const;
  // Reacts to a 401: learns the scheme, fetches a Bearer token for `scope` (the challenge's
  // own scope is added). Returns an error when no credentials can satisfy it.
  Status HandleChallenge(HttpClient& http, const HttpResponse& unauthorized,
                         const std::string& scope);

 private:
  std::string host_;
  std::optional<RegistryCredentials> creds_;
  bool plain_http_;
  std::string scheme_;                         // learned from the first challenge
  std::map<std::string, std::string> tokens_;  // scope -> bearer token
};

}  // namespace wg::package
