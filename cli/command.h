// The CLI's shared conventions: how a verb registers itself, how errors print, and
// which exit code each failure class gets (the table in README.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "weightgate/core/error.h"

namespace wg::cli {

// Exit codes, one table for every verb.
enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,   // content mismatch, unsafe input, tampered data
  kExitUsage = 2,         // usage error or malformed input
  kExitCpuOnly = 3,       // passed on the CPU reference only
  kExitBadSignature = 4,
  kExitUntrusted = 5,
  kExitDenied = 6,
  kExitNeedsLicence = 7,
  kExitIo = 8,
  kExitMalformed = 9,  // verify and validate: malformed input, kept apart from usage errors
};

int ExitCodeFor(const Error& e);
// Prints "weightgate: error: <context>: <message>" to stderr and returns the exit code.
int ReportError(const Error& e);
// For verbs that split malformed input (9) from usage errors (2), e.g. verify.
int ExitCodeSplittingMalformed(const Error& e);
int ReportErrorSplittingMalformed(const Error& e);

struct GlobalOptions {
  bool quiet = false;
};

// A verb runs after parsing and returns the process exit code.
using Runner = std::function<int()>;

// Each verb file defines one of these; main.cpp calls them in order.
void RegisterInspect(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterScan(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterConvert(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterPush(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterPull(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterKeygen(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterSign(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterVerify(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterHash(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterGpuCheck(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterPolicy(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterGating(CLI::App& app, const GlobalOptions& global, Runner* run);
void RegisterValidate(CLI::App& app, const GlobalOptions& global, Runner* run);

}  // namespace wg::cli
