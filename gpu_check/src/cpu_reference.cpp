#include "weightgate/gpu_check/cpu_reference.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "weightgate/core/quant.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

// Row `row` of a [rows, cols] matrix, as f32.
Status ReadRow(const TensorInfo& t, uint64_t row, uint64_t cols, float* out) {
  WG_ASSIGN_OR_RETURN(uint64_t row_bytes, ByteSize(t.dtype, cols));
  const uint64_t off = row * row_bytes;
  if (off + row_bytes > t.nbytes)
    return Error(ErrorCode::kMalformed, "row outside the tensor")
        .File(t.file->path())
        .Field(t.name)
        .Offset(t.offset + off);
  return ToF32(t.dtype, t.data().data() + off, out, cols);
}

Result<std::vector<float>> ReadVector(const TensorInfo& t, uint64_t n) {
  std::vector<float> v(n);
  WG_TRY(ReadRow(t, 0, n, v.data()));
  return v;
}

}  // namespace

std::vector<double> RopeInverseFrequencies(const LlamaModel& model) {
  const LlamaConfig& c = model.config;
  // RoPE frequencies per pair index j (pair j rotates dimensions 2j and 2j+1 of a head
  // in adjacent layout, j and j + head_size/2 in halves layout).
  const int32_t hs = c.head_size();
  std::vector<double> inv_freq(hs / 2);
  for (int32_t j = 0; j < hs / 2; ++j) {
    double f = 1.0 / std::pow(c.rope_theta, (2.0 * j) / hs);
    if (c.rope_scaling) {
      const auto& s = *c.rope_scaling;
      const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
      const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                        (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
    inv_freq[j] = f;
  }
  if (model.rope_freqs) {
    auto divisors = ReadVector(*model.rope_freqs, hs / 2);
    if (divisors.ok())
      for (int32_t j = 0; j < hs / 2; ++j) inv_freq[j] /= (*divisors)[j];
  }
  return inv_freq;
}

int32_t Argmax(const std::vector<float>& logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  return best;
}

CpuReference::CpuReference(const LlamaModel& model, int32_t max_seq) : model_(model) {
  const LlamaConfig& c = model.config;
  max_seq_ = max_seq > 0 ? std::min(max_seq, c.seq_len) : c.seq_len;
  x_.resize(c.dim);
  xb_.resize(c.dim);
  xb2_.resize(c.dim);
  q_.resize(c.dim);
  hb_.resize(c.hidden_dim);
  hb2_.resize(c.hidden_dim);
  att_.resize(static_cast<size_t>(c.n_heads) * max_seq_);
  logits_.resize(c.vocab_size);
  key_cache_.resize(static_cast<size_t>(c.n_layers) * max_seq_ * c.kv_dim());
  value_cache_.resize(key_cache_.size());

  inv_freq_ = RopeInverseFrequencies(model);
}

void CpuReference::RmsNorm(const float* x, const std::vector<float>& w, float* out) const {
  const size_t n = w.size();
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / n + model_.config.rms_eps);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(w[i] * (scale * x[i]));
}

Status CpuReference::MatVec(const TensorInfo& w, const float* x, float* out) const {
  const uint64_t rows = w.shape[0], cols = w.shape[1];
  constexpr uint64_t kRowsPerTask = 16;
  const uint64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  return ThreadPool::Shared().ParallelFor(tasks, [&](size_t task) -> Status {
    std::vector<float> row(cols);
    const uint64_t end = std::min(rows, (task + 1) * kRowsPerTask);
    for (uint64_t r = task * kRowsPerTask; r < end; ++r) {
      WG_TRY(ReadRow(w, r, cols, row.data()));
      double acc = 0;
      for (uint64_t j = 0; j < cols; ++j) acc += static_cast<double>(row[j]) * x[j];
      out[r] = static_cast<float>(acc);
    }
    return Ok();
  });
}

Result<const std::vector<float>*> CpuReference::Forward(int32_t token, int32_t pos) {
  const LlamaConfig& c = model_.config;
  if (token < 0 || token >= c.vocab_size)
    return Error(ErrorCode::kUsage, "token id out of range")
        .Field("token")
        .Expected("0.." + std::to_string(c.vocab_size - 1))
        .Found(std::to_string(token));
  if (pos < 0 || pos >= max_seq_)
    return Error(ErrorCode::kUsage, "position beyond the context")
        .Expected("< " + std::to_string(max_seq_))
        .Found(std::to_string(pos));
  if (attn_norm_.empty()) {  // norms are small; read them once
    for (const auto& l : model_.layers) {
      WG_ASSIGN_OR_RETURN(auto an, ReadVector(*l.attn_norm, c.dim));
      WG_ASSIGN_OR_RETURN(auto fn, ReadVector(*l.ffn_norm, c.dim));
      attn_norm_.push_back(std::move(an));
      ffn_norm_.push_back(std::move(fn));
    }
    WG_ASSIGN_OR_RETURN(output_norm_, ReadVector(*model_.output_norm, c.dim));
  }

  const int32_t hs = c.head_size(), kv_dim = c.kv_dim();
  const int32_t kv_mul = c.n_heads / c.n_kv_heads;
  WG_TRY(ReadRow(*model_.token_embd, token, c.dim, x_.data()));

  // Rotates one head's vector in place at position pos.
  auto rope = [&](float* v) {
    for (int32_t j = 0; j < hs / 2; ++j) {
      const double angle = pos * inv_freq_[j];
      const double fc = std::cos(angle), fs = std::sin(angle);
      const int32_t a = c.rope_layout == RopeLayout::kAdjacentPairs ? 2 * j : j;
      const int32_t b = c.rope_layout == RopeLayout::kAdjacentPairs ? 2 * j + 1 : j + hs / 2;
      const double v0 = v[a], v1 = v[b];
      v[a] = static_cast<float>(v0 * fc - v1 * fs);
      v[b] = static_cast<float>(v0 * fs + v1 * fc);
    }
  };

  for (int32_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayerWeights& w = model_.layers[l];
    RmsNorm(x_.data(), attn_norm_[l], xb_.data());
    const size_t cache_off = (static_cast<size_t>(l) * max_seq_ + pos) * kv_dim;
    float* k = key_cache_.data() + cache_off;
    float* v = value_cache_.data() + cache_off;
    WG_TRY(MatVec(*w.wq, xb_.data(), q_.data()));
    WG_TRY(MatVec(*w.wk, xb_.data(), k));
    WG_TRY(MatVec(*w.wv, xb_.data(), v));
    for (int32_t h = 0; h < c.n_heads; ++h) rope(q_.data() + h * hs);
    for (int32_t h = 0; h < c.n_kv_heads; ++h) rope(k + h * hs);

    // Grouped-query attention over positions 0..pos.
    for (int32_t h = 0; h < c.n_heads; ++h) {
      const float* qh = q_.data() + h * hs;
      float* att = att_.data() + static_cast<size_t>(h) * max_seq_;
      const int32_t kvh = h / kv_mul;
      double max_score = -INFINITY;
      std::vector<double> scores(pos + 1);
      for (int32_t t = 0; t <= pos; ++t) {
        const float* kt =
            key_cache_.data() + (static_cast<size_t>(l) * max_seq_ + t) * kv_dim + kvh * hs;
        double s = 0;
        for (int32_t i = 0; i < hs; ++i) s += static_cast<double>(qh[i]) * kt[i];
        scores[t] = s / std::sqrt(static_cast<double>(hs));
        max_score = std::max(max_score, scores[t]);
      }
      double sum = 0;
      for (int32_t t = 0; t <= pos; ++t) sum += (scores[t] = std::exp(scores[t] - max_score));
      std::vector<double> out(hs, 0.0);
      for (int32_t t = 0; t <= pos; ++t) {
        const double a = scores[t] / sum;
        att[t] = static_cast<float>(a);
        const float* vt =
            value_cache_.data() + (static_cast<size_t>(l) * max_seq_ + t) * kv_dim + kvh * hs;
        for (int32_t i = 0; i < hs; ++i) out[i] += a * vt[i];
      }
      for (int32_t i = 0; i < hs; ++i) xb_[h * hs + i] = static_cast<float>(out[i]);
    }
    WG_TRY(MatVec(*w.wo, xb_.data(), xb2_.data()));
    for (int32_t i = 0; i < c.dim; ++i) x_[i] += xb2_[i];

    // SwiGLU feed-forward.
    RmsNorm(x_.data(), ffn_norm_[l], xb_.data());
    WG_TRY(MatVec(*w.w_gate, xb_.data(), hb_.data()));
    WG_TRY(MatVec(*w.w_up, xb_.data(), hb2_.data()));
    for (int32_t i = 0; i < c.hidden_dim; ++i) {
      const double g = hb_[i];
      hb_[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * hb2_[i]);
    }
    WG_TRY(MatVec(*w.w_down, hb_.data(), xb_.data()));
    for (int32_t i = 0; i < c.dim; ++i) x_[i] += xb_[i];
  }
  RmsNorm(x_.data(), output_norm_, x_.data());
  WG_TRY(MatVec(*model_.output, x_.data(), logits_.data()));
  return &logits_;
}

Result<std::vector<int32_t>> CpuReference::Greedy(const std::vector<int32_t>& prompt,
                                                  int32_t steps) {
  if (prompt.empty()) return Error(ErrorCode::kUsage, "empty prompt: at least BOS is needed");
  const int32_t bos = model_.tokenizer ? model_.tokenizer->bos_id() : 1;
  std::vector<int32_t> next_ids;
  int32_t token = prompt[0];
  for (int32_t pos = 0; pos < steps && pos < max_seq_; ++pos) {
    WG_ASSIGN_OR_RETURN(const std::vector<float>* logits, Forward(token, pos));
    int32_t next =
        pos + 1 < static_cast<int32_t>(prompt.size()) ? prompt[pos + 1] : Argmax(*logits);
    if (next == bos) break;  // run.c ends a story at BOS
    next_ids.push_back(next);
    token = next;
  }
  return next_ids;
}

}  // namespace wg
