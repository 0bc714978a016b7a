#pragma once
// Layers for sequence models, made only of autograd ops (no backward code here): an embedding
// table, a vanilla RNN cell, a GRU cell, causal multi-head self-attention and a transformer block.
// Each is a template on the element type T, like BasicMLP: Embedding, RNNCell, … are float64 and
// nn::f32::Embedding, … float32. Rows are examples: a batch of B sequences at one time step is [B x features]; attention takes a
// batch of sequences stacked as rows (batch·time) with a block-diagonal causal mask.
#include <cstdint>
#include <vector>

#include "nn/layers.hpp"

namespace nn {

// A lookup table [count x dim], N(0, 1) at the start: row ids[i] for each id.
template <class T>
class BasicEmbedding {
 public:
  using value_type = T;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;
  BasicEmbedding(std::size_t count, std::size_t dim, std::uint64_t seed);
  Var operator()(Tape& tape, const Labels& ids);  // [ids.size() x dim]
  std::vector<Parameter*> parameters() { return {&table}; }

  Parameter table;
};

// s' = tanh(x·U + s·W + b) (Elman). U ~ randn/√in, W ~ randn/√hidden, b = 0.
template <class T>
class BasicRNNCell {
 public:
  using value_type = T;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;
  BasicRNNCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& s);  // x [B x in], s [B x hidden]
  std::vector<Parameter*> parameters() { return {&U, &W, &b}; }
  std::size_t hidden() const { return W.value.shape(0); }

  Parameter U, W, b;
};

// The GRU of Cho et al. (2014), eqs. 5–8, with the paper's conventions:
//   r  = σ(x·W_r + h·U_r + b_r)               reset gate
//   z  = σ(x·W_z + h·U_z + b_z)               update gate
//   h̃  = tanh(x·W_h + (r ∘ h)·U_h + b_h)       the reset applied to h before U_h (PyTorch applies
//                                             it after: r ∘ (h·U_h + b))
//   h' = z ∘ h + (1 − z) ∘ h̃                   z = 1 keeps the old state (as the paper and PyTorch)
// The input weights of the three are one matrix Wx = [W_r W_z W_h] ([in x 3H]) and the recurrent
// weights of the gates one matrix Uzr = [U_r U_z] ([H x 2H]), so that a step is three matmuls.
template <class T>
class BasicGRUCell {
 public:
  using value_type = T;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;
  BasicGRUCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& h);
  std::vector<Parameter*> parameters() { return {&Wx, &Urz, &Uh, &b}; }
  std::size_t hidden() const { return Uh.value.shape(0); }

  Parameter Wx;   // [in x 3H]: r, z, candidate
  Parameter Urz;  // [H x 2H]: r, z
  Parameter Uh;   // [H x H]
  Parameter b;    // [1 x 3H]
};

// The additive mask of a batch of sequences stacked as rows, lengths[k] rows for sequence k:
// 0 where row i may attend to row j (same sequence, j at or before i), −1e9 elsewhere.
template <class T = double>
BasicMatrix<T> causal_mask(const std::vector<std::size_t>& lengths);

// Multi-head scaled dot-product self-attention (Vaswani et al. 2017) on rows x [N x d] and an
// additive mask [N x N]: per head h, softmax(Q_h·K_hᵀ/√d_h + mask)·V_h, heads concatenated,
// then ·Wo. d must be a multiple of heads. No biases; all four weights randn/√d.
template <class T>
class BasicSelfAttention {
 public:
  using value_type = T;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;
  BasicSelfAttention(std::size_t dim, std::size_t heads, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters() { return {&Wq, &Wk, &Wv, &Wo}; }

  std::size_t heads;
  Parameter Wq, Wk, Wv, Wo;
};

// One transformer block without normalisation: x + attention(x), then + relu MLP (d -> 4d -> d).
template <class T>
class BasicTransformerBlock {
 public:
  using value_type = T;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;
  BasicTransformerBlock(std::size_t dim, std::size_t heads, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters();

  BasicSelfAttention<T> attention;
  BasicDense<T> up, down;
};

using Embedding = BasicEmbedding<double>;
using RNNCell = BasicRNNCell<double>;
using GRUCell = BasicGRUCell<double>;
using SelfAttention = BasicSelfAttention<double>;
using TransformerBlock = BasicTransformerBlock<double>;

extern template class BasicEmbedding<double>;
extern template class BasicEmbedding<float>;
extern template class BasicRNNCell<double>;
extern template class BasicRNNCell<float>;
extern template class BasicGRUCell<double>;
extern template class BasicGRUCell<float>;
extern template class BasicSelfAttention<double>;
extern template class BasicSelfAttention<float>;
extern template class BasicTransformerBlock<double>;
extern template class BasicTransformerBlock<float>;
extern template BasicMatrix<double> causal_mask(const std::vector<std::size_t>&);
extern template BasicMatrix<float> causal_mask(const std::vector<std::size_t>&);

namespace f64 {
using Embedding = BasicEmbedding<double>;
using RNNCell = BasicRNNCell<double>;
using GRUCell = BasicGRUCell<double>;
using SelfAttention = BasicSelfAttention<double>;
using TransformerBlock = BasicTransformerBlock<double>;
}  // namespace f64

namespace f32 {
using Embedding = BasicEmbedding<float>;
using RNNCell = BasicRNNCell<float>;
using GRUCell = BasicGRUCell<float>;
using SelfAttention = BasicSelfAttention<float>;
using TransformerBlock = BasicTransformerBlock<float>;
}  // namespace f32

}  // namespace nn
