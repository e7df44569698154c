#include "pickle_scanner.h"

#include <charconv>
#include <unordered_map>

#include "pickle_globals.h"
#include "pickle_opcodes.h"
#include "weightgate/core/byte_reader.h"

namespace wg::pickle {
namespace {

// Module and attribute names are short; longer strings are kept as "not a name", and
// so is every string once kMaxStringBytes of them are held. An import built from them
// is then listed as unknown, never missed.
constexpr size_t kMaxNameLength = 1024;
constexpr size_t kMaxStringBytes = 64 << 20;
// The symbolic stack holds 4 bytes per entry: this bounds it to 40 MB however the
// pickle is built.
constexpr size_t kMaxStack = 10'000'000;
constexpr size_t kMaxMemo = 10'000'000;
constexpr int32_t kOther = -1;  // a stack entry that is not a known string

class Scanner {
 public:
  Scanner(Bytes data, uint64_t base, const std::string& display, const std::string& pickle_name,
          std::vector<PickleGlobal>* out)
      : r_(data, display, base), pickle_name_(pickle_name), out_(out) {}

  Result<uint64_t> Run() {
    while (true) {
      op_offset_ = r_.offset();
      WG_ASSIGN_OR_RETURN(op_, r_.Read<uint8_t>("opcode"));
      bool stop = false;
      WG_TRY(Step(&stop));
      if (stop) return r_.pos();
    }
  }

 private:
  Error Fail(std::string message) const {
    return Error::Malformed(std::move(message))
        .File(r_.file())
        .Offset(op_offset_)
        .Field(OpName(op_));
  }

  void Record(std::string module, std::string name) {
    PickleGlobal g;
    g.severity =
        module == "?" ? SeverityName(Severity::kUnknown) : SeverityName(Classify(module, name));
    g.safe = g.severity == SeverityName(Severity::kSafe);
    g.module = std::move(module);
    g.name = std::move(name);
    g.offset = op_offset_;
    g.pickle = pickle_name_;
    out_->push_back(std::move(g));
  }

  size_t FrameStart() const { return marks_.empty() ? 0 : marks_.back(); }
  Status Push(int32_t sym) {
    if (stack_.size() >= kMaxStack)
      return Error::Unsupported("pickle stack too deep to scan")
          .File(r_.file())
          .Offset(op_offset_)
          .Expected("<= " + std::to_string(kMaxStack) + " entries");
    stack_.push_back(sym);
    return Ok();
  }
  Status PushText(std::string_view s) {
    const size_t cost = s.size() + sizeof(std::string);
    if (s.size() > kMaxNameLength || string_bytes_ + cost > kMaxStringBytes || !IsValidUtf8(s))
      return Push(kOther);
    string_bytes_ += cost;
    strings_.emplace_back(s);
    return Push(static_cast<int32_t>(strings_.size() - 1));
  }
  Result<int32_t> Pop() {
    if (stack_.size() == FrameStart()) return Fail("stack underflow (empty stack or only a MARK)");
    int32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Status PopN(size_t n) {
    for (size_t i = 0; i < n; ++i) WG_TRY(Pop());
    return Ok();
  }
  Status PopMark() {
    if (marks_.empty()) return Fail("no MARK on the stack");
    stack_.resize(marks_.back());
    marks_.pop_back();
    return Ok();
  }
  Status Memo(uint64_t index) {
    if (stack_.size() == FrameStart()) return Fail("memoizing with an empty stack");
    if (memo_.size() >= kMaxMemo && !memo_.count(index))
      return Error::Unsupported("pickle memo too large to scan").File(r_.file()).Offset(op_offset_);
    memo_[index] = stack_.back();
    return Ok();
  }
  // An index the pickle never stored would stop a real unpickler; scanning on can
  // only find more imports, so the entry is pushed as unknown.
  Status Recall(uint64_t index) {
    auto it = memo_.find(index);
    return Push(it == memo_.end() ? kOther : it->second);
  }
  Result<uint64_t> DecimalLine(std::string_view field) {
    WG_ASSIGN_OR_RETURN(std::string_view line, ReadLine(r_, field));
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || end != line.data() + line.size())
      return Fail("memo index is not a decimal number").Found(std::string(line));
    return v;
  }
  // The text of a protocol 0 STRING ('quoted', with Python escapes). Escaped strings
  // are not decoded: they count as unknown.
  Status PushQuoted(std::string_view line) {
    if (line.size() < 2 || (line.front() != '\'' && line.front() != '"') ||
        line.back() != line.front())
      return Fail("STRING operand is not quoted");
    std::string_view inner = line.substr(1, line.size() - 2);
    return inner.find('\\') == std::string_view::npos ? PushText(inner) : Push(kOther);
  }
  template <typename LenT>
  Status Text(std::string_view field, bool is_text) {
    WG_ASSIGN_OR_RETURN(std::string_view s, ReadCounted<LenT>(r_, field));
    return is_text ? PushText(s) : Push(kOther);
  }

  Status Step(bool* stop) {
    switch (op_) {
      case kMark:
        if (marks_.size() >= kMaxStack) return Fail("too many MARKs");
        marks_.push_back(stack_.size());
        return Ok();
      case kStop:
        *stop = true;
        return Ok();
      case kPop:  // pops the MARK itself when the frame is empty, as CPython does
        if (stack_.size() > FrameStart()) return PopN(1);
        return PopMark();
      case kPopMark:
        return PopMark();
      case kDup: {
        if (stack_.size() == FrameStart()) return Fail("DUP on an empty stack");
        return Push(stack_.back());
      }
      case kFloat:
      case kInt:
      case kLong:
        WG_TRY(ReadLine(r_, "numeric operand"));
        return Push(kOther);
      case kBinInt:
        WG_TRY(r_.Skip(4, "BININT value"));
        return Push(kOther);
      case kBinInt1:
        WG_TRY(r_.Skip(1, "BININT1 value"));
        return Push(kOther);
      case kBinInt2:
        WG_TRY(r_.Skip(2, "BININT2 value"));
        return Push(kOther);
      case kBinFloat:
        WG_TRY(r_.Skip(8, "BINFLOAT value"));
        return Push(kOther);
      case kLong1:
        return Text<uint8_t>("LONG1", false);
      case kLong4:
        return Text<int32_t>("LONG4", false);
      case kNone:
      case kNewTrue:
      case kNewFalse:
      case kEmptyTuple:
      case kEmptyList:
      case kEmptyDict:
      case kEmptySet:
      case kNextBuffer:
        return Push(kOther);
      case kReadOnlyBuffer:
        if (stack_.size() == FrameStart()) return Fail("READONLY_BUFFER on an empty stack");
        return Ok();
      case kPersId:
        WG_TRY(ReadLine(r_, "PERSID operand"));
        return Push(kOther);
      case kBinPersId:
        WG_TRY(PopN(1));
        return Push(kOther);
      case kReduce:
      case kNewObj:
        WG_TRY(PopN(2));
        return Push(kOther);
      case kNewObjEx:
        WG_TRY(PopN(3));
        return Push(kOther);
      case kBuild:
        return PopN(1);
      case kString: {
        WG_ASSIGN_OR_RETURN(std::string_view line, ReadLine(r_, "STRING operand"));
        return PushQuoted(line);
      }
      case kUnicode: {  // raw-unicode-escape: text without backslashes reads as itself
        WG_ASSIGN_OR_RETURN(std::string_view line, ReadLine(r_, "UNICODE operand"));
        return line.find('\\') == std::string_view::npos ? PushText(line) : Push(kOther);
      }
      case kBinString:
        return Text<int32_t>("BINSTRING", true);
      case kShortBinString:
        return Text<uint8_t>("SHORT_BINSTRING", true);
      case kBinUnicode:
        return Text<uint32_t>("BINUNICODE", true);
      case kShortBinUnicode:
        return Text<uint8_t>("SHORT_BINUNICODE", true);
      case kBinUnicode8:
        return Text<uint64_t>("BINUNICODE8", true);
      case kBinBytes:
        return Text<uint32_t>("BINBYTES", false);
      case kShortBinBytes:
        return Text<uint8_t>("SHORT_BINBYTES", false);
      case kBinBytes8:
        return Text<uint64_t>("BINBYTES8", false);
      case kByteArray8:
        return Text<uint64_t>("BYTEARRAY8", false);
      case kAppend:
        return PopN(1);
      case kSetItem:
        return PopN(2);
      case kAppends:
      case kSetItems:
      case kAddItems:
        return PopMark();
      case kTuple:
      case kList:
      case kDict:
      case kFrozenSet:
        WG_TRY(PopMark());
        return Push(kOther);
      case kTuple1:
        WG_TRY(PopN(1));
        return Push(kOther);
      case kTuple2:
        WG_TRY(PopN(2));
        return Push(kOther);
      case kTuple3:
        WG_TRY(PopN(3));
        return Push(kOther);
      case kGlobal:
      case kInst: {
        WG_ASSIGN_OR_RETURN(std::string_view module, ReadLine(r_, "module"));
        WG_ASSIGN_OR_RETURN(std::string_view name, ReadLine(r_, "name"));
        Record(std::string(module), std::string(name));
        if (op_ == kInst) WG_TRY(PopMark());  // INST calls the class on the marked items
        return Push(kOther);
      }
      case kObj:  // calls the class below the marked arguments; its import is listed where made
        WG_TRY(PopMark());
        return Push(kOther);
      case kStackGlobal: {
        WG_ASSIGN_OR_RETURN(int32_t name, Pop());
        WG_ASSIGN_OR_RETURN(int32_t module, Pop());
        Record(module == kOther ? "?" : strings_[static_cast<size_t>(module)],
               name == kOther ? "?" : strings_[static_cast<size_t>(name)]);
        return Push(kOther);
      }
      case kExt1:
      case kExt2:
      case kExt4: {
        uint32_t code = 0;
        if (op_ == kExt1) {
          WG_ASSIGN_OR_RETURN(uint8_t c, r_.Read<uint8_t>("EXT1 code"));
          code = c;
        } else if (op_ == kExt2) {
          WG_ASSIGN_OR_RETURN(uint16_t c, r_.Read<uint16_t>("EXT2 code"));
          code = c;
        } else {
          WG_ASSIGN_OR_RETURN(code, r_.Read<uint32_t>("EXT4 code"));
        }
        Record("?", "copyreg extension " + std::to_string(code));
        return Push(kOther);
      }
      case kGet: {
        WG_ASSIGN_OR_RETURN(uint64_t i, DecimalLine("GET index"));
        return Recall(i);
      }
      case kBinGet: {
        WG_ASSIGN_OR_RETURN(uint8_t i, r_.Read<uint8_t>("BINGET index"));
        return Recall(i);
      }
      case kLongBinGet: {
        WG_ASSIGN_OR_RETURN(uint32_t i, r_.Read<uint32_t>("LONG_BINGET index"));
        return Recall(i);
      }
      case kPut: {
        WG_ASSIGN_OR_RETURN(uint64_t i, DecimalLine("PUT index"));
        return Memo(i);
      }
      case kBinPut: {
        WG_ASSIGN_OR_RETURN(uint8_t i, r_.Read<uint8_t>("BINPUT index"));
        return Memo(i);
      }
      case kLongBinPut: {
        WG_ASSIGN_OR_RETURN(uint32_t i, r_.Read<uint32_t>("LONG_BINPUT index"));
        return Memo(i);
      }
      case kMemoize:
        return Memo(memo_.size());
      case kProto:
        return r_.Skip(1, "protocol");
      case kFrame:
        return r_.Skip(8, "frame length");
    }
    return Fail("unknown pickle opcode " + OpName(op_));
  }

  ByteReader r_;
  const std::string& pickle_name_;
  std::vector<PickleGlobal>* out_;
  std::vector<int32_t> stack_;
  std::vector<size_t> marks_;
  std::vector<std::string> strings_;
  size_t string_bytes_ = 0;
  std::unordered_map<uint64_t, int32_t> memo_;
  uint64_t op_offset_ = 0;
  uint8_t op_ = 0;
};

}  // namespace

Result<uint64_t> ScanOne(Bytes data, uint64_t base, const std::string& display,
                         const std::string& pickle_name, std::vector<PickleGlobal>* out) {
  return Scanner(data, base, display, pickle_name, out).Run();
}

}  // namespace wg::pickle
