#include "sequence.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "nn/random.hpp"

namespace nn {

using namespace autograd;

namespace {

// randn / √rows, drawn in float64 and rounded to T.
template <class T>
BasicMatrix<T> scaled_randn(Rng& rng, std::size_t rows, std::size_t cols) {
  return xt::cast<T>(rng.randn(rows, cols) / std::sqrt(static_cast<double>(rows)));
}

// Zeros [rows x cols] for a layer's parameter, its shape checked (autograd::allocate_matrix) so
// that sizes which cannot be held are refused naming the layer.
template <class T>
BasicMatrix<T> zeros(const char* who, std::size_t rows, std::size_t cols) {
  BasicMatrix<T> m = allocate_matrix<T>(who, rows, cols);
  m.fill(T(0));
  return m;
}

void check_sizes(const char* who, std::size_t a, std::size_t b) {
  if (a == 0 || b == 0) {
    throw std::invalid_argument(std::string(who) + ": sizes must be positive, got " +
                                std::to_string(a) + " and " + std::to_string(b));
  }
}

// An embedding's N(0, 1) table, after refusing sizes that are 0 or cannot be held.
template <class T>
BasicMatrix<T> random_table(std::size_t count, std::size_t dim, std::uint64_t seed) {
  check_sizes("Embedding", count, dim);
  return xt::cast<T>(Rng(seed).randn(count, dim, "Embedding"));
}

// dim, once the block's widest weights [d x 4d] are known to fit: a refusal names the block.
template <class T>
std::size_t block_size(std::size_t dim) {
  checked_size<T>("TransformerBlock", dim, checked_size<T>("TransformerBlock", 4, dim));
  return dim;
}

}  // namespace

template <class T>
BasicEmbedding<T>::BasicEmbedding(std::size_t count, std::size_t dim, std::uint64_t seed)
    : table(random_table<T>(count, dim, seed), "embedding") {}

template <class T>
BasicVar<T> BasicEmbedding<T>::operator()(Tape& tape, const Labels& ids) { return gather_rows(tape.param(table), ids); }

template <class T>
BasicRNNCell<T>::BasicRNNCell(std::size_t in, std::size_t hidden, std::uint64_t seed)
    : U(zeros<T>("RNNCell", in, hidden), "rnn.U"),
      W(zeros<T>("RNNCell", hidden, hidden), "rnn.W"),
      b(zeros<T>("RNNCell", 1, hidden), "rnn.b") {
  check_sizes("RNNCell", in, hidden);
  Rng rng(seed);
  U.value = scaled_randn<T>(rng, in, hidden);
  W.value = scaled_randn<T>(rng, hidden, hidden);
}

template <class T>
BasicVar<T> BasicRNNCell<T>::operator()(Tape& tape, const Var& x, const Var& s) {
  return tanh(matmul(x, tape.param(U)) + matmul(s, tape.param(W)) + tape.param(b));
}

template <class T>
BasicGRUCell<T>::BasicGRUCell(std::size_t in, std::size_t hidden, std::uint64_t seed)
    : Wx(zeros<T>("GRUCell", in, checked_size<T>("GRUCell", hidden, 3)), "gru.Wx"),
      Urz(zeros<T>("GRUCell", hidden, 2 * hidden), "gru.Urz"),  // 2H < 3H, which fits
      Uh(zeros<T>("GRUCell", hidden, hidden), "gru.Uh"),
      b(zeros<T>("GRUCell", 1, 3 * hidden), "gru.b") {
  check_sizes("GRUCell", in, hidden);
  Rng rng(seed);
  Wx.value = scaled_randn<T>(rng, in, 3 * hidden);
  Urz.value = scaled_randn<T>(rng, hidden, 2 * hidden);
  Uh.value = scaled_randn<T>(rng, hidden, hidden);
}

template <class T>
BasicVar<T> BasicGRUCell<T>::operator()(Tape& tape, const Var& x, const Var& h) {
  const std::size_t H = hidden();
  const Var xw = matmul(x, tape.param(Wx)) + tape.param(b);  // [B x 3H]
  const Var gates = sigmoid(slice_cols(xw, 0, 2 * H) + matmul(h, tape.param(Urz)));
  const Var r = slice_cols(gates, 0, H);
  const Var z = slice_cols(gates, H, 2 * H);
  const Var candidate = tanh(slice_cols(xw, 2 * H, 3 * H) + matmul(r * h, tape.param(Uh)));
  return z * h + (1.0 - z) * candidate;
}

template <class T>
BasicMatrix<T> causal_mask(const std::vector<std::size_t>& lengths) {
  std::size_t n = 0;
  for (std::size_t len : lengths) n = checked_sum("causal_mask", n, len);
  BasicMatrix<T> mask = allocate_matrix<T>("causal_mask", n, n);
  mask.fill(T(-1e9));
  std::size_t start = 0;
  for (std::size_t len : lengths) {
    for (std::size_t i = 0; i < len; ++i) {
      for (std::size_t j = 0; j <= i; ++j) mask(start + i, start + j) = 0;
    }
    start += len;
  }
  return mask;
}

template <class T>
BasicSelfAttention<T>::BasicSelfAttention(std::size_t dim, std::size_t heads_, std::uint64_t seed)
    : heads(heads_),
      Wq(zeros<T>("SelfAttention", dim, dim), "attention.Wq"),
      Wk(zeros<T>("SelfAttention", dim, dim), "attention.Wk"),
      Wv(zeros<T>("SelfAttention", dim, dim), "attention.Wv"),
      Wo(zeros<T>("SelfAttention", dim, dim), "attention.Wo") {
  check_sizes("SelfAttention", dim, heads);
  if (dim % heads != 0) {
    throw std::invalid_argument("SelfAttention: " + std::to_string(heads) +
                                " heads do not divide the size " + std::to_string(dim));
  }
  Rng rng(seed);
  for (Parameter* p : parameters()) p->value = scaled_randn<T>(rng, dim, dim);
}

template <class T>
BasicVar<T> BasicSelfAttention<T>::operator()(Tape& tape, const Var& x, const Var& mask) {
  const std::size_t d = Wq.value.shape(0), dh = d / heads;
  const Var q = matmul(x, tape.param(Wq)), k = matmul(x, tape.param(Wk)), v = matmul(x, tape.param(Wv));
  std::vector<Var> outputs;
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t c0 = h * dh, c1 = c0 + dh;
    const Var scores = matmul(slice_cols(q, c0, c1), transpose(slice_cols(k, c0, c1))) /
                       std::sqrt(static_cast<double>(dh));
    outputs.push_back(matmul(softmax(scores + mask), slice_cols(v, c0, c1)));
  }
  return matmul(heads == 1 ? outputs[0] : concat(outputs, 1), tape.param(Wo));
}

template <class T>
BasicTransformerBlock<T>::BasicTransformerBlock(std::size_t dim, std::size_t heads, std::uint64_t seed)
    : attention(block_size<T>(dim), heads, Rng(seed).bits()),
      up(dim, 4 * dim, Rng(seed + 1).bits()),
      down(4 * dim, dim, Rng(seed + 2).bits()) {}

template <class T>
BasicVar<T> BasicTransformerBlock<T>::operator()(Tape& tape, const Var& x, const Var& mask) {
  const Var a = x + attention(tape, x, mask);
  return a + down(tape, relu(up(tape, a)));
}

template <class T>
std::vector<BasicParameter<T>*> BasicTransformerBlock<T>::parameters() {
  std::vector<Parameter*> ps = attention.parameters();
  for (Parameter* p : {&up.W, &up.b, &down.W, &down.b}) ps.push_back(p);
  return ps;
}

template class BasicEmbedding<double>;
template class BasicEmbedding<float>;
template class BasicRNNCell<double>;
template class BasicRNNCell<float>;
template class BasicGRUCell<double>;
template class BasicGRUCell<float>;
template class BasicSelfAttention<double>;
template class BasicSelfAttention<float>;
template class BasicTransformerBlock<double>;
template class BasicTransformerBlock<float>;
template BasicMatrix<double> causal_mask(const std::vector<std::size_t>&);
template BasicMatrix<float> causal_mask(const std::vector<std::size_t>&);

}  // namespace nn
