// weightgate policy check|show|init: release policies, evaluated with reasons.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.h"
#include "policy_source.h"
#include "weightgate/core/file.h"
#include "weightgate/policy/catalogue.h"
#include "weightgate/policy/evaluate.h"
#include "weightgate/policy/policy.h"
#include "weightgate/policy/receipt.h"

namespace wg::cli {
namespace {

using ojson = nlohmann::ordered_json;

int ExitForDecision(policy::Decision d) {
  switch (d) {
    case policy::Decision::kAllow:
      return kExitOk;
    case policy::Decision::kDeny:
      return kExitDenied;
    case policy::Decision::kNeedsAcceptance:
    case policy::Decision::kNeedsSeparateLicence:
      return kExitNeedsLicence;
  }
  return kExitDenied;
}

ojson EvaluationJson(const policy::Policy& p, const policy::Evaluation& ev) {
  ojson j;
  j["decision"] = std::string(policy::DecisionName(ev.decision));
  j["tier"] = std::string(policy::TierName(p.tier));
  j["licence"] = p.licence.id;
  j["reasons"] = ojson::array();
  for (const auto& r : ev.reasons)
    j["reasons"].push_back({{"verdict", std::string(policy::DecisionName(r.verdict))},
                            {"rule", r.rule},
                            {"clause", r.clause},
                            {"detail", r.detail}});
  j["duties"] = ojson::array();
  for (const auto& d : ev.duties)
    j["duties"].push_back(
        {{"obligation", d.obligation}, {"detail", d.detail}, {"clause", d.clause}});
  return j;
}

void RegisterCheck(CLI::App& parent, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string target, context;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      parent.add_subcommand("check", "Decide whether a use described by a context is allowed");
  cmd->footer(
      "Evaluates the policy of PKG (a package, or a policy YAML file) against CONTEXT.yaml\n"
      "(keys: organisation, kind, country, mau, commercial, operation, derivative_name,\n"
      "accepted, grant, end_user_only, use_categories). A key the policy needs but the\n"
      "context lacks is a deny naming the key.\n\n"
      "Example:\n  weightgate policy check examples/policies/open-weights-llama3.1.yaml --context "
      "ctx.yaml --json\n\n"
      "Exit codes: 0 allow, 6 deny, 7 needs acceptance or a separate licence, 2 usage or malformed "
      "input.");
  cmd->add_option("target", o->target, "Package or policy YAML")->required();
  cmd->add_option("--context", o->context, "Context YAML")->required();
  cmd->add_flag("--json", o->json, "Print one JSON document on stdout");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      auto loaded = LoadPolicyFrom(o->target);
      if (!loaded.ok()) return ReportError(loaded.error());
      const policy::Policy* pol = &loaded->policy;
      auto ctx = policy::ReadContextFile(o->context);
      if (!ctx.ok()) return ReportError(ctx.error());
      // A receipt counts only if its signature verifies and it names this policy.
      std::string receipt_note;
      policy::Evaluation ev = EvaluateLoadedPolicy(*loaded, std::move(*ctx), &receipt_note);
      if (!receipt_note.empty())
        std::fprintf(stderr, "weightgate: note: %s\n", receipt_note.c_str());
      if (o->json) {
        ojson j = EvaluationJson(*pol, ev);
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("decision: %s\n", std::string(policy::DecisionName(ev.decision)).c_str());
        for (const auto& r : ev.reasons)
          std::printf("  %s: %s: %s [%s]\n", std::string(policy::DecisionName(r.verdict)).c_str(),
                      r.rule.c_str(), r.detail.c_str(), r.clause.c_str());
        for (const auto& d : ev.duties)
          std::printf("  duty: %s [%s]\n", d.detail.c_str(), d.clause.c_str());
      }
      return ExitForDecision(ev.decision);
    };
  });
}

void RegisterShow(CLI::App& parent, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string target;
    bool yaml = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = parent.add_subcommand("show", "Explain a package's release policy in plain words");
  cmd->add_option("target", o->target, "Package or policy YAML")->required();
  cmd->add_flag("--yaml", o->yaml, "Print the normalised policy YAML instead");
  cmd->footer("Exit codes: 0 ok, 2 usage or malformed policy, 8 I/O error.");
  cmd->callback([run, o] {
    *run = [o] {
      auto pol = LoadPolicyFrom(o->target);
      if (!pol.ok()) return ReportError(pol.error());
      const auto& p = pol->policy;
      std::fputs((o->yaml ? policy::PolicyToYaml(p) : policy::ExplainPolicy(p)).c_str(), stdout);
      return int(kExitOk);
    };
  });
}

void RegisterInit(CLI::App& parent, const GlobalOptions& global, Runner* run) {
  struct Opts {
    std::string license, out, tier, model;
    bool list = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      parent.add_subcommand("init", "Write a policy filled from the built-in licence catalogue");
  cmd->add_option("--license,--licence", o->license,
                  "Catalogue key, SPDX or Hugging Face id (e.g. llama3.1)");
  cmd->add_option("--tier", o->tier, "Override the tier: open | open-weights | gated | closed");
  cmd->add_option("--model", o->model, "Model name recorded in the policy");
  cmd->add_option("-o,--output", o->out, "Output YAML (default: stdout)");
  cmd->add_flag("--list", o->list, "List the catalogue");
  cmd->footer(
      "Example:\n  weightgate policy init --license llama3.1 --model Llama-3.1-8B -o "
      "policy.yaml\n\n"
      "Exit codes: 0 ok, 2 usage error (unknown licence), 8 I/O error.");
  cmd->callback([run, o, &global] {
    *run = [o, &global] {
      if (o->list) {
        for (const auto& e : policy::Catalogue())
          std::printf("%-14s %-48s %s\n", e.key.c_str(), e.spdx.c_str(), e.name.c_str());
        return int(kExitOk);
      }
      if (o->license.empty()) return ReportError(Error::Usage("--license is required (or --list)"));
      auto pol = policy::PolicyFromCatalogue(o->license);
      if (!pol.ok()) return ReportError(pol.error());
      if (!o->tier.empty()) {
        auto t = policy::TierFromName(o->tier);
        if (!t)
          return ReportError(Error::Usage("unknown tier")
                                 .Field("--tier")
                                 .Expected("open | open-weights | gated | closed")
                                 .Found(o->tier));
        pol->tier = *t;
        if ((*t == policy::Tier::kGated || *t == policy::Tier::kClosed) && !pol->access) {
          pol->access = policy::Access{};
          pol->access->grant_max_lifetime_days = 90;
        }
      }
      if (!o->model.empty()) pol->model = o->model;
      std::string text = policy::PolicyToYaml(*pol);
      if (o->out.empty()) {
        std::fputs(text.c_str(), stdout);
        return int(kExitOk);
      }
      Status s = WriteFileAtomically(o->out, text);
      if (!s.ok()) return ReportError(s.error());
      if (!global.quiet) std::printf("wrote %s (%s)\n", o->out.c_str(), pol->licence.id.c_str());
      return int(kExitOk);
    };
  });
}

}  // namespace

void RegisterPolicy(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto* cmd =
      app.add_subcommand("policy", "Release policies: check a use, explain, fill from a licence");
  cmd->require_subcommand(1);
  RegisterCheck(*cmd, global, run);
  RegisterShow(*cmd, global, run);
  RegisterInit(*cmd, global, run);
}

}  // namespace wg::cli
