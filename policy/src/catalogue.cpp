// The built-in licence catalogue.
//
// Clause citations follow the sources digested in docs/policy.md ("Licence catalogue"):
// the licence texts' own section numbers where the reference confirms them (Llama §1.b.*,
// §2; Gemma §3.1/§3.2; Apache-2.0 §4; CC BY 4.0 / BY-NC 4.0 §1–§3); otherwise the clause
// is named in words (e.g. OpenRAIL-M "Attachment A") and no number is guessed.
#include "weightgate/policy/catalogue.h"

#include <algorithm>
#include <functional>

namespace wg::policy {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

OperationRule Allow(std::vector<std::string> requires_ = {}, bool inherit = false,
                    std::string clause = "") {
  OperationRule r;
  r.allow = true;
  r.requires_ = std::move(requires_);
  r.inherit = inherit;
  r.clause = std::move(clause);
  return r;
}
OperationRule Deny(std::string clause) {
  OperationRule r;
  r.allow = false;
  r.clause = std::move(clause);
  return r;
}

Obligation ShipLicence(std::vector<std::string> files, std::string clause) {
  Obligation o;
  o.id = "ship-licence";
  o.files = std::move(files);
  o.clause = std::move(clause);
  return o;
}
Obligation Notice(std::string file, std::string text, std::string clause) {
  Obligation o;
  o.id = "notice";
  o.file = std::move(file);
  o.text = std::move(text);
  o.clause = std::move(clause);
  return o;
}
Obligation Attribution(std::string display, std::string clause) {
  Obligation o;
  o.id = "attribution";
  o.display = std::move(display);
  o.clause = std::move(clause);
  return o;
}
Obligation NamePrefix(std::string prefix, std::vector<std::string> on, std::string clause) {
  Obligation o;
  o.id = "name-prefix";
  o.prefix = std::move(prefix);
  o.on = std::move(on);
  o.clause = std::move(clause);
  return o;
}
Obligation Simple(std::string id, std::string clause) {
  Obligation o;
  o.id = std::move(id);
  o.clause = std::move(clause);
  return o;
}

Restriction MauCap(uint64_t max, std::string clause) {
  Restriction x;
  x.id = "mau-cap";
  x.max = max;
  x.basis = "with affiliates, in the calendar month before the version's release date";
  x.on_exceed = "needs-separate-licence";
  x.clause = std::move(clause);
  return x;
}
Restriction NonCommercial(std::vector<std::string> kinds, std::vector<std::string> purposes,
                          std::string clause) {
  Restriction x;
  x.id = "field-of-use";
  x.commercial = false;
  x.kinds = std::move(kinds);
  x.purposes = std::move(purposes);
  x.clause = std::move(clause);
  return x;
}
Restriction Prohibited(std::string list, std::string clause) {
  Restriction x;
  x.id = "prohibited-uses";
  x.list = std::move(list);
  x.clause = std::move(clause);
  return x;
}
Restriction EuMultimodal(std::string clause) {
  Restriction x;
  x.id = "region";
  x.deny_regions = {"EU"};
  x.when_multimodal = true;
  x.exempt = {"end-user"};
  x.clause = std::move(clause);
  return x;
}

Policy Base(Tier tier, std::string key, std::string name, std::string spdx, bool acceptance) {
  Policy p;
  p.tier = tier;
  p.licence.id = std::move(spdx);
  p.licence.catalogue = std::move(key);
  p.licence.name = std::move(name);
  p.licence.text = FileRef{"LICENSE", "", ""};
  p.licence.acceptance_required = acceptance;
  return p;
}

// Apache-2.0, MIT, CC BY: every operation allowed; redistribution carries the notices.
Policy Permissive(std::string key, std::string name, std::string spdx, std::vector<Obligation> obl,
                  std::vector<std::string> redistribute_requires,
                  std::vector<std::string> derive_requires) {
  Policy p = Base(Tier::kOpen, key, name, spdx, false);
  p.obligations = std::move(obl);
  p.operations["run"] = Allow();
  p.operations["host"] = Allow();
  p.operations["redistribute"] = Allow(redistribute_requires);
  for (const char* op : {"convert", "quantize", "fine-tune", "merge"})
    p.operations[op] = Allow(derive_requires);
  p.operations["train-on-outputs"] = Allow();
  return p;
}

// The Llama 2–4 community licences share their skeleton (reference §1).
Policy Llama(std::string key, std::string name, std::string id, std::string notice,
             std::string attribution, std::string prefix, bool outputs_clause, bool eu_clause,
             bool multimodal) {
  Policy p = Base(Tier::kOpenWeights, key, name, id, true);
  p.multimodal = multimodal;
  p.licence.use_policy = FileRef{"USE_POLICY.md", "", ""};
  p.obligations.push_back(ShipLicence({"LICENSE"}, "§1.b.i"));
  p.obligations.push_back(Notice("NOTICE", notice, "§1.b.iii"));
  std::vector<std::string> redistribute = {"ship-licence", "notice"};
  if (!attribution.empty()) {
    p.obligations.push_back(Attribution(attribution, "§1.b.i(B)"));
    redistribute.push_back("attribution");
  }
  std::vector<std::string> derive_named;
  if (!prefix.empty()) {
    std::vector<std::string> on = {"fine-tune", "merge"};
    if (!outputs_clause) on.push_back("train-on-outputs");  // 3.1+: "materials or outputs"
    p.obligations.push_back(NamePrefix(prefix, on, "§1.b.i"));
    derive_named.push_back("name-prefix");
  }
  p.restrictions.push_back(MauCap(700000000, "§2"));
  p.restrictions.push_back(Prohibited("USE_POLICY.md (Acceptable Use Policy)", "§1.b.iv"));
  if (eu_clause)
    p.restrictions.push_back(
        EuMultimodal("Acceptable Use Policy (EU clause on §1(a) rights for multimodal models)"));
  p.operations["run"] = Allow();
  p.operations["host"] = Allow();
  p.operations["redistribute"] = Allow(redistribute, false, "§1.b.i");
  p.operations["convert"] = Allow({}, true);
  p.operations["quantize"] = Allow({}, true);
  p.operations["fine-tune"] = Allow(derive_named, true, prefix.empty() ? "" : "§1.b.i");
  p.operations["merge"] = Allow(derive_named, true, prefix.empty() ? "" : "§1.b.i");
  if (outputs_clause)
    p.operations["train-on-outputs"] =
        Deny("§1.b.v (no improving other large language models, outputs included)");
  else
    p.operations["train-on-outputs"] = Allow(derive_named, true, "§1.b.i (materials or outputs)");
  return p;
}

struct Builtin {
  CatalogueEntry entry;
  std::vector<std::string> aliases;
  std::function<Policy()> make;
};

const std::vector<Builtin>& Builtins() {
  static const std::vector<Builtin> all = {
      {{"apache-2.0", "Apache License 2.0", "Apache-2.0", "apache-2.0", "Apache License 2.0 §4"},
       {},
       [] {
         return Permissive("apache-2.0", "Apache License 2.0", "Apache-2.0",
                           {ShipLicence({"LICENSE"}, "§4(a)"), Simple("mark-changes", "§4(b)"),
                            Notice("NOTICE", "", "§4(d)")},
                           {"ship-licence", "notice"}, {"mark-changes"});
       }},
      {{"mit", "MIT License", "MIT", "mit",
        "MIT License (permission notice paragraph; no numbered sections)"},
       {},
       [] {
         return Permissive("mit", "MIT License", "MIT",
                           {ShipLicence({"LICENSE"}, "permission notice paragraph")},
                           {"ship-licence"}, {});
       }},
      {{"cc-by-4.0", "Creative Commons Attribution 4.0", "CC-BY-4.0", "cc-by-4.0",
        "CC BY 4.0 §3(a)"},
       {},
       [] {
         return Permissive(
             "cc-by-4.0", "Creative Commons Attribution 4.0", "CC-BY-4.0",
             {ShipLicence({"LICENSE"}, "§3(a)(1)(C)"),
              Attribution("the licensor's attribution and copyright notice", "§3(a)(1)(A)"),
              Simple("mark-changes", "§3(a)(1)(B)")},
             {"ship-licence", "attribution"}, {"mark-changes"});
       }},
      {{"cc-by-nc-4.0", "Creative Commons Attribution-NonCommercial 4.0", "CC-BY-NC-4.0",
        "cc-by-nc-4.0", "CC BY-NC 4.0 §1(i), §2(a)(1), §3(a)"},
       {},
       [] {
         Policy p = Permissive(
             "cc-by-nc-4.0", "Creative Commons Attribution-NonCommercial 4.0", "CC-BY-NC-4.0",
             {ShipLicence({"LICENSE"}, "§3(a)(1)(C)"),
              Attribution("the licensor's attribution and copyright notice", "§3(a)(1)(A)"),
              Simple("mark-changes", "§3(a)(1)(B)")},
             {"ship-licence", "attribution"}, {"mark-changes"});
         p.tier = Tier::kOpenWeights;
         p.restrictions.push_back(NonCommercial({}, {"non-commercial"},
                                                "§2(a)(1) (NonCommercial purposes only, §1(i))"));
         return p;
       }},
      {{"openrail-m", "BigScience OpenRAIL-M", "LicenseRef-scancode-bigscience-open-rail-m",
        "bigscience-openrail-m",
        "BigScience OpenRAIL-M (2022-08-18); section numbers not confirmed in the reference, "
        "clauses named in words"},
       {"bigscience-openrail-m"},
       [] {
         Policy p = Base(Tier::kOpenWeights, "openrail-m", "BigScience OpenRAIL-M",
                         "LicenseRef-scancode-bigscience-open-rail-m", false);
         p.obligations.push_back(
             ShipLicence({"LICENSE"}, "(distribution clause; section not confirmed)"));
         p.obligations.push_back(Simple("keep-restrictions",
                                        "(derivatives keep at minimum the same use-based "
                                        "restrictions; section not confirmed)"));
         p.restrictions.push_back(Prohibited("Attachment A (use restrictions)", "Attachment A"));
         p.operations["run"] = Allow();
         p.operations["host"] = Allow();
         p.operations["redistribute"] = Allow({"ship-licence", "keep-restrictions"});
         for (const char* op : {"convert", "quantize", "fine-tune", "merge"})
           p.operations[op] = Allow({"keep-restrictions"}, true);
         p.operations["train-on-outputs"] = Allow();
         return p;
       }},
      {{"llama2", "Llama 2 Community License", "LicenseRef-Llama-2-Community-License", "llama2",
        "LLAMA 2 Community License Agreement (2023-07-18) §1.b, §2"},
       {"llama-2"},
       [] {
         return Llama("llama2", "Llama 2 Community License", "LicenseRef-Llama-2-Community-License",
                      "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta "
                      "Platforms, "
                      "Inc. All Rights Reserved.",
                      "", "", true, false, false);
       }},
      {{"llama3", "Meta Llama 3 Community License", "LicenseRef-Meta-Llama-3-Community-License",
        "llama3", "Meta Llama 3 Community License Agreement (2024-04-18) §1.b, §2"},
       {"llama-3"},
       [] {
         return Llama(
             "llama3", "Meta Llama 3 Community License",
             "LicenseRef-Meta-Llama-3-Community-License",
             "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta "
             "Platforms, Inc. All Rights Reserved.",
             "Built with Meta Llama 3", "Llama 3", true, false, false);
       }},
      {{"llama3.1", "Llama 3.1 Community License", "LicenseRef-Llama-3.1-Community-License",
        "llama3.1", "Llama 3.1 Community License Agreement (2024-07-23) §1.b, §2"},
       {"llama-3.1"},
       [] {
         return Llama("llama3.1", "Llama 3.1 Community License",
                      "LicenseRef-Llama-3.1-Community-License",
                      "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © "
                      "Meta Platforms, "
                      "Inc. All Rights Reserved.",
                      "Built with Llama", "Llama", false, false, false);
       }},
      {{"llama3.2", "Llama 3.2 Community License", "LicenseRef-Llama-3.2-Community-License",
        "llama3.2",
        "Llama 3.2 Community License Agreement (2024-09-25) §1.b, §2; "
        "models/llama3_2/USE_POLICY.md"},
       {"llama-3.2"},
       [] {
         return Llama("llama3.2", "Llama 3.2 Community License",
                      "LicenseRef-Llama-3.2-Community-License",
                      "Llama 3.2 is licensed under the Llama 3.2 Community License, Copyright © "
                      "Meta Platforms, "
                      "Inc. All Rights Reserved.",
                      "Built with Llama", "Llama", false, true, false);
       }},
      {{"llama4", "Llama 4 Community License", "LicenseRef-Llama-4-Community-License", "llama4",
        "Llama 4 Community License Agreement (2025-04-05) §1.b, §2; Llama 4 Acceptable Use Policy"},
       {"llama-4"},
       [] {
         return Llama(
             "llama4", "Llama 4 Community License", "LicenseRef-Llama-4-Community-License",
             "Llama 4 is licensed under the Llama 4 Community License, Copyright © Meta Platforms, "
             "Inc. All Rights Reserved.",
             "Built with Llama", "Llama", false, true, true);
       }},
      {{"gemma", "Gemma Terms of Use", "LicenseRef-Gemma-Terms-of-Use", "gemma",
        "Gemma Terms of Use (Gemma 1-3) §3.1, §3.2"},
       {},
       [] {
         Policy p = Base(Tier::kOpenWeights, "gemma", "Gemma Terms of Use",
                         "LicenseRef-Gemma-Terms-of-Use", true);
         p.licence.use_policy =
             FileRef{"", "", "https://ai.google.dev/gemma/prohibited_use_policy"};
         p.obligations.push_back(ShipLicence({"LICENSE"}, "§3.1"));
         p.obligations.push_back(
             Simple("keep-restrictions", "§3.1 (pass the §3.2 use restrictions on)"));
         p.obligations.push_back(Simple("mark-changes", "§3.1"));
         p.obligations.push_back(
             Notice("NOTICE",
                    "Gemma is provided under and subject to the Gemma Terms of Use found at "
                    "ai.google.dev/gemma/terms",
                    "§3.1"));
         p.restrictions.push_back(Prohibited("Gemma Prohibited Use Policy", "§3.2"));
         p.operations["run"] = Allow();
         p.operations["host"] = Allow();
         p.operations["redistribute"] =
             Allow({"ship-licence", "notice", "keep-restrictions"}, false, "§3.1");
         for (const char* op : {"convert", "quantize", "fine-tune", "merge"})
           p.operations[op] = Allow({"keep-restrictions", "mark-changes"}, true, "§3.1");
         // Model Derivatives include models distilled from Output: they inherit the terms.
         p.operations["train-on-outputs"] =
             Allow({"keep-restrictions"}, true,
                   "Model Derivatives definition (includes distillation from Output)");
         return p;
       }},
      {{"llama1", "LLaMA 1 non-commercial research licence", "LicenseRef-LLaMA-1-Research-License",
        "",
        "facebookresearch/llama MODEL_CARD.md (\"non-commercial bespoke license\") and the "
        "original README "
        "(access by application form, approval, signed URL); no section numbers"},
       {"research-only", "llama-1"},
       [] {
         Policy p = Base(Tier::kGated, "llama1", "LLaMA 1 non-commercial research licence",
                         "LicenseRef-LLaMA-1-Research-License", true);
         p.restrictions.push_back(NonCommercial({"research"}, {"research"},
                                                "(model card: non-commercial bespoke licence)"));
         p.operations["run"] = Allow();
         p.operations["convert"] = Allow({}, true);
         p.operations["quantize"] = Allow({}, true);
         p.operations["fine-tune"] = Allow({}, true);
         p.operations["merge"] = Allow({}, true);
         p.operations["redistribute"] = Deny("(access by approved application only)");
         p.operations["host"] = Deny("(non-commercial research use only)");
         p.access = Access{};
         p.access->approval = "manual";
         p.access->grant_max_lifetime_days = 365;
         return p;
       }},
  };
  return all;
}

}  // namespace

const std::vector<CatalogueEntry>& Catalogue() {
  static const std::vector<CatalogueEntry> entries = [] {
    std::vector<CatalogueEntry> v;
    for (const auto& b : Builtins()) v.push_back(b.entry);
    return v;
  }();
  return entries;
}

Result<Policy> PolicyFromCatalogue(const std::string& name) {
  std::string n = Lower(name);
  std::string known;
  for (const auto& b : Builtins()) {
    known += (known.empty() ? "" : ", ") + b.entry.key;
    bool hit = n == b.entry.key || n == Lower(b.entry.spdx) ||
               (!b.entry.hf_id.empty() && n == b.entry.hf_id);
    for (const auto& a : b.aliases) hit = hit || n == a;
    if (hit) return b.make();
  }
  return Error::Usage("unknown licence '" + name + "'").Field("--license").Expected(known);
}

}  // namespace wg::policy
