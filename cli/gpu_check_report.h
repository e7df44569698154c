// Rendering of gpu-check's device passes and its generic tensor pass, kept apart from
// the verb's option parsing (cmd_gpu_check.cpp) so that each piece stays small.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "weightgate/gpu_check/device_check.h"

namespace wg::cli {

// One device's entry in "devices" and its entry in "passes".
nlohmann::ordered_json DeviceJson(const DevicePass& d);
nlohmann::ordered_json DevicePassJson(const DevicePass& d, const std::string& prompt);
// The text lines for one device pass (stdout).
void PrintDevicePass(const DevicePass& d);

// gpu-check's generic tensor pass over any catalogue (architectures without a forward
// pass, or --tensors): host statistics always, device statistics per selected GPU,
// compared. Returns the exit code: 0 every device matched, 1 a mismatch or NaN/Inf in
// the weights, 2 bad input, 3 host only (no GPU visible).
int RunGpuTensorPass(const std::string& path, const std::string& devices, bool json, bool quiet);

}  // namespace wg::cli
