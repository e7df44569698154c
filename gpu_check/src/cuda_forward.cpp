#include "weightgate/gpu_check/cuda_forward.h"

#ifndef WG_HAVE_CUDA

namespace wg {

struct CudaForward::Impl {};

Result<std::vector<CudaDeviceInfo>> ListCudaDevices() {
  return Error::Unsupported("built without CUDA (nvcc was not found at build time)");
}
Result<std::unique_ptr<CudaForward>> CudaForward::Create(const LlamaModel&, int, int32_t) {
  return Error::Unsupported("built without CUDA (nvcc was not found at build time)");
}
CudaForward::CudaForward(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaForward::~CudaForward() = default;
Result<const std::vector<float>*> CudaForward::Forward(int32_t, int32_t) {
  return Error::Unsupported("built without CUDA");
}
const CudaLoadStats& CudaForward::load_stats() const {
  static const CudaLoadStats kNone;
  return kNone;
}
Status CudaForward::FlipWeightBitForTest(const std::string&, uint64_t, int) {
  return Error::Unsupported("built without CUDA");
}

}  // namespace wg

#else  // WG_HAVE_CUDA

#include <cublas_v2.h>

#include <algorithm>
#include <unordered_map>

#include "cublas_loader.h"
#include "cuda_kernels.h"
#include "cuda_upload.h"
#include "kernel_types.h"
#include "weightgate/gpu_check/cpu_reference.h"

namespace wg {
namespace {

Error CublasError(const cuda::CublasApi& api, cublasStatus_t s, const char* call) {
  return Error(ErrorCode::kIo, std::string("cuBLAS call failed: ") + api.status_name(s) + " (" +
                                   api.status_string(s) + ")")
      .Field(call);
}

#define WG_CUBLAS_TRY(expr)                                                                      \
  do {                                                                                           \
    const cublasStatus_t wg_cublas_st_ = (expr);                                                 \
    if (wg_cublas_st_ != CUBLAS_STATUS_SUCCESS) return CublasError(*blas, wg_cublas_st_, #expr); \
  } while (0)

// The kernels' element type for a weight dtype; others have no CUDA path.
Result<int> KernelType(const TensorInfo& t) {
  const int type = cuda::KernelTypeOf(t.dtype);
  if (type < 0)
    return Error::Unsupported("no CUDA kernel for this weight dtype")
        .File(t.file->path())
        .Field(t.name)
        .Expected("F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K")
        .Found(std::string(Name(t.dtype)));
  return type;
}

}  // namespace

Result<std::vector<CudaDeviceInfo>> ListCudaDevices() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls start clean
    return Error::Unsupported(std::string("no CUDA device visible: ") + cudaGetErrorString(e));
  }
  if (n == 0) return Error::Unsupported("no CUDA device visible: the driver reports none");
  int driver = 0, runtime = 0;
  WG_CUDA_TRY(cudaDriverGetVersion(&driver));
  WG_CUDA_TRY(cudaRuntimeGetVersion(&runtime));
  std::vector<CudaDeviceInfo> out;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    WG_CUDA_TRY(cudaGetDeviceProperties(&p, i));
    out.push_back(
        {i, p.name, p.major, p.minor, static_cast<uint64_t>(p.totalGlobalMem), driver, runtime});
  }
  return out;
}

struct CudaForward::Impl {
  const LlamaModel* model = nullptr;
  int device = 0;
  int32_t max_seq = 0;
  cudaStream_t stream = nullptr;
  const cuda::CublasApi* blas = nullptr;
  cublasHandle_t cublas = nullptr;
  cuda::DeviceBuffer arena;
  std::unordered_map<const TensorInfo*, cuda::DevMatrix> weights;
  cuda::DeviceBuffer x, xb, xb2, q, hb, hb2, logits, key_cache, value_cache, scores, inv_freq;
  std::vector<float> host_logits;
  CudaLoadStats load;

  ~Impl() {
    cudaSetDevice(device);
    if (cublas) blas->destroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }

  const cuda::DevMatrix& W(const TensorInfo* t) const { return weights.at(t); }

  Status MatVec(const TensorInfo* t, const float* in, float* out) {
    const cuda::DevMatrix& w = W(t);
    if (w.type == cuda::kWF32) {
      // Row-major [rows, cols] is column-major [cols, rows]: y = A^T x.
      const float one = 1.f, zero = 0.f;
      WG_CUBLAS_TRY(blas->sgemv(
          cublas, CUBLAS_OP_T, static_cast<int>(w.cols), static_cast<int>(w.rows), &one,
          reinterpret_cast<const float*>(w.data), static_cast<int>(w.cols), in, 1, &zero, out, 1));
      return Ok();
    }
    WG_CUDA_TRY(cuda::LaunchMatVec(w, in, out, stream));
    return Ok();
  }
};

Result<std::unique_ptr<CudaForward>> CudaForward::Create(const LlamaModel& model, int device,
                                                         int32_t max_seq) {
  WG_TRY(cuda::UseDevice(device));
  const LlamaConfig& c = model.config;
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->device = device;
  impl->max_seq = max_seq > 0 ? std::min(max_seq, c.seq_len) : c.seq_len;

  // Every weight the pass reads, once each (a tied head is the embedding).
  std::vector<const TensorInfo*> tensors = {model.token_embd, model.output_norm, model.output};
  for (const LlamaLayerWeights& l : model.layers)
    tensors.insert(tensors.end(),
                   {l.attn_norm, l.wq, l.wk, l.wv, l.wo, l.ffn_norm, l.w_gate, l.w_down, l.w_up});
  std::vector<cuda::UploadPiece> pieces;
  std::vector<const TensorInfo*> order;
  for (const TensorInfo* t : tensors) {
    if (impl->weights.count(t)) continue;
    WG_ASSIGN_OR_RETURN(int type, KernelType(*t));
    cuda::DevMatrix m;
    m.type = type;
    m.rows = t->shape.size() == 2 ? static_cast<int64_t>(t->shape[0]) : 1;
    m.cols = static_cast<int64_t>(t->shape.back());
    if (m.rows > INT32_MAX || m.cols > INT32_MAX)
      return Error::Unsupported("matrix too large for the CUDA pass").Field(t->name);
    WG_ASSIGN_OR_RETURN(m.row_bytes, ByteSize(t->dtype, static_cast<uint64_t>(m.cols)));
    if (m.row_bytes * static_cast<uint64_t>(m.rows) != t->nbytes)
      return Error::Malformed("tensor byte size does not match its shape")
          .File(t->file->path())
          .Field(t->name)
          .Expected(std::to_string(m.row_bytes * static_cast<uint64_t>(m.rows)))
          .Found(std::to_string(t->nbytes));
    impl->weights.emplace(t, m);
    pieces.push_back({t->data().data(), t->nbytes, 0});
    order.push_back(t);
  }
  const uint64_t arena_bytes = cuda::LayOutArena(pieces);
  WG_TRY(impl->arena.Allocate(arena_bytes, "weights"));
  WG_ASSIGN_OR_RETURN(impl->load, cuda::UploadMeasured(pieces, arena_bytes, impl->arena.get()));
  for (size_t i = 0; i < order.size(); ++i)
    impl->weights[order[i]].data = impl->arena.get() + pieces[i].device_offset;

  WG_CUDA_TRY(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  WG_ASSIGN_OR_RETURN(impl->blas, cuda::LoadCublas());
  const cuda::CublasApi* blas = impl->blas;
  WG_CUBLAS_TRY(blas->create(&impl->cublas));
  WG_CUBLAS_TRY(blas->set_stream(impl->cublas, impl->stream));
  // Plain FP32 products: no TF32 or other reduced-precision math behind our back.
  WG_CUBLAS_TRY(blas->set_math_mode(impl->cublas, CUBLAS_PEDANTIC_MATH));

  const uint64_t f = sizeof(float);
  const uint64_t cache = static_cast<uint64_t>(c.n_layers) * impl->max_seq * c.kv_dim() * f;
  WG_TRY(impl->x.Allocate(c.dim * f, "x"));
  WG_TRY(impl->xb.Allocate(c.dim * f, "xb"));
  WG_TRY(impl->xb2.Allocate(c.dim * f, "xb2"));
  WG_TRY(impl->q.Allocate(c.dim * f, "q"));
  WG_TRY(impl->hb.Allocate(static_cast<uint64_t>(c.hidden_dim) * f, "hb"));
  WG_TRY(impl->hb2.Allocate(static_cast<uint64_t>(c.hidden_dim) * f, "hb2"));
  WG_TRY(impl->logits.Allocate(static_cast<uint64_t>(c.vocab_size) * f, "logits"));
  WG_TRY(impl->key_cache.Allocate(cache, "key cache"));
  WG_TRY(impl->value_cache.Allocate(cache, "value cache"));
  WG_TRY(impl->scores.Allocate(static_cast<uint64_t>(c.n_heads) * impl->max_seq * sizeof(double),
                               "attention scores"));
  const std::vector<double> inv_freq = RopeInverseFrequencies(model);
  WG_TRY(impl->inv_freq.Allocate(inv_freq.size() * sizeof(double), "rope frequencies"));
  WG_CUDA_TRY(cudaMemcpy(impl->inv_freq.get(), inv_freq.data(), inv_freq.size() * sizeof(double),
                         cudaMemcpyHostToDevice));
  impl->host_logits.resize(c.vocab_size);
  return std::unique_ptr<CudaForward>(new CudaForward(std::move(impl)));
}

CudaForward::CudaForward(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaForward::~CudaForward() = default;

const CudaLoadStats& CudaForward::load_stats() const {
  return impl_->load;
}

Result<const std::vector<float>*> CudaForward::Forward(int32_t token, int32_t pos) {
  Impl& m = *impl_;
  const LlamaConfig& c = m.model->config;
  if (token < 0 || token >= c.vocab_size)
    return Error::Usage("token id out of range")
        .Field("token")
        .Expected("0.." + std::to_string(c.vocab_size - 1))
        .Found(std::to_string(token));
  if (pos < 0 || pos >= m.max_seq)
    return Error::Usage("position beyond the context")
        .Expected("< " + std::to_string(m.max_seq))
        .Found(std::to_string(pos));
  WG_CUDA_TRY(cudaSetDevice(m.device));
  cudaStream_t s = m.stream;
  const int hs = c.head_size(), kv_dim = c.kv_dim(), kv_mul = c.n_heads / c.n_kv_heads;
  float* x = m.x.as<float>();
  float* xb = m.xb.as<float>();
  float* xb2 = m.xb2.as<float>();
  float* q = m.q.as<float>();
  float* hb = m.hb.as<float>();
  float* hb2 = m.hb2.as<float>();

  const cuda::DevMatrix& embd = m.W(m.model->token_embd);
  WG_CUDA_TRY(cuda::LaunchDequantRow(embd.data + static_cast<uint64_t>(token) * embd.row_bytes,
                                     embd.type, c.dim, x, s));
  for (int32_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayerWeights& w = m.model->layers[l];
    const uint64_t layer_off = static_cast<uint64_t>(l) * m.max_seq * kv_dim;
    float* k_layer = m.key_cache.as<float>() + layer_off;
    float* v_layer = m.value_cache.as<float>() + layer_off;
    float* k = k_layer + static_cast<uint64_t>(pos) * kv_dim;
    float* v = v_layer + static_cast<uint64_t>(pos) * kv_dim;

    const cuda::DevMatrix& an = m.W(w.attn_norm);
    WG_CUDA_TRY(cuda::LaunchRmsNorm(x, an.data, an.type, c.dim, c.rms_eps, xb, s));
    WG_TRY(m.MatVec(w.wq, xb, q));
    WG_TRY(m.MatVec(w.wk, xb, k));
    WG_TRY(m.MatVec(w.wv, xb, v));
    WG_CUDA_TRY(cuda::LaunchRope(q, k, m.inv_freq.as<double>(), c.n_heads, c.n_kv_heads, hs,
                                 c.rope_layout == RopeLayout::kAdjacentPairs, pos, s));
    WG_CUDA_TRY(cuda::LaunchAttention(q, k_layer, v_layer, m.scores.as<double>(), c.n_heads, hs,
                                      kv_dim, kv_mul, pos, m.max_seq, xb, s));
    WG_TRY(m.MatVec(w.wo, xb, xb2));
    WG_CUDA_TRY(cuda::LaunchAdd(x, xb2, c.dim, s));

    const cuda::DevMatrix& fn = m.W(w.ffn_norm);
    WG_CUDA_TRY(cuda::LaunchRmsNorm(x, fn.data, fn.type, c.dim, c.rms_eps, xb, s));
    WG_TRY(m.MatVec(w.w_gate, xb, hb));
    WG_TRY(m.MatVec(w.w_up, xb, hb2));
    WG_CUDA_TRY(cuda::LaunchSwiGlu(hb, hb2, c.hidden_dim, s));
    WG_TRY(m.MatVec(w.w_down, hb, xb));
    WG_CUDA_TRY(cuda::LaunchAdd(x, xb, c.dim, s));
  }
  const cuda::DevMatrix& on = m.W(m.model->output_norm);
  WG_CUDA_TRY(cuda::LaunchRmsNorm(x, on.data, on.type, c.dim, c.rms_eps, x, s));
  WG_TRY(m.MatVec(m.model->output, x, m.logits.as<float>()));
  WG_CUDA_TRY(cudaMemcpyAsync(m.host_logits.data(), m.logits.get(),
                              m.host_logits.size() * sizeof(float), cudaMemcpyDeviceToHost, s));
  WG_CUDA_TRY(cudaStreamSynchronize(s));
  return &m.host_logits;
}

Status CudaForward::FlipWeightBitForTest(const std::string& tensor, uint64_t byte, int bit) {
  Impl& m = *impl_;
  const TensorInfo* t = m.model->catalog.Find(tensor);
  if (!t || !m.weights.count(t)) return Error::Usage("no such weight on the device").Field(tensor);
  if (byte >= t->nbytes || bit < 0 || bit > 7)
    return Error::Usage("bit outside the tensor").Field(tensor);
  WG_CUDA_TRY(cudaSetDevice(m.device));
  uint8_t* p = const_cast<uint8_t*>(m.W(t).data) + byte;
  uint8_t v = 0;
  WG_CUDA_TRY(cudaMemcpy(&v, p, 1, cudaMemcpyDeviceToHost));
  v ^= static_cast<uint8_t>(1u << bit);
  WG_CUDA_TRY(cudaMemcpy(p, &v, 1, cudaMemcpyHostToDevice));
  return Ok();
}

}  // namespace wg

#endif  // WG_HAVE_CUDA
