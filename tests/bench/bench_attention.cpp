// The attention benchmark: one training step (forward and backward) of causal multi-head
// self-attention over a batch of sequences, three ways, interleaved in one process:
//   batched        the ops of any rank on [B, T, d]: heads by reshape and permute, scores by a
//                  batched matmul [B, H, T, T], a causal [T, T] mask broadcast by masked_fill;
//   block-diagonal the matrix layout of nn::SelfAttention: all B·T rows at once, scores [B·T x B·T]
//                  per head under a block-diagonal causal mask (nn::causal_mask);
//   libtorch       the batched model in libtorch, when CMake finds it.
// All three must end at the same loss and gradient (float64: 1e-9 relative; float32: 1e-3), or
// the exit status is 1.
//   autograd_bench_attention [--batch 32] [--time 64] [--dim 64] [--heads 4] [--steps 10]
//                            [--repeats 5] [--dtype float32|float64|both]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attention.hpp"
#include "autograd/threads.hpp"
#include "nn/sequence.hpp"
#ifdef AUTOGRAD_BENCH_TORCH
#include "torch_net.hpp"
#endif

namespace {

using namespace autograd;
using bench::AttentionProblem;
using bench::AttentionResult;

template <class T>
BasicTensor<T> as_tensor(const Matrix& m, const Shape& shape) {
  BasicTensor<T> t = BasicTensor<T>::from_shape(shape);
  std::transform(m.begin(), m.end(), t.begin(), [](double v) { return static_cast<T>(v); });
  return t;
}

// The batched model: the README's attention, then ·Wo.
template <class T>
struct Batched {
  explicit Batched(const AttentionProblem& p)
      : p(p), wq(BasicMatrix<T>(p.wq)), wk(BasicMatrix<T>(p.wk)), wv(BasicMatrix<T>(p.wv)), wo(BasicMatrix<T>(p.wo)),
        x(as_tensor<T>(p.x, {p.batch, p.time, p.dim})), r(as_tensor<T>(p.r, {p.batch, p.time, p.dim})),
        future(BasicTensor<T>::from_shape({p.time, p.time})) {
    for (std::size_t t = 0; t < p.time; ++t) {
      for (std::size_t s = 0; s < p.time; ++s) future(t, s) = s > t ? T(1) : T(0);
    }
  }
  AttentionResult step() {
    const auto B = static_cast<std::int64_t>(p.batch), Tn = static_cast<std::int64_t>(p.time),
               D = static_cast<std::int64_t>(p.dim), H = static_cast<std::int64_t>(p.heads);
    tape.clear();
    for (BasicParameter<T>* w : {&wq, &wk, &wv, &wo}) w->zero_grad();
    const BasicVar<T> X = tape.tensor(x);
    const auto heads = [&](const BasicVar<T>& y) { return permute(reshape(y, {B, Tn, H, D / H}), {0, 2, 1, 3}); };
    const BasicVar<T> q = heads(matmul(X, tape.param(wq))), k = heads(matmul(X, tape.param(wk))),
                      v = heads(matmul(X, tape.param(wv)));
    const BasicVar<T> scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(static_cast<double>(D / H));
    const BasicVar<T> att = softmax(masked_fill(scores, tape.tensor(future), -std::numeric_limits<double>::infinity()));
    const BasicVar<T> o = matmul(reshape(permute(matmul(att, v), {0, 2, 1, 3}), {B, Tn, D}), tape.param(wo));
    const BasicVar<T> loss = sum(mul(o, tape.tensor(r)));
    tape.backward(loss);
    return {static_cast<double>(loss.value()(0, 0)), static_cast<double>(xt::sum(xt::abs(wq.grad))())};
  }
  const AttentionProblem& p;
  BasicParameter<T> wq, wk, wv, wo;
  BasicTensor<T> x, r, future;
  BasicTape<T> tape;
};

// The matrix layout: nn::SelfAttention on [B·T x d] rows under a block-diagonal causal mask.
template <class T>
struct BlockDiagonal {
  explicit BlockDiagonal(const AttentionProblem& p)
      : attention(p.dim, p.heads, 1), x(BasicMatrix<T>(p.x)), r(BasicMatrix<T>(p.r)),
        mask(nn::causal_mask<T>(std::vector<std::size_t>(p.batch, p.time))) {
    attention.Wq.value = BasicMatrix<T>(p.wq);
    attention.Wk.value = BasicMatrix<T>(p.wk);
    attention.Wv.value = BasicMatrix<T>(p.wv);
    attention.Wo.value = BasicMatrix<T>(p.wo);
  }
  AttentionResult step() {
    tape.clear();
    for (BasicParameter<T>* w : attention.parameters()) w->zero_grad();
    const BasicVar<T> o = attention(tape, tape.constant(x), tape.constant(mask));
    const BasicVar<T> loss = sum(mul(o, tape.constant(r)));
    tape.backward(loss);
    return {static_cast<double>(loss.value()(0, 0)), static_cast<double>(xt::sum(xt::abs(attention.Wq.grad))())};
  }
  nn::BasicSelfAttention<T> attention;
  BasicMatrix<T> x, r, mask;
  BasicTape<T> tape;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::size_t flag_value(const std::string& flag, const char* value) {
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || v < 1 || v > 100000) {
    std::fprintf(stderr, "autograd_bench_attention: %s %s: expected a whole number from 1 to 100000\n",
                 flag.c_str(), value);
    std::exit(2);
  }
  return static_cast<std::size_t>(v);
}

template <class T>
bool run(const AttentionProblem& p, int steps, int repeats) {
  const bool f32 = std::is_same_v<T, float>;
  const char* dtype = dtype_name<T>();
  Batched<T> batched(p);
  BlockDiagonal<T> block(p);
  struct Impl {
    std::string name;
    std::function<AttentionResult(double&)> run;
    std::vector<double> seconds;
    AttentionResult result;
  };
  const auto timed = [steps](auto& model) {
    return [&model, steps](double& seconds) {
      model.step();  // warm-up: the tape's buffers are sized once
      AttentionResult r;
      const auto start = std::chrono::steady_clock::now();
      for (int s = 0; s < steps; ++s) r = model.step();
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    };
  };
  std::vector<Impl> impls;
  impls.push_back({"batched", timed(batched), {}, {}});
  impls.push_back({"block-diagonal", timed(block), {}, {}});
#ifdef AUTOGRAD_BENCH_TORCH
  impls.push_back({"libtorch", [&p, steps, f32](double& seconds) {
                     double warm = 0;
                     bench::torch_attention(p, 1, f32, warm);
                     return bench::torch_attention(p, steps, f32, seconds);
                   }, {}, {}});
#endif
  for (int rep = 0; rep < repeats; ++rep) {
    for (std::size_t k = 0; k < impls.size(); ++k) {  // the order rotates each repeat
      Impl& impl = impls[(k + static_cast<std::size_t>(rep)) % impls.size()];
      double s = 0;
      impl.result = impl.run(s);
      impl.seconds.push_back(s);
    }
  }
  std::printf("\n%s, B=%zu T=%zu d=%zu heads=%zu, %d steps (forward + backward) per run, %d runs:\n\n",
              dtype, p.batch, p.time, p.dim, p.heads, steps, repeats);
  std::printf("| implementation | median s per step | ratio to batched | loss | Σ|dWq| |\n|---|---|---|---|---|\n");
  const double base = median(impls[0].seconds) / steps;
  bool agree = true;
  const double tol = f32 ? 1e-3 : 1e-9;  // float32: sums of ~4096 terms of rounding 6e-8 each
  for (const Impl& impl : impls) {
    const double s = median(impl.seconds) / steps;
    std::printf("| %s | %.5f | %.2f | %.10g | %.10g |\n", impl.name.c_str(), s, s / base, impl.result.loss,
                impl.result.grad_l1);
    const auto close = [tol](double a, double b) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); };
    agree = agree && close(impl.result.loss, impls[0].result.loss) && close(impl.result.grad_l1, impls[0].result.grad_l1);
  }
  if (!agree) std::printf("\nerror: the implementations disagree (limit %g relative)\n", tol);
  return agree;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t batch = 32, time = 64, dim = 64, heads = 4, steps = 10, repeats = 5;
  std::string dtype = "both";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: autograd_bench_attention [--batch 32] [--time 64] [--dim 64] [--heads 4] "
                  "[--steps 10] [--repeats 5] [--dtype float32|float64|both]\n");
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "autograd_bench_attention: %s needs a value\n", flag.c_str());
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--batch") batch = flag_value(flag, value);
    else if (flag == "--time") time = flag_value(flag, value);
    else if (flag == "--dim") dim = flag_value(flag, value);
    else if (flag == "--heads") heads = flag_value(flag, value);
    else if (flag == "--steps") steps = flag_value(flag, value);
    else if (flag == "--repeats") repeats = flag_value(flag, value);
    else if (flag == "--dtype" && (std::string(value) == "float32" || std::string(value) == "float64" ||
                                   std::string(value) == "both")) dtype = value;
    else {
      std::fprintf(stderr, "autograd_bench_attention: unknown flag or value: %s %s\n", flag.c_str(), value);
      return 2;
    }
  }
  if (dim % heads != 0) {
    std::fprintf(stderr, "autograd_bench_attention: --heads %zu does not divide --dim %zu\n", heads, dim);
    return 2;
  }
  autograd::set_num_threads(1);
#ifdef AUTOGRAD_BENCH_TORCH
  bench::torch_set_threads(1);
#else
  std::printf("libtorch not found at build time: its rows are left out\n");
#endif
  const AttentionProblem p = bench::attention_problem(batch, time, dim, heads);
  bool ok = true;
  if (dtype != "float32") ok = run<double>(p, static_cast<int>(steps), static_cast<int>(repeats)) && ok;
  if (dtype != "float64") ok = run<float>(p, static_cast<int>(steps), static_cast<int>(repeats)) && ok;
  return ok ? 0 : 1;
}
