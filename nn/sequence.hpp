#pragma once
/// \file
/// Layers for sequence models, made only of autograd ops (no backward code here): an embedding
/// table, a vanilla RNN cell, a GRU cell, causal multi-head self-attention and a transformer block.
/// Each is a template on the element type T, like BasicMLP: Embedding, RNNCell, … are float64 and
/// nn::f32::Embedding, … float32. Rows are examples: a batch of B sequences at one time step is
/// [B x features]; attention takes a batch of sequences stacked as rows (batch·time) with a
/// block-diagonal causal mask. Every layer's parameters() lists its parameters for an optimiser or
/// gradcheck.
#include <cstdint>
#include <vector>

#include "nn/layers.hpp"

namespace nn {

/// An embedding: a lookup table [count x dim], N(0, 1) at the start: row ids[i] for each id.
template <class T>
class BasicEmbedding {
 public:
  using value_type = T;  ///< The element type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.
  /// count rows of dim values, drawn from seed; throws std::invalid_argument if a size is 0.
  BasicEmbedding(std::size_t count, std::size_t dim, std::uint64_t seed);
  /// The rows of the ids, recorded on tape: [ids.size() x dim] (gather_rows()).
  Var operator()(Tape& tape, const Labels& ids);  // [ids.size() x dim]
  std::vector<Parameter*> parameters() { return {&table}; }  ///< {&table}.

  Parameter table;  ///< The table [count x dim], named "embedding".
};

/// A vanilla (Elman) RNN cell: s' = tanh(x·U + s·W + b). U ~ randn/√in, W ~ randn/√hidden, b = 0.
template <class T>
class BasicRNNCell {
 public:
  using value_type = T;  ///< The element type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.
  /// A cell from in inputs to a state of hidden values, drawn from seed; throws
  /// std::invalid_argument if a size is 0.
  BasicRNNCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
  /// The next state s' [B x hidden] from x [B x in] and the state s [B x hidden], recorded on tape.
  Var operator()(Tape& tape, const Var& x, const Var& s);  // x [B x in], s [B x hidden]
  std::vector<Parameter*> parameters() { return {&U, &W, &b}; }  ///< {&U, &W, &b}.
  std::size_t hidden() const { return W.value.shape(0); }  ///< The state's size.

  ///@{
  /// U [in x hidden] ("rnn.U"), W [hidden x hidden] ("rnn.W") and b [1 x hidden] ("rnn.b").
  Parameter U, W, b;
  ///@}
};

/// A GRU cell, with the conventions of the paper that introduced it.
///
/// The GRU of Cho et al. (2014), eqs. 5–8:
/// ```
///   r  = σ(x·W_r + h·U_r + b_r)               reset gate
///   z  = σ(x·W_z + h·U_z + b_z)               update gate
///   h̃  = tanh(x·W_h + (r ∘ h)·U_h + b_h)       the reset applied to h before U_h (PyTorch applies
///                                             it after: r ∘ (h·U_h + b))
///   h' = z ∘ h + (1 − z) ∘ h̃                   z = 1 keeps the old state (as the paper and PyTorch)
/// ```
/// The input weights of the three are one matrix Wx = [W_r W_z W_h] ([in x 3H]) and the recurrent
/// weights of the gates one matrix Urz = [U_r U_z] ([H x 2H]), so that a step is three matmuls.
template <class T>
class BasicGRUCell {
 public:
  using value_type = T;  ///< The element type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.
  /// A cell from in inputs to a state of hidden (H) values, drawn from seed; throws
  /// std::invalid_argument if a size is 0.
  BasicGRUCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
  /// The next state h' [B x H] from x [B x in] and the state h [B x H], recorded on tape.
  Var operator()(Tape& tape, const Var& x, const Var& h);
  std::vector<Parameter*> parameters() { return {&Wx, &Urz, &Uh, &b}; }  ///< {&Wx, &Urz, &Uh, &b}.
  std::size_t hidden() const { return Uh.value.shape(0); }  ///< The state's size H.

  Parameter Wx;   ///< [in x 3H]: r, z, candidate.
  Parameter Urz;  ///< [H x 2H]: r, z.
  Parameter Uh;   ///< [H x H]: the candidate's recurrent weights.
  Parameter b;    ///< [1 x 3H]: r, z, candidate.
};

/// The additive causal mask [N x N] of a batch of sequences stacked as rows.
///
/// lengths[k] rows for sequence k, N rows in all: 0 where row i may attend to row j (same sequence,
/// j at or before i), −1e9 elsewhere.
template <class T = double>
BasicMatrix<T> causal_mask(const std::vector<std::size_t>& lengths);

/// Multi-head scaled dot-product self-attention.
///
/// As in Vaswani et al. (2017), on rows x [N x d] and an additive mask [N x N]: per head h,
/// softmax(Q_h·K_hᵀ/√d_h + mask)·V_h, heads concatenated, then ·Wo. d must be a multiple of heads.
/// No biases; all four weights randn/√d.
template <class T>
class BasicSelfAttention {
 public:
  using value_type = T;  ///< The element type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.
  /// Attention over rows of dim values with heads heads, weights drawn from seed; throws
  /// std::invalid_argument if a size is 0 or heads does not divide dim.
  BasicSelfAttention(std::size_t dim, std::size_t heads, std::uint64_t seed);
  /// The attention output [N x d] of x [N x d] under mask [N x N] (causal_mask()), recorded on tape.
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters() { return {&Wq, &Wk, &Wv, &Wo}; }  ///< {&Wq, &Wk, &Wv, &Wo}.

  std::size_t heads;  ///< The number of heads.
  ///@{
  /// The query, key, value and output weights, each [d x d] ("attention.Wq", …).
  Parameter Wq, Wk, Wv, Wo;
  ///@}
};

/// One transformer block without normalisation: x + attention(x), then + relu MLP (d -> 4d -> d).
template <class T>
class BasicTransformerBlock {
 public:
  using value_type = T;  ///< The element type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.
  /// A block over rows of dim values with heads attention heads, weights drawn from seed.
  BasicTransformerBlock(std::size_t dim, std::size_t heads, std::uint64_t seed);
  /// The block's output [N x d] for x [N x d] under mask [N x N], recorded on tape.
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters();  ///< The attention's parameters, then up's and down's.

  BasicSelfAttention<T> attention;  ///< The self-attention.
  ///@{
  /// The MLP's layers: up [d x 4d], then relu, then down [4d x d].
  BasicDense<T> up, down;
  ///@}
};

using Embedding = BasicEmbedding<double>;  ///< A float64 embedding.
using RNNCell = BasicRNNCell<double>;  ///< A float64 RNN cell.
using GRUCell = BasicGRUCell<double>;  ///< A float64 GRU cell.
using SelfAttention = BasicSelfAttention<double>;  ///< float64 self-attention.
using TransformerBlock = BasicTransformerBlock<double>;  ///< A float64 transformer block.

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
using Embedding = BasicEmbedding<double>;  ///< A float64 embedding.
using RNNCell = BasicRNNCell<double>;  ///< A float64 RNN cell.
using GRUCell = BasicGRUCell<double>;  ///< A float64 GRU cell.
using SelfAttention = BasicSelfAttention<double>;  ///< float64 self-attention.
using TransformerBlock = BasicTransformerBlock<double>;  ///< A float64 transformer block.
}  // namespace f64

namespace f32 {
using Embedding = BasicEmbedding<float>;  ///< A float32 embedding.
using RNNCell = BasicRNNCell<float>;  ///< A float32 RNN cell.
using GRUCell = BasicGRUCell<float>;  ///< A float32 GRU cell.
using SelfAttention = BasicSelfAttention<float>;  ///< float32 self-attention.
using TransformerBlock = BasicTransformerBlock<float>;  ///< A float32 transformer block.
}  // namespace f32

}  // namespace nn
