// PyTorch checkpoints: ReadPyTorch against torch's own values, ScanPickles against
// pickletools, malicious pickles of every family, and corrupt archives.
//
// Fixtures are written at test time by tests/support/make_pytorch_fixtures.py running
// under WG_PYTHON with torch; the tests skip when that python has no torch.
#include "weightgate/formats/pytorch.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../formats/src/pickle_machine.h"
#include "../formats/src/pickle_scanner.h"
#include "support/test_util.h"

namespace wg {
namespace {

using nlohmann::json;

std::string RunCommand(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *rc = ::pclose(p);
  return out;
}

class PyTorch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    int status = 0;
    log_ = RunCommand(std::string(WG_PYTHON) + " " +
                          test::SourcePath("tests/support/make_pytorch_fixtures.py") + " " +
                          dir_->path().string(),
                      &status);
    // 127: the shell found no python; 77: the script found no torch.
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    have_torch_ = rc != 127 && rc != 77;
    generated_ = rc == 0;
    if (generated_) {
      auto bytes = test::ReadAll(Path("manifest.json"));
      manifest_ = json::parse(bytes.begin(), bytes.end());
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!have_torch_) GTEST_SKIP() << WG_PYTHON << " has no torch: " << log_;
    ASSERT_TRUE(generated_) << "fixture generation failed:\n" << log_;
  }

  static std::string Path(const std::string& name) { return *dir_ / name; }

  static inline test::TempDir* dir_ = nullptr;
  static inline bool have_torch_ = false;
  static inline bool generated_ = false;
  static inline std::string log_;
  static inline json manifest_;
};

// The tensor's elements in row-major order, gathered through its strides when it is a
// strided view.
std::vector<uint8_t> Gather(const TensorInfo& t) {
  const uint64_t item = Info(t.dtype).block_bytes;
  const uint64_t n = t.elements();
  Bytes span = t.data();
  if (t.contiguous()) {
    EXPECT_EQ(t.nbytes, n * item) << t.name;
    return {span.begin(), span.end()};
  }
  std::vector<uint8_t> out;
  std::vector<uint64_t> index(t.shape.size(), 0);
  for (uint64_t e = 0; e < n; ++e) {
    uint64_t off = 0;
    for (size_t d = 0; d < index.size(); ++d) off += index[d] * t.strides[d] * item;
    EXPECT_LE(off + item, span.size()) << t.name;
    if (off + item > span.size()) return out;
    out.insert(out.end(), span.begin() + off, span.begin() + off + item);
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < t.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

json Plain(const nlohmann::ordered_json& j) {
  return json::parse(j.dump());
}

TEST_F(PyTorch, ReadsWhatTorchWrote) {
  for (const json& ckpt : manifest_["checkpoints"]) {
    const std::string file = ckpt["file"];
    SCOPED_TRACE(file);
    auto cat = ReadPyTorch(Path(file));
    ASSERT_TRUE(cat.ok()) << cat.error().ToString();
    EXPECT_EQ(cat->format, Format::kPyTorch);
    EXPECT_EQ(cat->files, std::vector<std::string>{Path(file)});
    ASSERT_EQ(cat->tensors.size(), ckpt["tensors"].size());
    for (const json& t : ckpt["tensors"]) {
      const std::string name = t["name"];
      SCOPED_TRACE(name);
      const TensorInfo* info = cat->Find(name);
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(Name(info->dtype), t["dtype"].get<std::string>());
      EXPECT_EQ(info->shape, t["shape"].get<std::vector<uint64_t>>());
      EXPECT_EQ(info->contiguous(), t["contiguous"].get<bool>());
      EXPECT_EQ(Gather(*info), test::ReadAll(Path(t["expected"])));
    }
    EXPECT_EQ(Plain(cat->metadata), ckpt["metadata"]);
  }
}

TEST_F(PyTorch, TiedWeightsAndViewsPointIntoOneStorage) {
  auto tied = ReadPyTorch(Path("tied.pt"));
  ASSERT_TRUE(tied.ok()) << tied.error().ToString();
  const TensorInfo* embed = tied->Find("embed.weight");
  const TensorInfo* head = tied->Find("lm_head.weight");
  const TensorInfo* rows = tied->Find("rows");
  ASSERT_TRUE(embed && head && rows);
  EXPECT_EQ(embed->offset, head->offset);
  EXPECT_EQ(embed->nbytes, 4u * 3 * 4);
  EXPECT_EQ(rows->offset, embed->offset + 2 * 3 * 4);  // w[2:] starts two rows in
  EXPECT_EQ(embed->offset % 64, 0u) << "torch aligns records to 64 bytes";

  auto views = ReadPyTorch(Path("views.pt"));
  ASSERT_TRUE(views.ok()) << views.error().ToString();
  EXPECT_EQ(views->Find("transposed")->strides, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(views->Find("every_other")->strides, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(views->Find("expanded")->strides, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(views->Find("expanded")->nbytes, 3u * 4);  // the view reads one row, 4 times
  EXPECT_EQ(views->Find("line_tail")->nbytes, 7u * 4);
  EXPECT_EQ(views->Find("scalar")->shape, std::vector<uint64_t>{});
  EXPECT_EQ(views->Find("empty")->nbytes, 0u);
}

TEST_F(PyTorch, TorchTwoRebuildV3WithFloat8) {
  auto cat = ReadPyTorch(Path("v3.pt"));
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  const TensorInfo* f8 = cat->Find("f8");
  ASSERT_NE(f8, nullptr);
  EXPECT_EQ(f8->dtype, DType::kF8E4M3);
  EXPECT_EQ(f8->shape, (std::vector<uint64_t>{2, 4}));
  std::string hex;
  for (uint8_t b : f8->data()) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  EXPECT_EQ(hex, manifest_["corrupt"]["v3_bytes"].get<std::string>());
}

bool Lists(const PickleScan& scan, const std::string& global, const std::string& severity) {
  for (const PickleGlobal& g : scan.globals)
    if (g.module + "." + g.name == global && g.severity == severity) return true;
  return false;
}

TEST_F(PyTorch, MaliciousPicklesAreRefusedAndListed) {
  ASSERT_GT(manifest_["malicious"].size(), 20u);
  for (const json& m : manifest_["malicious"]) {
    const std::string name = m["name"];
    const std::string global = m["global"];
    for (const std::string& file : {Path(name + ".pt"), Path(name + ".pkl")}) {
      SCOPED_TRACE(file);
      auto cat = ReadPyTorch(file);
      ASSERT_FALSE(cat.ok());
      EXPECT_EQ(cat.error().code(), ErrorCode::kUnsafe) << cat.error().ToString();
      EXPECT_NE(cat.error().ToString().find(global), std::string::npos) << cat.error().ToString();
      EXPECT_NE(cat.error().ToString().find(file), std::string::npos);
      EXPECT_TRUE(cat.error().offset().has_value());

      auto scan = ScanPickles(file);
      ASSERT_TRUE(scan.ok()) << scan.error().ToString();
      EXPECT_FALSE(scan->safe());
      EXPECT_TRUE(Lists(*scan, global, "dangerous")) << global;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(manifest_["sentinel"].get<std::string>()));
}

TEST_F(PyTorch, ScannerNamesEntryAndOffsetOfMaliciousZip) {
  auto scan = ScanPickles(Path("evil_os_literal.pt"));
  ASSERT_TRUE(scan.ok()) << scan.error().ToString();
  ASSERT_EQ(scan->globals.size(), 1u);
  EXPECT_EQ(scan->globals[0].module, "os");
  EXPECT_EQ(scan->globals[0].name, "system");
  EXPECT_EQ(scan->globals[0].offset, 2u);  // after PROTO 2
  EXPECT_EQ(scan->globals[0].pickle, "lone/data.pkl");
  EXPECT_FALSE(scan->legacy);
  EXPECT_FALSE(scan->globals[0].safe);
}

TEST_F(PyTorch, ScannerReadsOnPastAHarmlessFirstPickle) {
  auto scan = ScanPickles(Path("evil_second.pkl"));
  ASSERT_TRUE(scan.ok()) << scan.error().ToString();
  EXPECT_TRUE(scan->legacy);
  EXPECT_TRUE(Lists(*scan, "posix.system", "dangerous"));
  auto cat = ReadPyTorch(Path("evil_second.pkl"));
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().code(), ErrorCode::kUnsafe);
  EXPECT_FALSE(std::filesystem::exists(manifest_["sentinel"].get<std::string>()));
}

TEST_F(PyTorch, ScannerAgreesWithPickletools) {
  for (const auto& [file, expected] : manifest_["scan_oracle"].items()) {
    SCOPED_TRACE(file);
    auto scan = ScanPickles(Path(file));
    ASSERT_TRUE(scan.ok()) << scan.error().ToString();
    EXPECT_TRUE(scan->safe());
    ASSERT_EQ(scan->globals.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const PickleGlobal& g = scan->globals[i];
      EXPECT_EQ(g.module, expected[i][0].get<std::string>());
      EXPECT_EQ(g.name, expected[i][1].get<std::string>());
      EXPECT_EQ(g.offset, expected[i][2].get<uint64_t>());
      EXPECT_EQ(g.pickle, expected[i][3].get<std::string>());
      EXPECT_EQ(g.severity, "safe");
    }
  }
}

TEST_F(PyTorch, LegacyFormatIsRefusedButScanned) {
  auto cat = ReadPyTorch(Path("legacy.pt"));
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(cat.error().message().find("legacy (pre-1.6) torch.save format"), std::string::npos)
      << cat.error().ToString();
  EXPECT_NE(cat.error().message().find("never unpickles"), std::string::npos);
  auto scan = ScanPickles(Path("legacy.pt"));
  ASSERT_TRUE(scan.ok()) << scan.error().ToString();
  EXPECT_TRUE(scan->legacy);
  EXPECT_TRUE(Lists(*scan, "torch._utils._rebuild_tensor_v2", "safe"));
}

TEST_F(PyTorch, NotAZipAtAll) {
  const std::string text = Path("text.pt");
  test::WriteText(text, "hello, not a checkpoint\n");
  auto cat = ReadPyTorch(text);
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(cat.error().file(), text);
  EXPECT_FALSE(ScanPickles(text).ok());
}

TEST_F(PyTorch, TorchScriptArchiveIsNotACheckpoint) {
  auto cat = ReadPyTorch(Path("script.pt"));
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(cat.error().message().find("TorchScript"), std::string::npos);
  // Its pickles name TorchScript classes: listed, and not vouched for.
  auto scan = ScanPickles(Path("script.pt"));
  ASSERT_TRUE(scan.ok()) << scan.error().ToString();
  EXPECT_FALSE(scan->safe());
  EXPECT_TRUE(Lists(*scan, "__torch__.torch.nn.modules.linear.Linear", "unknown"));
}

struct Expectation {
  const char* file;
  ErrorCode code;
  const char* text;
};

TEST_F(PyTorch, CorruptArchivesNameFileAndPlace) {
  const Expectation cases[] = {
      {"short_record.pt", ErrorCode::kMalformed, "storage record size does not match"},
      {"view_past_storage.pt", ErrorCode::kMalformed, "tensor view reaches past its storage"},
      {"unknown_opcode.pt", ErrorCode::kMalformed, "unknown pickle opcode 0xff"},
      {"missing_record.pt", ErrorCode::kMalformed, "lone/data/7' is missing"},
      {"deflated.pt", ErrorCode::kUnsupported, "compressed zip entry"},
      {"duplicate.pt", ErrorCode::kMalformed, "duplicate entry name"},
      {"overlap.pt", ErrorCode::kMalformed, "zip entries overlap"},
      {"encrypted.pt", ErrorCode::kUnsupported, "encrypted zip entry"},
      {"laughs.pt", ErrorCode::kUnsupported, "too many entries"},
  };
  for (const Expectation& c : cases) {
    SCOPED_TRACE(c.file);
    auto cat = ReadPyTorch(Path(c.file));
    ASSERT_FALSE(cat.ok());
    const std::string msg = cat.error().ToString();
    EXPECT_EQ(cat.error().code(), c.code) << msg;
    EXPECT_NE(msg.find(c.text), std::string::npos) << msg;
    EXPECT_NE(msg.find(Path(c.file)), std::string::npos) << msg;
  }
  auto unknown = ReadPyTorch(Path("unknown_opcode.pt"));
  EXPECT_EQ(unknown.error().offset(),
            manifest_["corrupt"]["unknown_opcode_offset"].get<uint64_t>());
  EXPECT_EQ(*unknown.error().file(), Path("unknown_opcode.pt") + ":lone/data.pkl");
  auto deflated = ReadPyTorch(Path("deflated.pt"));
  EXPECT_NE(deflated.error().ToString().find("dtypes/data/0"), std::string::npos);

  // A re-zipped checkpoint can still be scanned: its data.pkl is inflated.
  auto scan = ScanPickles(Path("deflated.pt"));
  ASSERT_TRUE(scan.ok()) << scan.error().ToString();
  EXPECT_TRUE(scan->safe());
  EXPECT_TRUE(Lists(*scan, "torch._utils._rebuild_tensor_v2", "safe"));
}

TEST_F(PyTorch, TruncatedAtEveryLength) {
  for (const char* name : {"lone.pt", "legacy.pt"}) {
    const auto bytes = test::ReadAll(Path(name));
    const std::string cut = Path(std::string("cut-") + name);
    for (size_t len = 0; len < bytes.size(); ++len) {
      test::WriteAll(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + len));
      auto cat = ReadPyTorch(cut);
      ASSERT_FALSE(cat.ok()) << name << " cut at " << len;
      ASSERT_EQ(cat.error().file().value_or("").rfind(cut, 0), 0u)
          << len << ": " << cat.error().ToString();
      (void)ScanPickles(cut);  // must return, with or without findings
    }
  }
}

TEST_F(PyTorch, BitFlipsInTheCentralDirectory) {
  const auto bytes = test::ReadAll(Path("lone.pt"));
  const auto expected = test::ReadAll(Path("lone.pt.0.bin"));
  const uint8_t sig[] = {'P', 'K', 1, 2};
  auto cd = std::search(bytes.begin(), bytes.end(), std::begin(sig), std::end(sig));
  ASSERT_NE(cd, bytes.end());
  const std::string flipped = Path("flipped.pt");
  size_t refused = 0, accepted = 0;
  for (size_t pos = cd - bytes.begin(); pos < bytes.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[pos] ^= static_cast<uint8_t>(1 << bit);
      test::WriteAll(flipped, copy);
      auto cat = ReadPyTorch(flipped);
      if (!cat.ok()) {
        ++refused;
        ASSERT_EQ(cat.error().file().value_or("").rfind(flipped, 0), 0u) << cat.error().ToString();
        continue;
      }
      // Only fields no reader depends on (times, attributes, versions, a storage's
      // CRC) may change without an error, and then the values are intact.
      ++accepted;
      ASSERT_EQ(cat->tensors.size(), 1u);
      ASSERT_EQ(Gather(cat->tensors[0]), expected) << "flip at " << pos << " bit " << bit;
    }
  }
  EXPECT_GT(refused, accepted);
}

TEST_F(PyTorch, DataPklCrcIsChecked) {
  auto bytes = test::ReadAll(Path("lone.pt"));
  const auto pkl = test::ReadAll(Path("lone.pkl"));
  auto at = std::search(bytes.begin(), bytes.end(), pkl.begin(), pkl.end());
  ASSERT_NE(at, bytes.end());
  at[20] ^= 0x01;
  test::WriteAll(Path("crc.pt"), bytes);
  auto cat = ReadPyTorch(Path("crc.pt"));
  ASSERT_FALSE(cat.ok());
  EXPECT_NE(cat.error().ToString().find("CRC-32 mismatch"), std::string::npos);
  EXPECT_NE(cat.error().ToString().find("lone/data.pkl"), std::string::npos);
}

// Every single-bit corruption of a real data.pkl through the machine and the scanner:
// each returns, and each error says where.
TEST_F(PyTorch, BitFlipsInDataPklNeverCrash) {
  const auto pkl = test::ReadAll(Path("lone.pkl"));
  for (size_t pos = 0; pos < pkl.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = pkl;
      copy[pos] ^= static_cast<uint8_t>(1 << bit);
      auto values = pickle::Unpickle(copy, "flip.pkl");
      if (!values.ok()) {
        EXPECT_EQ(values.error().file(), "flip.pkl");
        EXPECT_TRUE(values.error().offset().has_value()) << values.error().ToString();
      }
      std::vector<PickleGlobal> globals;
      auto scanned = pickle::ScanOne(copy, 0, "flip.pkl", "flip.pkl", &globals);
      if (!scanned.ok()) {
        EXPECT_TRUE(scanned.error().offset().has_value());
      }
    }
  }
}

std::vector<uint8_t> Bytes_(std::initializer_list<int> b) {
  std::vector<uint8_t> v;
  for (int x : b) v.push_back(static_cast<uint8_t>(x));
  return v;
}

TEST(PickleMachine, StackGlobalFromNonStringsIsUnknownAndRefused) {
  // PROTO 4, NONE, NONE, STACK_GLOBAL, STOP
  const auto pkl = Bytes_({0x80, 4, 'N', 'N', 0x93, '.'});
  std::vector<PickleGlobal> globals;
  ASSERT_TRUE(pickle::ScanOne(pkl, 0, "x.pkl", "x.pkl", &globals).ok());
  ASSERT_EQ(globals.size(), 1u);
  EXPECT_EQ(globals[0].module, "?");
  EXPECT_EQ(globals[0].severity, "unknown");
  EXPECT_EQ(globals[0].offset, 4u);
  auto values = pickle::Unpickle(pkl, "x.pkl");
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code(), ErrorCode::kUnsafe);
  EXPECT_EQ(values.error().offset(), 4u);
}

TEST(PickleMachine, RefusesOpcodesThatImportOrCall) {
  // INST 'os system' with a marked argument: protocol 0's import-and-call.
  std::string inst = "(S'ls'\nios\nsystem\n.";
  std::vector<uint8_t> pkl(inst.begin(), inst.end());
  auto values = pickle::Unpickle(pkl, "inst.pkl");
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code(), ErrorCode::kUnsupported);  // STRING comes first
  // With a protocol 2 string, INST itself is reached.
  pkl =
      Bytes_({'(', 'U', 2, 'l', 's', 'i', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'});
  values = pickle::Unpickle(pkl, "inst.pkl");
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code(), ErrorCode::kUnsafe);
  EXPECT_NE(values.error().ToString().find("INST"), std::string::npos);
  EXPECT_EQ(values.error().offset(), 5u);
  std::vector<PickleGlobal> globals;
  ASSERT_TRUE(pickle::ScanOne(pkl, 0, "inst.pkl", "inst.pkl", &globals).ok());
  ASSERT_EQ(globals.size(), 1u);
  EXPECT_EQ(globals[0].module + "." + globals[0].name, "os.system");
  EXPECT_EQ(globals[0].severity, "dangerous");

  for (int op : {0x82 /*EXT1*/, int{'P'} /*PERSID*/, int{'o'} /*OBJ*/}) {
    auto v = pickle::Unpickle(Bytes_({0x80, 2, '(', op, 1, '\n', '.'}), "ext.pkl");
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code(), ErrorCode::kUnsafe) << v.error().ToString();
    EXPECT_EQ(v.error().offset(), 3u);
  }
}

TEST(PickleMachine, BoundsMemory) {
  // 2000 nested MARKs.
  std::vector<uint8_t> marks(2000, '(');
  auto deep = pickle::Unpickle(marks, "deep.pkl");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code(), ErrorCode::kUnsupported);
  // More objects than allowed.
  std::vector<uint8_t> many = {0x80, 2, ']'};
  for (int i = 0; i < 200; ++i) {
    many.push_back('N');
    many.push_back('a');
  }
  many.push_back('.');
  pickle::MachineLimits limits;
  limits.max_objects = 100;
  auto big = pickle::Unpickle(many, "many.pkl", limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().ToString().find("too many objects"), std::string::npos);
  EXPECT_TRUE(pickle::Unpickle(many, "many.pkl").ok());
  // A length that runs past the end is refused before anything is read.
  auto longstr =
      pickle::Unpickle(Bytes_({0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a', '.'}), "l.pkl");
  ASSERT_FALSE(longstr.ok());
  EXPECT_EQ(longstr.error().code(), ErrorCode::kMalformed);
  EXPECT_EQ(longstr.error().offset(), 7u);  // where the missing string bytes would start
}

TEST(PickleMachine, SelfContainingListDoesNotLoopTheReader) {
  // A list appended to itself: EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, STOP.
  auto values = pickle::Unpickle(Bytes_({0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'}), "self.pkl");
  ASSERT_TRUE(values.ok()) << values.error().ToString();
  EXPECT_EQ(values->root->items.size(), 1u);
  EXPECT_EQ(values->root->items[0], values->root);
}

TEST(PickleMachine, IntegersOfEveryWidth) {
  // LONG1 of 2**70 and of -1; BININT -5; BININT2 65535.
  auto values = pickle::Unpickle(
      Bytes_({0x80, 2, '(',  0x8a, 9,    0,    0,    0,    0,   0,    0,    0,   0,  0x40,
              0x8a, 1, 0xff, 'J',  0xfb, 0xff, 0xff, 0xff, 'M', 0xff, 0xff, 't', '.'}),
      "ints.pkl");
  ASSERT_TRUE(values.ok()) << values.error().ToString();
  const auto& items = values->root->items;
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0]->text, "1180591620717411303424");
  EXPECT_EQ(items[1]->integer, -1);
  EXPECT_EQ(items[2]->integer, -5);
  EXPECT_EQ(items[3]->integer, 65535);
}

}  // namespace
}  // namespace wg
