// The bodies of the libFuzzer targets (tests/fuzz/*_fuzz.cpp), one function per parser.
//
// They live here, outside the fuzz build, so that the normal test suite can replay every
// input a fuzzer once crashed on (tests/fuzz/regressions/<target>/) through exactly the
// code the fuzzer ran. Each returns 0 and must never crash, leak or hit undefined
// behaviour, whatever the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wg::fuzz {

int Safetensors(const uint8_t* data, size_t size);       // ReadSafetensors (header + layout)
int Gguf(const uint8_t* data, size_t size);              // ReadGguf (+ metadata JSON)
int Pickle(const uint8_t* data, size_t size);            // pickle machine and scanner on raw bytes
int PytorchZip(const uint8_t* data, size_t size);        // ReadPyTorch + ScanPickles on a file
int Llama2c(const uint8_t* data, size_t size);           // checkpoint header/layout
int Llama2cTokenizer(const uint8_t* data, size_t size);  // tokenizer.bin
int OmsBundle(const uint8_t* data, size_t size);         // Sigstore bundle + in-toto statement
int OciJson(const uint8_t* data, size_t size);           // OCI manifest and index JSON
int OciTar(const uint8_t* data, size_t size);            // OCI layout tar: entries, index, manifest
int PolicyYaml(const uint8_t* data, size_t size);        // release policy YAML (+ round trip)
int ContextYaml(const uint8_t* data, size_t size);       // policy check context YAML (+ evaluate)
int Grant(const uint8_t* data, size_t size);             // grant JSON (+ round trip)

struct Target {
  const char* name;  // folder name under tests/fuzz/regressions and corpus/
  int (*run)(const uint8_t*, size_t);
};
const std::vector<Target>& AllTargets();

}  // namespace wg::fuzz
