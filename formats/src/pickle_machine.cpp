#include "pickle_machine.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "pickle_opcodes.h"
#include "weightgate/core/byte_reader.h"

namespace wg::pickle {
namespace {

using Kind = Value::Kind;

constexpr size_t kMaxDims = 64;

// Decimal text of a little-endian two's complement integer wider than 64 bits.
std::string BigDecimal(Bytes le) {
  const bool negative = le.back() & 0x80;
  std::vector<uint8_t> mag(le.rbegin(), le.rend());  // big-endian
  if (negative) {                                    // magnitude = ~x + 1
    for (uint8_t& b : mag) b = static_cast<uint8_t>(~b);
    for (size_t i = mag.size(); i-- > 0;)
      if (++mag[i] != 0) break;
  }
  std::string digits;
  while (std::any_of(mag.begin(), mag.end(), [](uint8_t b) { return b != 0; })) {
    unsigned rem = 0;
    for (uint8_t& b : mag) {
      unsigned cur = (rem << 8) | b;
      b = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

class Machine {
 public:
  Machine(Bytes data, const std::string& display, const MachineLimits& limits)
      : r_(data, display), limits_(limits) {}

  Result<Unpickled> Run() {
    bool stop = false;
    while (!stop) {
      op_offset_ = r_.offset();
      WG_ASSIGN_OR_RETURN(op_, r_.Read<uint8_t>("opcode"));
      WG_TRY(Step(&stop));
    }
    // torch would never read bytes after STOP; a checkpoint has no reason to carry them.
    if (!r_.at_end())
      return r_.Fail("bytes after the pickle's STOP", "STOP")
          .Expected("end of pickle")
          .Found(std::to_string(r_.remaining()) + " more bytes");
    return std::move(out_);
  }

 private:
  Error Fail(ErrorCode code, std::string message) const {
    return Error(code, std::move(message)).File(r_.file()).Offset(op_offset_).Field(OpName(op_));
  }

  Result<Value*> New(Kind kind) {
    if (out_.arena.size() >= limits_.max_objects)
      return Fail(ErrorCode::kUnsupported, "pickle builds too many objects")
          .Expected("<= " + std::to_string(limits_.max_objects));
    Value& v = out_.arena.emplace_back();
    v.kind = kind;
    return &v;
  }
  Status Push(Value* v) {
    stack_.push_back(v);
    return Ok();
  }
  Status PushNew(Kind kind) {
    WG_ASSIGN_OR_RETURN(Value * v, New(kind));
    return Push(v);
  }
  size_t FrameStart() const { return marks_.empty() ? 0 : marks_.back(); }
  Result<Value*> Top() {
    if (stack_.size() == FrameStart())
      return Fail(ErrorCode::kMalformed, "stack underflow (empty stack or only a MARK)");
    return stack_.back();
  }
  Result<Value*> Pop() {
    WG_ASSIGN_OR_RETURN(Value * v, Top());
    stack_.pop_back();
    return v;
  }
  Result<std::vector<Value*>> PopToMark() {
    if (marks_.empty()) return Fail(ErrorCode::kMalformed, "no MARK on the stack");
    std::vector<Value*> items(stack_.begin() + static_cast<ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Result<Value*> Expect(Value* v, Kind kind, const char* what) {
    if (v->kind != kind)
      return Fail(ErrorCode::kMalformed, std::string(what) + " has the wrong type")
          .Expected(KindName(kind))
          .Found(KindName(v->kind));
    return v;
  }

  Status PushString(std::string_view s, bool bytes) {
    if (!bytes && !IsValidUtf8(s)) return Fail(ErrorCode::kMalformed, "string is not valid UTF-8");
    WG_ASSIGN_OR_RETURN(Value * v, New(bytes ? Kind::kBytes : Kind::kString));
    v->text = std::string(s);
    return Push(v);
  }
  Status PushInt(int64_t i) {
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kInt));
    v->integer = i;
    return Push(v);
  }
  Status PushLong(Bytes le) {
    if (le.empty()) return PushInt(0);
    const bool negative = le.back() & 0x80;
    const uint8_t fill = negative ? 0xff : 0x00;
    const bool fits = le.size() <= 8 || (std::all_of(le.begin() + 8, le.end(),
                                                     [&](uint8_t b) { return b == fill; }) &&
                                         ((le[7] & 0x80) != 0) == negative);
    if (!fits) {
      WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kBigInt));
      v->text = BigDecimal(le);
      return Push(v);
    }
    uint64_t u = negative ? ~uint64_t{0} : 0;
    std::memcpy(&u, le.data(), std::min<size_t>(le.size(), 8));  // little-endian host
    return PushInt(static_cast<int64_t>(u));
  }
  Status PushBool(bool b) {
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kBool));
    v->boolean = b;
    return Push(v);
  }

  Status Memo(uint64_t index) {
    WG_ASSIGN_OR_RETURN(Value * top, Top());
    if (memo_.size() >= limits_.max_memo && !memo_.count(index))
      return Fail(ErrorCode::kUnsupported, "pickle memo too large")
          .Expected("<= " + std::to_string(limits_.max_memo) + " entries");
    memo_[index] = top;
    return Ok();
  }
  Status Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      return Fail(ErrorCode::kMalformed, "memo index was never stored")
          .Found(std::to_string(index));
    return Push(it->second);
  }

  Status Global(std::string_view module, std::string_view name) {
    const AllowedGlobal* allowed = FindAllowed(module, name);
    if (!allowed) {
      const std::string full = std::string(module) + "." + std::string(name);
      const bool dangerous = Classify(module, name) == Severity::kDangerous;
      return Fail(ErrorCode::kUnsafe,
                  "pickle imports '" + full + "'" +
                      (dangerous ? ", which can run code; refused without building anything"
                                 : ", which is not on weightgate's allowlist of checkpoint "
                                   "globals; refused without building anything"));
    }
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kGlobal));
    v->global = allowed;
    return Push(v);
  }

  Status PersistentLoad() {
    WG_ASSIGN_OR_RETURN(Value * pid, Pop());
    const auto& f = pid->items;
    if (pid->kind != Kind::kTuple || f.size() != 5 || f[0]->kind != Kind::kString ||
        f[0]->text != "storage")
      return Fail(ErrorCode::kUnsupported, "persistent id is not a torch storage reference")
          .Expected("('storage', StorageType, key, location, numel)");
    if (f[1]->kind != Kind::kGlobal || f[1]->global->role != Role::kStorageType)
      return Fail(ErrorCode::kMalformed, "storage reference without a storage class")
          .Found(KindName(f[1]->kind));
    if (f[2]->kind != Kind::kString || f[3]->kind != Kind::kString || f[4]->kind != Kind::kInt ||
        f[4]->integer < 0)
      return Fail(ErrorCode::kMalformed, "storage reference fields have the wrong types")
          .Expected("key: str, location: str, numel: int >= 0");
    const AllowedGlobal& type = *f[1]->global;
    const std::string type_name = std::string(type.module) + "." + std::string(type.name);
    const uint64_t numel = static_cast<uint64_t>(f[4]->integer);
    // One record, one storage: torch caches storages by key, so a second reference
    // with the same key is the same storage and must agree on what it holds.
    if (auto it = storages_.find(f[2]->text); it != storages_.end()) {
      const Storage& s = *it->second->storage;
      if (s.type_name != type_name || s.numel != numel)
        return Fail(ErrorCode::kMalformed, "storage '" + s.key + "' is declared twice, differently")
            .Expected(s.type_name + " of " + std::to_string(s.numel))
            .Found(type_name + " of " + std::to_string(numel));
      return Push(it->second);
    }
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kStorage));
    v->storage = std::make_unique<Storage>(
        Storage{f[2]->text, type_name, type.dtype, numel, f[3]->text, op_offset_});
    storages_.emplace(f[2]->text, v);
    return Push(v);
  }

  Result<std::vector<uint64_t>> Dims(const Value* v, const char* what) {
    if (v->kind != Kind::kTuple && v->kind != Kind::kList)
      return Fail(ErrorCode::kMalformed, std::string("tensor ") + what + " is not a tuple")
          .Found(KindName(v->kind));
    if (v->items.size() > kMaxDims)
      return Fail(ErrorCode::kUnsupported,
                  std::string("tensor ") + what + " has too many dimensions")
          .Expected("<= " + std::to_string(kMaxDims))
          .Found(std::to_string(v->items.size()));
    std::vector<uint64_t> dims;
    for (const Value* d : v->items) {
      if (d->kind != Kind::kInt || d->integer < 0)
        return Fail(ErrorCode::kMalformed,
                    std::string("tensor ") + what + " holds something other than an int >= 0");
      dims.push_back(static_cast<uint64_t>(d->integer));
    }
    return dims;
  }

  // _rebuild_tensor(storage, offset, size, stride)
  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
  // _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])
  Result<Value*> RebuildTensor(Role role, const std::vector<Value*>& a) {
    const size_t min = role == Role::kRebuildTensor ? 4 : role == Role::kRebuildTensorV2 ? 6 : 7;
    const size_t max = role == Role::kRebuildTensor ? 4 : min + 1;
    if (a.size() < min || a.size() > max)
      return Fail(ErrorCode::kMalformed, "wrong number of arguments to rebuild a tensor")
          .Expected(std::to_string(min) + (max > min ? " or " + std::to_string(max) : ""))
          .Found(std::to_string(a.size()));
    WG_TRY(Expect(a[0], Kind::kStorage, "tensor storage"));
    if (a[1]->kind != Kind::kInt || a[1]->integer < 0)
      return Fail(ErrorCode::kMalformed, "tensor storage offset is not an int >= 0");
    auto t = std::make_unique<Tensor>();
    t->storage = a[0];
    t->storage_offset = static_cast<uint64_t>(a[1]->integer);
    WG_ASSIGN_OR_RETURN(t->size, Dims(a[2], "size"));
    WG_ASSIGN_OR_RETURN(t->stride, Dims(a[3], "stride"));
    if (t->size.size() != t->stride.size())
      return Fail(ErrorCode::kMalformed, "tensor size and stride have different lengths")
          .Expected(std::to_string(t->size.size()))
          .Found(std::to_string(t->stride.size()));
    if (role != Role::kRebuildTensor && a[5]->kind != Kind::kDict)
      return Fail(ErrorCode::kMalformed, "tensor backward hooks are not a dict")
          .Found(KindName(a[5]->kind));
    t->dtype = a[0]->storage->dtype;
    std::string dtype_name = a[0]->storage->type_name;
    if (role == Role::kRebuildTensorV3) {
      if (a[6]->kind != Kind::kGlobal || a[6]->global->role != Role::kDType)
        return Fail(ErrorCode::kMalformed, "tensor dtype argument is not a torch dtype");
      t->dtype = a[6]->global->dtype;
      dtype_name = "torch." + std::string(a[6]->global->name);
    }
    if (!t->dtype)
      return Fail(ErrorCode::kUnsupported,
                  "tensor of " + dtype_name + ": weightgate has no matching dtype");
    t->offset = op_offset_;
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kTensor));
    v->tensor = std::move(t);
    return v;
  }

  Result<Value*> Call(const AllowedGlobal& g, const std::vector<Value*>& a) {
    const std::string name = std::string(g.module) + "." + std::string(g.name);
    auto bad_args = [&](const char* expected) {
      return Fail(ErrorCode::kMalformed, "unexpected arguments to " + name).Expected(expected);
    };
    switch (g.role) {
      case Role::kOrderedDict:
        if (!a.empty()) return bad_args("()");
        return New(Kind::kDict);
      case Role::kRebuildTensor:
      case Role::kRebuildTensorV2:
      case Role::kRebuildTensorV3:
        return RebuildTensor(g.role, a);
      case Role::kRebuildParameter:
      case Role::kRebuildParameterWithState:
        // A Parameter is its data tensor; requires_grad, hooks and state do not
        // change the bytes.
        if (a.size() != (g.role == Role::kRebuildParameter ? 3u : 4u) ||
            a[0]->kind != Kind::kTensor)
          return bad_args("(tensor, requires_grad, hooks[, state])");
        return a[0];
      case Role::kSize: {
        if (a.size() != 1 || (a[0]->kind != Kind::kTuple && a[0]->kind != Kind::kList))
          return bad_args("(tuple,)");
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kTuple));
        v->items = a[0]->items;
        return v;
      }
      case Role::kDevice: {
        if (a.empty() || a.size() > 2 || a[0]->kind != Kind::kString ||
            (a.size() == 2 && a[1]->kind != Kind::kInt))
          return bad_args("(type: str[, index: int])");
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kString));
        v->text = a[0]->text + (a.size() == 2 ? ":" + std::to_string(a[1]->integer) : "");
        return v;
      }
      case Role::kCodecsEncode: {
        // Protocol 2 has no bytes opcode: b"..." pickles as encode("...", "latin1").
        if (a.size() != 2 || a[0]->kind != Kind::kString || a[1]->kind != Kind::kString ||
            (a[1]->text != "latin1" && a[1]->text != "latin-1"))
          return bad_args("(str, 'latin1')");
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kBytes));
        const std::string& s = a[0]->text;  // valid UTF-8, checked when read
        for (size_t i = 0; i < s.size();) {
          const auto c = static_cast<unsigned char>(s[i]);
          if (c < 0x80) {
            v->text.push_back(static_cast<char>(c));
            i += 1;
          } else if ((c & 0xe0) == 0xc0 && c <= 0xc3) {
            v->text.push_back(static_cast<char>(((c & 0x1f) << 6) | (s[i + 1] & 0x3f)));
            i += 2;
          } else {
            return Fail(ErrorCode::kMalformed, "latin1 text with a character above U+00FF");
          }
        }
        return v;
      }
      case Role::kStorageType:
      case Role::kDType:
        break;
    }
    return Fail(ErrorCode::kUnsupported, name + " is not something weightgate calls");
  }

  Status Reduce() {
    WG_ASSIGN_OR_RETURN(Value * args, Pop());
    WG_ASSIGN_OR_RETURN(Value * callable, Pop());
    if (callable->kind != Kind::kGlobal)
      return Fail(ErrorCode::kUnsafe, "call of something that is not an allowlisted global")
          .Found(KindName(callable->kind));
    WG_TRY(Expect(args, Kind::kTuple, "call arguments"));
    WG_ASSIGN_OR_RETURN(Value * v, Call(*callable->global, args->items));
    return Push(v);
  }

  Status NewObj() {
    WG_ASSIGN_OR_RETURN(Value * args, Pop());
    WG_ASSIGN_OR_RETURN(Value * cls, Pop());
    if (cls->kind != Kind::kGlobal || cls->global->role != Role::kOrderedDict ||
        args->kind != Kind::kTuple || !args->items.empty())
      return Fail(ErrorCode::kUnsupported, "NEWOBJ is only accepted for OrderedDict()");
    return PushNew(Kind::kDict);
  }

  // BUILD sets an object's attributes. A state dict carries `_metadata` (module
  // versions) and a Parameter may carry Python attributes; neither changes a tensor's
  // bytes, so the state is dropped.
  Status Build() {
    WG_ASSIGN_OR_RETURN(Value * state, Pop());
    (void)state;
    WG_ASSIGN_OR_RETURN(Value * target, Top());
    if (target->kind != Kind::kDict && target->kind != Kind::kTensor)
      return Fail(ErrorCode::kUnsupported, "BUILD is only accepted on an OrderedDict or a tensor")
          .Found(KindName(target->kind));
    return Ok();
  }

  Status AddToList(Value* list, const std::vector<Value*>& items) {
    WG_TRY(Expect(list, Kind::kList, "APPEND target"));
    list->items.insert(list->items.end(), items.begin(), items.end());
    return Ok();
  }
  Status AddToDict(Value* dict, const std::vector<Value*>& kv) {
    WG_TRY(Expect(dict, Kind::kDict, "SETITEM target"));
    if (kv.size() % 2) return Fail(ErrorCode::kMalformed, "odd number of items for a dict");
    for (size_t i = 0; i < kv.size(); i += 2) {
      const Kind k = kv[i]->kind;
      if (k == Kind::kList || k == Kind::kDict)
        return Fail(ErrorCode::kMalformed, "unhashable dict key").Found(KindName(k));
    }
    dict->items.insert(dict->items.end(), kv.begin(), kv.end());
    return Ok();
  }

  Status PushTuple(std::vector<Value*> items) {
    WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kTuple));
    v->items = std::move(items);
    return Push(v);
  }
  Status PopTuple(size_t n) {
    std::vector<Value*> items(n);
    for (size_t i = n; i-- > 0;) {
      WG_ASSIGN_OR_RETURN(items[i], Pop());
    }
    return PushTuple(std::move(items));
  }

  template <typename T>
  Result<T> Arg(const char* field) {
    return r_.Read<T>(field);
  }

  Status Step(bool* stop) {
    switch (op_) {
      case kProto: {
        WG_ASSIGN_OR_RETURN(uint8_t proto, Arg<uint8_t>("protocol"));
        if (proto > kHighestProtocol)
          return Fail(ErrorCode::kUnsupported, "unknown pickle protocol")
              .Expected("<= " + std::to_string(kHighestProtocol))
              .Found(std::to_string(proto));
        return Ok();
      }
      case kFrame: {
        WG_ASSIGN_OR_RETURN(uint64_t n, Arg<uint64_t>("frame length"));
        if (n > r_.remaining())
          return Fail(ErrorCode::kMalformed, "frame longer than the pickle")
              .Expected("<= " + std::to_string(r_.remaining()))
              .Found(std::to_string(n));
        return Ok();
      }
      case kStop: {
        WG_ASSIGN_OR_RETURN(Value * root, Pop());
        out_.root = root;
        *stop = true;
        return Ok();
      }
      case kGlobal: {
        WG_ASSIGN_OR_RETURN(std::string_view module, ReadLine(r_, "GLOBAL module"));
        WG_ASSIGN_OR_RETURN(std::string_view name, ReadLine(r_, "GLOBAL name"));
        return Global(module, name);
      }
      case kStackGlobal: {
        WG_ASSIGN_OR_RETURN(Value * name, Pop());
        WG_ASSIGN_OR_RETURN(Value * module, Pop());
        if (module->kind != Kind::kString || name->kind != Kind::kString)
          return Fail(ErrorCode::kUnsafe, "STACK_GLOBAL whose module or name is not a string");
        return Global(module->text, name->text);
      }
      case kBinPersId:
        return PersistentLoad();
      case kReduce:
        return Reduce();
      case kBuild:
        return Build();
      case kNewObj:
        return NewObj();
      case kMark:
        if (marks_.size() >= limits_.max_mark_depth)
          return Fail(ErrorCode::kUnsupported, "MARKs nested too deeply")
              .Expected("<= " + std::to_string(limits_.max_mark_depth));
        marks_.push_back(stack_.size());
        return Ok();
      case kTuple: {
        WG_ASSIGN_OR_RETURN(auto items, PopToMark());
        return PushTuple(std::move(items));
      }
      case kTuple1:
        return PopTuple(1);
      case kTuple2:
        return PopTuple(2);
      case kTuple3:
        return PopTuple(3);
      case kEmptyTuple:
        return PushTuple({});
      case kEmptyList:
        return PushNew(Kind::kList);
      case kEmptyDict:
        return PushNew(Kind::kDict);
      case kList: {
        WG_ASSIGN_OR_RETURN(auto items, PopToMark());
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kList));
        v->items = std::move(items);
        return Push(v);
      }
      case kDict: {
        WG_ASSIGN_OR_RETURN(auto items, PopToMark());
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kDict));
        WG_TRY(AddToDict(v, items));
        return Push(v);
      }
      case kAppend: {
        WG_ASSIGN_OR_RETURN(Value * item, Pop());
        WG_ASSIGN_OR_RETURN(Value * list, Top());
        return AddToList(list, {item});
      }
      case kAppends: {
        WG_ASSIGN_OR_RETURN(auto items, PopToMark());
        WG_ASSIGN_OR_RETURN(Value * list, Top());
        return AddToList(list, items);
      }
      case kSetItem: {
        WG_ASSIGN_OR_RETURN(Value * value, Pop());
        WG_ASSIGN_OR_RETURN(Value * key, Pop());
        WG_ASSIGN_OR_RETURN(Value * dict, Top());
        return AddToDict(dict, {key, value});
      }
      case kSetItems: {
        WG_ASSIGN_OR_RETURN(auto items, PopToMark());
        WG_ASSIGN_OR_RETURN(Value * dict, Top());
        return AddToDict(dict, items);
      }
      case kBinInt: {
        WG_ASSIGN_OR_RETURN(int32_t i, Arg<int32_t>("BININT value"));
        return PushInt(i);
      }
      case kBinInt1: {
        WG_ASSIGN_OR_RETURN(uint8_t i, Arg<uint8_t>("BININT1 value"));
        return PushInt(i);
      }
      case kBinInt2: {
        WG_ASSIGN_OR_RETURN(uint16_t i, Arg<uint16_t>("BININT2 value"));
        return PushInt(i);
      }
      case kLong1: {
        WG_ASSIGN_OR_RETURN(uint8_t n, Arg<uint8_t>("LONG1 length"));
        WG_ASSIGN_OR_RETURN(Bytes b, r_.ReadBytes(n, "LONG1 value"));
        return PushLong(b);
      }
      case kBinFloat: {
        WG_ASSIGN_OR_RETURN(uint64_t be, Arg<uint64_t>("BINFLOAT value"));
        const uint64_t bits = __builtin_bswap64(be);  // pickle stores doubles big-endian
        WG_ASSIGN_OR_RETURN(Value * v, New(Kind::kFloat));
        std::memcpy(&v->real, &bits, 8);
        return Push(v);
      }
      case kNone:
        return PushNew(Kind::kNone);
      case kNewTrue:
        return PushBool(true);
      case kNewFalse:
        return PushBool(false);
      case kBinUnicode: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint32_t>(r_, "BINUNICODE"));
        return PushString(s, false);
      }
      case kShortBinUnicode: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint8_t>(r_, "SHORT_BINUNICODE"));
        return PushString(s, false);
      }
      case kBinUnicode8: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint64_t>(r_, "BINUNICODE8"));
        return PushString(s, false);
      }
      // Python 2 str: torch.load decodes it as UTF-8.
      case kShortBinString: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint8_t>(r_, "SHORT_BINSTRING"));
        return PushString(s, false);
      }
      case kBinString: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<int32_t>(r_, "BINSTRING"));
        return PushString(s, false);
      }
      case kShortBinBytes: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint8_t>(r_, "SHORT_BINBYTES"));
        return PushString(s, true);
      }
      case kBinBytes: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint32_t>(r_, "BINBYTES"));
        return PushString(s, true);
      }
      case kBinBytes8: {
        WG_ASSIGN_OR_RETURN(auto s, ReadCounted<uint64_t>(r_, "BINBYTES8"));
        return PushString(s, true);
      }
      case kBinGet: {
        WG_ASSIGN_OR_RETURN(uint8_t i, Arg<uint8_t>("BINGET index"));
        return Recall(i);
      }
      case kLongBinGet: {
        WG_ASSIGN_OR_RETURN(uint32_t i, Arg<uint32_t>("LONG_BINGET index"));
        return Recall(i);
      }
      case kBinPut: {
        WG_ASSIGN_OR_RETURN(uint8_t i, Arg<uint8_t>("BINPUT index"));
        return Memo(i);
      }
      case kLongBinPut: {
        WG_ASSIGN_OR_RETURN(uint32_t i, Arg<uint32_t>("LONG_BINPUT index"));
        return Memo(i);
      }
      case kMemoize:
        return Memo(memo_.size());
      // These import or call something by themselves.
      case kInst:
      case kObj:
      case kExt1:
      case kExt2:
      case kExt4:
      case kPersId:
      case kNewObjEx:
        return Fail(ErrorCode::kUnsafe,
                    "opcode " + OpName(op_) + " imports or calls objects; refused in a checkpoint");
      // Valid pickle, but never written by torch.save.
      case kPop:
      case kPopMark:
      case kDup:
      case kFloat:
      case kInt:
      case kLong:
      case kLong4:
      case kString:
      case kUnicode:
      case kGet:
      case kPut:
      case kEmptySet:
      case kAddItems:
      case kFrozenSet:
      case kByteArray8:
      case kNextBuffer:
      case kReadOnlyBuffer:
        return Fail(ErrorCode::kUnsupported,
                    "opcode " + OpName(op_) + " is not accepted in a checkpoint pickle");
    }
    return Fail(ErrorCode::kMalformed, "unknown pickle opcode " + OpName(op_));
  }

  ByteReader r_;
  MachineLimits limits_;
  Unpickled out_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::unordered_map<std::string, Value*> storages_;
  uint64_t op_offset_ = 0;
  uint8_t op_ = 0;
};

}  // namespace

const char* KindName(Value::Kind k) {
  switch (k) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kBigInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kGlobal:
      return "global";
    case Kind::kStorage:
      return "storage";
    case Kind::kTensor:
      return "tensor";
  }
  return "?";
}

Result<Unpickled> Unpickle(Bytes data, const std::string& display, const MachineLimits& limits) {
  return Machine(data, display, limits).Run();
}

}  // namespace wg::pickle
