// Release policies: strict parsing, the licence catalogue, the evaluator's release
// scenarios, and the `policy` verbs' exit codes and JSON.
#include "weightgate/policy/policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_util.h"
#include "weightgate/policy/catalogue.h"
#include "weightgate/policy/evaluate.h"

namespace wg::policy {
namespace {

using test::RunCli;
using test::SourcePath;
using test::TempDir;
using test::WriteText;

Policy Example(const std::string& name) {
  auto p = ReadPolicyFile(SourcePath("examples/policies/" + name));
  EXPECT_TRUE(p.ok()) << p.error().ToString();
  return *p;
}

Context Ctx(const std::string& yaml) {
  auto c = ParseContext(yaml, "ctx.yaml");
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return *c;
}

bool HasReason(const Evaluation& ev, const std::string& rule, const std::string& detail_part) {
  for (const auto& r : ev.reasons)
    if (r.rule == rule && r.detail.find(detail_part) != std::string::npos) return true;
  return false;
}

TEST(PolicyParse, EveryExampleParsesAndRoundTrips) {
  for (const char* name : {"open-apache-2.0.yaml", "open-weights-llama3.1.yaml",
                           "research-only-llama1.yaml", "closed-internal.yaml"}) {
    Policy p = Example(name);
    std::string yaml = PolicyToYaml(p);
    auto again = ParsePolicy(yaml, "roundtrip.yaml");
    ASSERT_TRUE(again.ok()) << name << ": " << again.error().ToString() << "\n" << yaml;
    EXPECT_EQ(PolicyToYaml(*again), yaml) << name;
  }
  EXPECT_EQ(Example("open-weights-llama3.1.yaml").restrictions[0].max, 700000000u);
  EXPECT_EQ(Example("closed-internal.yaml").access->grant_max_lifetime_days, 30u);
}

struct BadCase {
  std::string yaml;
  const char* field;
};

TEST(PolicyParse, ErrorsNameFileAndField) {
  const std::string ok_head = "weightgate_policy: 1\ntier: open\nlicence: {id: MIT}\n";
  const BadCase cases[] = {
      {"tier: open\nlicence: {id: MIT}\noperations: {run: allow}\n", "weightgate_policy"},
      {"weightgate_policy: 1\ntier: half-open\nlicence: {id: MIT}\noperations: {run: allow}\n",
       "tier"},
      {"weightgate_policy: 1\ntier: open\nlicence: {id: MIT, acceptance: maybe}\noperations: {run: "
       "allow}\n",
       "licence.acceptance"},
      {"weightgate_policy: 1\ntier: open\nlicence: {id: MIT, txt: x}\noperations: {run: allow}\n",
       "licence.txt"},
      {"weightgate_policy: 1\ntier: open\nlicence: {id: \"My Licence\"}\noperations: {run: "
       "allow}\n",
       "licence.id"},
      {(ok_head + "operations: {run: allow, teleport: allow}\n"), "operations.teleport"},
      {(ok_head + "operations: {run: perhaps}\n"), "operations.run"},
      {(ok_head + "restrictions:\n  - {id: mau-cap, max: lots}\noperations: {run: allow}\n"),
       "restrictions[0].max"},
      {(ok_head + "restrictions:\n  - {id: mau-cap}\noperations: {run: allow}\n"),
       "restrictions[0].max"},
      {(ok_head + "restrictions:\n  - {id: curfew}\noperations: {run: allow}\n"),
       "restrictions[0].id"},
      {(ok_head +
        "obligations:\n  - {id: name-prefix, prefix: X, on: [fly]}\noperations: {run: allow}\n"),
       "obligations[0].on[0]"},
      {(ok_head + "operations: {fine-tune: {allow: true, requires: [name-prefix]}}\n"),
       "operations.fine-tune.requires[0]"},
      {"weightgate_policy: 1\ntier: closed\nlicence: {id: MIT}\noperations: {run: allow}\n",
       "access"},
      {"weightgate_policy: 1\ntier: closed\nlicence: {id: MIT}\noperations: {run: allow}\n"
       "access: {grant_max_lifetime: 90 days}\n",
       "access.grant_max_lifetime"},
      {(ok_head + "operations: [run]\n"), "operations"},
  };
  for (const auto& c : cases) {
    std::string yaml = c.yaml;  // the temporaries above die at the end of the initializer
    auto p = ParsePolicy(yaml, "bad.yaml");
    ASSERT_FALSE(p.ok()) << yaml;
    EXPECT_EQ(p.error().file().value_or(""), "bad.yaml");
    EXPECT_EQ(p.error().field().value_or(""), c.field) << p.error().ToString();
  }
}

TEST(PolicyParse, FutureSchemaVersionIsUnsupported) {
  auto p = ParsePolicy(
      "weightgate_policy: 2\ntier: open\nlicence: {id: MIT}\noperations: {run: allow}\n",
      "v2.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kUnsupported);
}

TEST(PolicyParse, ContextIsStrictToo) {
  auto c = ParseContext("kind: company\nmonthly_users: 5\n", "ctx.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().field().value_or(""), "monthly_users");
  c = ParseContext("commercial: maybe\n", "ctx.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().field().value_or(""), "commercial");
  c = ParseContext("operation: steal\n", "ctx.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().field().value_or(""), "operation");
}

TEST(Catalogue, EveryEntryBuildsAValidPolicyWithCitedClauses) {
  ASSERT_GE(Catalogue().size(), 12u);
  for (const auto& e : Catalogue()) {
    auto p = PolicyFromCatalogue(e.key);
    ASSERT_TRUE(p.ok()) << e.key;
    EXPECT_TRUE(ValidatePolicy(*p, e.key).ok()) << e.key;
    auto again = ParsePolicy(PolicyToYaml(*p), e.key);
    ASSERT_TRUE(again.ok()) << e.key << ": " << again.error().ToString();
    for (const auto& o : p->obligations) EXPECT_FALSE(o.clause.empty()) << e.key << " " << o.id;
    for (const auto& x : p->restrictions) EXPECT_FALSE(x.clause.empty()) << e.key << " " << x.id;
  }
  // SPDX and Hugging Face ids resolve too.
  EXPECT_TRUE(PolicyFromCatalogue("Apache-2.0").ok());
  EXPECT_TRUE(PolicyFromCatalogue("bigscience-openrail-m").ok());
  EXPECT_TRUE(PolicyFromCatalogue("research-only").ok());
  EXPECT_FALSE(PolicyFromCatalogue("wtfpl-ish").ok());
}

TEST(Catalogue, LlamaVersionsDifferWhereTheLicencesDo) {
  Policy l2 = *PolicyFromCatalogue("llama2");
  Policy l3 = *PolicyFromCatalogue("llama3");
  Policy l31 = *PolicyFromCatalogue("llama3.1");
  Policy l4 = *PolicyFromCatalogue("llama4");
  EXPECT_EQ(l2.FindObligation("name-prefix"), nullptr);
  EXPECT_EQ(l3.FindObligation("name-prefix")->prefix, "Llama 3");
  EXPECT_EQ(l31.FindObligation("name-prefix")->prefix, "Llama");
  EXPECT_EQ(l31.FindObligation("attribution")->display, "Built with Llama");
  EXPECT_FALSE(l3.operations.at("train-on-outputs").allow);  // §1.b.v
  EXPECT_TRUE(l31.operations.at("train-on-outputs").allow);  // dropped in 3.1
  EXPECT_TRUE(l4.multimodal);
  for (const Policy* p : {&l2, &l3, &l31, &l4}) {
    ASSERT_FALSE(p->restrictions.empty());
    EXPECT_EQ(p->restrictions[0].max, 700000000u);
    EXPECT_EQ(p->restrictions[0].clause, "§2");
  }
}

// --- the release scenarios ---

TEST(Evaluate, ResearchOnlyRefusedToACommercialContext) {
  Policy p = Example("research-only-llama1.yaml");
  auto ev = Evaluate(
      p, Ctx("kind: company\ncommercial: true\noperation: run\naccepted: true\ngrant: true\n"));
  EXPECT_EQ(ev.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(ev, "restriction field-of-use", "commercial use is not permitted"));
  EXPECT_TRUE(HasReason(ev, "restriction field-of-use", "kind 'company'"));
  auto ok = Evaluate(
      p, Ctx("kind: research\ncommercial: false\noperation: run\naccepted: true\ngrant: true\n"));
  EXPECT_EQ(ok.decision, Decision::kAllow);
}

TEST(Evaluate, OpenWeightsAllowedBelowTheCapAndNeedsSeparateLicenceAbove) {
  Policy p = Example("open-weights-llama3.1.yaml");
  auto below = Evaluate(p, Ctx("mau: 699999999\noperation: host\naccepted: true\n"));
  EXPECT_EQ(below.decision, Decision::kAllow);
  auto above = Evaluate(p, Ctx("mau: 700000001\noperation: host\naccepted: true\n"));
  EXPECT_EQ(above.decision, Decision::kNeedsSeparateLicence);
  ASSERT_FALSE(above.reasons.empty());
  EXPECT_EQ(above.reasons[0].rule, "restriction mau-cap");
  EXPECT_EQ(above.reasons[0].clause, "Llama 3.1 Community License §2");
}

TEST(Evaluate, DerivativeWithoutRequiredPrefixRefused) {
  Policy p = Example("open-weights-llama3.1.yaml");
  auto bad = Evaluate(
      p, Ctx("mau: 10\noperation: fine-tune\nderivative_name: SuperChat-8B\naccepted: true\n"));
  EXPECT_EQ(bad.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(bad, "obligation name-prefix", "must begin with \"Llama\""));
  auto good = Evaluate(
      p,
      Ctx("mau: 10\noperation: fine-tune\nderivative_name: Llama-SuperChat-8B\naccepted: true\n"));
  EXPECT_EQ(good.decision, Decision::kAllow);
  ASSERT_EQ(good.duties.size(), 2u);  // name-prefix + the prohibited-use list
  EXPECT_EQ(good.duties[0].obligation, "name-prefix");
}

TEST(Evaluate, MissingContextKeysAreDeniedByName) {
  Policy p = Example("open-weights-llama3.1.yaml");
  auto ev = Evaluate(p, Ctx("operation: fine-tune\naccepted: true\n"));
  EXPECT_EQ(ev.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(ev, "restriction mau-cap", "context lacks mau"));
  EXPECT_TRUE(HasReason(ev, "obligation name-prefix", "context lacks derivative_name"));
  auto no_op = Evaluate(p, Ctx("mau: 1\n"));
  EXPECT_EQ(no_op.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(no_op, "context", "context lacks operation"));
}

TEST(Evaluate, AcceptanceAndGrantsAndForbiddenOperations) {
  Policy p = Example("open-weights-llama3.1.yaml");
  EXPECT_EQ(Evaluate(p, Ctx("mau: 1\noperation: run\naccepted: false\n")).decision,
            Decision::kNeedsAcceptance);
  Policy closed = Example("closed-internal.yaml");
  auto no_grant =
      Evaluate(closed, Ctx("commercial: false\noperation: run\naccepted: true\ngrant: false\n"));
  EXPECT_EQ(no_grant.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(no_grant, "tier closed", "grant"));
  auto redistribute = Evaluate(
      closed, Ctx("commercial: false\noperation: redistribute\naccepted: true\ngrant: true\n"));
  EXPECT_EQ(redistribute.decision, Decision::kDeny);
  EXPECT_TRUE(HasReason(redistribute, "operation redistribute", "forbids"));
  // Llama 3 forbids improving other LLMs with outputs (§1.b.v).
  Policy l3 = *PolicyFromCatalogue("llama3");
  auto t = Evaluate(l3, Ctx("mau: 1\noperation: train-on-outputs\naccepted: true\n"));
  EXPECT_EQ(t.decision, Decision::kDeny);
  EXPECT_NE(t.reasons[0].clause.find("§1.b.v"), std::string::npos);
}

TEST(Evaluate, EuClauseOnlyForMultimodalModelsAndNotForEndUsers) {
  Policy l4 = *PolicyFromCatalogue("llama4");
  EXPECT_EQ(Evaluate(l4, Ctx("mau: 1\ncountry: DE\noperation: run\naccepted: true\n")).decision,
            Decision::kDeny);
  EXPECT_EQ(
      Evaluate(l4,
               Ctx("mau: 1\ncountry: DE\nend_user_only: true\noperation: run\naccepted: true\n"))
          .decision,
      Decision::kAllow);
  EXPECT_EQ(Evaluate(l4, Ctx("mau: 1\ncountry: US\noperation: run\naccepted: true\n")).decision,
            Decision::kAllow);
  Policy l32 = *PolicyFromCatalogue("llama3.2");  // text-only by default
  EXPECT_EQ(Evaluate(l32, Ctx("mau: 1\ncountry: DE\noperation: run\naccepted: true\n")).decision,
            Decision::kAllow);
}

// --- the CLI ---

TEST(PolicyCli, CheckExitCodesAndJson) {
  TempDir dir;
  std::string pol = SourcePath("examples/policies/open-weights-llama3.1.yaml");
  WriteText(dir / "small.yaml", "mau: 5\noperation: run\naccepted: true\n");
  WriteText(dir / "big.yaml", "mau: 800000000\noperation: run\naccepted: true\n");
  WriteText(dir / "bad-name.yaml",
            "mau: 5\noperation: merge\nderivative_name: Mix-7B\naccepted: true\n");
  WriteText(dir / "typo.yaml", "mau: 5\noperatoin: run\n");
  auto r = RunCli({"policy", "check", pol, "--context", dir / "small.yaml", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["decision"], "allow");
  r = RunCli({"policy", "check", pol, "--context", dir / "big.yaml", "--json"});
  EXPECT_EQ(r.exit_code, 7);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["decision"], "needs-separate-licence");
  EXPECT_EQ(j["reasons"][0]["clause"], "Llama 3.1 Community License §2");
  r = RunCli({"policy", "check", pol, "--context", dir / "bad-name.yaml"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.out.find("must begin with \"Llama\""), std::string::npos) << r.out;
  r = RunCli({"policy", "check", pol, "--context", dir / "typo.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("operatoin"), std::string::npos) << r.err;
  r = RunCli({"policy", "check", SourcePath("examples/policies/research-only-llama1.yaml"),
              "--context", SourcePath("examples/policies/contexts/commercial-startup.yaml")});
  EXPECT_EQ(r.exit_code, 6) << r.out;
}

TEST(PolicyCli, InitFromCatalogueAndShow) {
  TempDir dir;
  auto r = RunCli(
      {"policy", "init", "--license", "llama3.1", "--model", "Llama-3.1-8B", "-o", dir / "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto p = ReadPolicyFile(dir / "p.yaml");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->licence.catalogue, "llama3.1");
  EXPECT_EQ(p->model, "Llama-3.1-8B");
  r = RunCli({"policy", "show", dir / "p.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("700000000 monthly active users"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Built with Llama"), std::string::npos);
  r = RunCli({"policy", "init", "--license", "nope"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace wg::policy
