// Pickle opcodes, protocols 0-5, as defined by CPython's Lib/pickle.py. Shared by the
// restricted pickle machine (which executes a few) and the scanner (which walks all).
// Internal to the formats library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "weightgate/core/byte_reader.h"

namespace wg::pickle {

enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kFloat = 'F',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kLong = 'L',
  kBinInt2 = 'M',
  kNone = 'N',
  kPersId = 'P',
  kBinPersId = 'Q',
  kReduce = 'R',
  kString = 'S',
  kBinString = 'T',
  kShortBinString = 'U',
  kUnicode = 'V',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kGet = 'g',
  kBinGet = 'h',
  kInst = 'i',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kObj = 'o',
  kPut = 'p',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  // protocol 2
  kProto = 0x80,
  kNewObj = 0x81,
  kExt1 = 0x82,
  kExt2 = 0x83,
  kExt4 = 0x84,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  // protocol 3
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  // protocol 4
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  // protocol 5
  kByteArray8 = 0x96,
  kNextBuffer = 0x97,
  kReadOnlyBuffer = 0x98,
};

// "BINPUT", "STACK_GLOBAL", ...; "0xNN" for a byte that is no opcode.
std::string OpName(uint8_t op);

constexpr int kHighestProtocol = 5;

// A newline-terminated operand (GLOBAL, INST and the protocol 0 text forms), without
// the newline. Fails if no newline remains.
Result<std::string_view> ReadLine(ByteReader& r, std::string_view field);

// A length-prefixed operand: a little-endian LenT, then that many bytes.
template <typename LenT>
Result<std::string_view> ReadCounted(ByteReader& r, std::string_view field) {
  WG_ASSIGN_OR_RETURN(LenT n, r.Read<LenT>(field));
  if constexpr (std::is_signed_v<LenT>) {
    if (n < 0) return r.Fail("negative length", field).Found(std::to_string(n));
  }
  return r.ReadString(static_cast<uint64_t>(n), field);
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);

}  // namespace wg::pickle
