// core/hash: digests, their text forms, and HashMany agreeing with one-at-a-time hashing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "weightgate/core/hash.h"

namespace wg {
namespace {

Bytes AsBytes(const std::string& s) { return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(Hash, Sha256KnownAnswer) {
  EXPECT_EQ(HashBytes(HashAlgo::kSha256, AsBytes("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashBytes(HashAlgo::kSha256, AsBytes("")).Prefixed(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Hash, ParseRoundTripsAndRejectsJunk) {
  Digest d = HashBytes(HashAlgo::kSha256, AsBytes("x"));
  auto p = Digest::Parse(d.Prefixed());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, d);
  EXPECT_FALSE(Digest::Parse("sha256:abc").ok());
  EXPECT_FALSE(Digest::Parse("md5:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(Digest::Parse("sha256:" + std::string(64, 'G')).ok());
}

TEST(Hash, ManyEqualsOneByOne) {
  std::vector<std::string> msgs;
  for (int i = 0; i < 37; ++i) msgs.push_back(std::string(static_cast<size_t>(i * 97), static_cast<char>(i)));
  std::vector<Bytes> views;
  for (auto& m : msgs) views.push_back(AsBytes(m));
  std::vector<Digest> out(views.size());
  HashMany(HashAlgo::kSha256, views, out);
  for (size_t i = 0; i < views.size(); ++i) EXPECT_EQ(out[i], HashBytes(HashAlgo::kSha256, views[i]));
}

}  // namespace
}  // namespace wg
