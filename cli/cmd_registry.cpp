// weightgate push PKG REF / weightgate pull REF -o PKG: a package to and from an OCI registry.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "package_gating.h"
#include "weightgate/package/registry_transfer.h"
#include "weightgate/policy/enforce.h"

namespace wg::cli {
namespace {

struct NetworkFlags {
  bool plain_http = false;
  std::string ca_file;
  uint64_t chunk_mib = 64;
  int retries = 5;
  bool json = false;
};

void AddNetworkFlags(CLI::App* cmd, NetworkFlags* f) {
  cmd->add_flag("--plain-http", f->plain_http,
                "Talk http:// instead of https:// (loopback test registries)");
  cmd->add_option("--ca-file", f->ca_file,
                  "PEM file of CA certificates to trust for https (private registry CA)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--chunk-size", f->chunk_mib,
                  "Blobs larger than this many MiB upload in chunks of this size")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--retries", f->retries,
                  "Attempts per request on 5xx answers and dropped connections")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--json", f->json, "Print one JSON document with the digest and transfer counts");
}

package::RegistryOptions OptionsFrom(const NetworkFlags& f, const GlobalOptions& g) {
  package::RegistryOptions o;
  o.plain_http = f.plain_http;
  o.ca_file = f.ca_file;
  o.chunk_size = f.chunk_mib << 20;
  o.monolithic_max = o.chunk_size;
  o.max_attempts = f.retries;
  o.progress = !g.quiet && !f.json;
  return o;
}

nlohmann::ordered_json StatsJson(const package::TransferStats& s) {
  return {{"blobs_uploaded", s.blobs_uploaded},
          {"blobs_skipped", s.blobs_skipped},
          {"blobs_mounted", s.blobs_mounted},
          {"blobs_downloaded", s.blobs_downloaded},
          {"blobs_resumed", s.blobs_resumed},
          {"chunks_uploaded", s.chunks_uploaded},
          {"bytes_uploaded", s.bytes_uploaded},
          {"bytes_downloaded", s.bytes_downloaded},
          {"retries", s.retries}};
}

std::string Mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}

}  // namespace

void RegisterPush(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Args {
    std::string package, reference, local_tag;
    std::vector<std::string> from;
    NetworkFlags net;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("push", "Push a package (OCI layout folder or .tar) to a registry")
                  ->footer(
                      "Blobs the registry already holds are skipped, so a new version uploads only "
                      "what changed.\n"
                      "Credentials: WEIGHTGATE_REGISTRY_USER / WEIGHTGATE_REGISTRY_PASSWORD, or "
                      "the \"auths\"\n"
                      "of ~/.docker/config.json ($DOCKER_CONFIG/config.json).\n\n"
                      "A package whose release policy lists access.registries is pushed only "
                      "there; a closed\nrelease without that list is refused (exit 6).\n\n"
                      "Example:\n  weightgate push llama.pkg 127.0.0.1:5000/team/llama:v2 "
                      "--plain-http --from team/llama-base");
  cmd->add_option("PKG", args->package, "Package folder or .tar")->required();
  cmd->add_option("REF", args->reference, "REGISTRY/REPOSITORY:TAG")->required();
  cmd->add_option("--from", args->from,
                  "Mount blobs from this repository of the same registry (repeatable)");
  cmd->add_option("--tag", args->local_tag,
                  "Manifest to push when the package's index lists several");
  AddNetworkFlags(cmd, &args->net);
  cmd->callback([run, args, &global] {
    *run = [args, &global] {
      auto ref = package::ImageReference::Parse(args->reference);
      if (!ref.ok()) return ReportError(ref.error());
      // A release policy may restrict where the package goes (access.registries); a closed
      // release without that list goes nowhere.
      auto pol = PackagePolicy(args->package);
      if (!pol.ok()) return ReportError(pol.error());
      if (*pol) {
        Status allowed = policy::RequirePushTarget((*pol)->policy, ref->registry, ref->repository,
                                                   (*pol)->source);
        if (!allowed.ok()) return ReportError(allowed.error());
      }
      auto opt = OptionsFrom(args->net, global);
      opt.mount_from = args->from;
      auto r = package::PushPackage(args->package, *ref, opt, args->local_tag);
      if (!r.ok()) return ReportError(r.error());
      const auto& s = r->stats;
      if (args->net.json) {
        nlohmann::ordered_json j = {{"reference", ref->ToString()},
                                    {"digest", r->manifest_digest},
                                    {"manifest_size", r->manifest_size},
                                    {"blob_bytes", r->blob_bytes},
                                    {"stats", StatsJson(s)}};
        std::printf("%s\n", j.dump(2).c_str());
      } else if (!global.quiet) {
        std::printf(
            "pushed %s@%s\n  blobs: %llu uploaded, %llu already present, %llu mounted; %s sent\n",
            ref->ToString().c_str(), r->manifest_digest.c_str(),
            (unsigned long long)s.blobs_uploaded, (unsigned long long)s.blobs_skipped,
            (unsigned long long)s.blobs_mounted, Mib(s.bytes_uploaded).c_str());
      }
      return static_cast<int>(kExitOk);
    };
  });
}

void RegisterPull(CLI::App& app, const GlobalOptions& global, Runner* run) {
  struct Args {
    std::string reference, output;
    NetworkFlags net;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("pull", "Pull a package from a registry into an OCI layout folder or .tar")
          ->footer(
              "Every blob is verified against its digest while it is written. An interrupted pull\n"
              "leaves .<PKG>.pull beside PKG; running the same pull again resumes it. PKG appears "
              "only\n"
              "when complete.\n\n"
              "Example:\n  weightgate pull 127.0.0.1:5000/team/llama:v2 -o llama.tar --plain-http");
  cmd->add_option("REF", args->reference,
                  "REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:...")
      ->required();
  cmd->add_option("-o,--output", args->output, "Output package: a folder, or a .tar")->required();
  AddNetworkFlags(cmd, &args->net);
  cmd->callback([run, args, &global] {
    *run = [args, &global] {
      auto ref = package::ImageReference::Parse(args->reference);
      if (!ref.ok()) return ReportError(ref.error());
      auto r = package::PullPackage(*ref, args->output, OptionsFrom(args->net, global));
      if (!r.ok()) return ReportError(r.error());
      const auto& s = r->stats;
      if (args->net.json) {
        nlohmann::ordered_json j = {{"reference", ref->ToString()},
                                    {"digest", r->manifest_digest},
                                    {"output", args->output},
                                    {"blob_bytes", r->blob_bytes},
                                    {"stats", StatsJson(s)}};
        std::printf("%s\n", j.dump(2).c_str());
      } else if (!global.quiet) {
        std::printf(
            "pulled %s@%s -> %s\n  blobs: %llu downloaded (%llu resumed), %llu already local; %s "
            "received\n",
            ref->ToString().c_str(), r->manifest_digest.c_str(), args->output.c_str(),
            (unsigned long long)s.blobs_downloaded, (unsigned long long)s.blobs_resumed,
            (unsigned long long)s.blobs_skipped, Mib(s.bytes_downloaded).c_str());
      }
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace wg::cli
