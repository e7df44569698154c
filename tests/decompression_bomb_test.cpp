// Decompression bombs: the only compressed input weightgate inflates is a re-zipped
// PyTorch checkpoint's pickle (storages must be stored, see pytorch_reader.cpp). A bomb
// must be refused from its declared size before any inflating, and a stream that lies
// about its size must stop at the declared size, never allocate what it inflates to.
// (Package tars are never decompressed: a compressed tar is refused, PackageRefuses.*.)
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/test_util.h"
#include "weightgate/formats/pytorch.h"

namespace wg {
namespace {

// Writes a zip holding archive/data.pkl deflated: `real` bytes of a pickle-like run of
// zeros, with `declared` as the uncompressed size in both headers (0 = the truth).
std::string MakeBomb(const test::TempDir& dir, uint64_t real, uint64_t declared) {
  const std::string out = dir / "bomb.pt";
  const std::string script = dir / "bomb.py";
  test::WriteText(script,
                  "import struct, sys, zipfile\n"
                  "out, real, declared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
                  "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n"
                  "    z.writestr('archive/data.pkl', b'\\x80\\x02' + bytes(real - 2))\n"
                  "if declared:\n"
                  "    b = bytearray(open(out, 'rb').read())\n"
                  "    local = b.find(b'PK\\x03\\x04'); central = b.find(b'PK\\x01\\x02')\n"
                  "    struct.pack_into('<I', b, local + 22, declared)\n"
                  "    struct.pack_into('<I', b, central + 24, declared)\n"
                  "    open(out, 'wb').write(b)\n");
  std::string cmd = "/usr/bin/python3 " + script + " " + out + " " + std::to_string(real) + " " +
                    std::to_string(declared);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

TEST(DecompressionBomb, DeclaredSizeOverTheLimitIsRefusedBeforeInflating) {
  test::TempDir dir;
  // 300 MiB of zeros deflate to ~300 KiB; the pickle limit is 256 MiB.
  const std::string bomb = MakeBomb(dir, 300u << 20, 0);
  EXPECT_LT(std::filesystem::file_size(bomb), 1u << 20);
  auto scan = ScanPickles(bomb);
  ASSERT_FALSE(scan.ok());
  EXPECT_EQ(scan.error().code(), ErrorCode::kUnsupported) << scan.error().ToString();
  EXPECT_NE(scan.error().ToString().find("too large"), std::string::npos);
  EXPECT_FALSE(ReadPyTorch(bomb).ok());
}

TEST(DecompressionBomb, StreamLongerThanDeclaredStopsAtTheDeclaredSize) {
  test::TempDir dir;
  // Declares 4 KiB, inflates to 64 MiB: the reader allocates 4 KiB + 1 and fails.
  const std::string bomb = MakeBomb(dir, 64u << 20, 4096);
  auto scan = ScanPickles(bomb);
  ASSERT_FALSE(scan.ok());
  EXPECT_EQ(scan.error().code(), ErrorCode::kMalformed) << scan.error().ToString();
  auto read = ReadPyTorch(bomb);
  ASSERT_FALSE(read.ok());
}

}  // namespace
}  // namespace wg
