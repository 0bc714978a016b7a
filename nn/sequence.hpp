#pragma once
// Layers for sequence models, made only of autograd ops (no backward code here): an embedding
// table, a vanilla RNN cell, a GRU cell, causal multi-head self-attention and a transformer block.
// Rows are examples: a batch of B sequences at one time step is [B x features]; attention takes a
// batch of sequences stacked as rows (batch·time) with a block-diagonal causal mask.
#include <cstdint>
#include <vector>

#include "nn/layers.hpp"

namespace nn {

// A lookup table [count x dim], N(0, 1) at the start: row ids[i] for each id.
class Embedding {
 public:
  Embedding(std::size_t count, std::size_t dim, std::uint64_t seed);
  Var operator()(Tape& tape, const Labels& ids);  // [ids.size() x dim]
  std::vector<Parameter*> parameters() { return {&table}; }

  Parameter table;
};

// s' = tanh(x·U + s·W + b) (Elman). U ~ randn/√in, W ~ randn/√hidden, b = 0.
class RNNCell {
 public:
  RNNCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
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
class GRUCell {
 public:
  GRUCell(std::size_t in, std::size_t hidden, std::uint64_t seed);
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
Matrix causal_mask(const std::vector<std::size_t>& lengths);

// Multi-head scaled dot-product self-attention (Vaswani et al. 2017) on rows x [N x d] and an
// additive mask [N x N]: per head h, softmax(Q_h·K_hᵀ/√d_h + mask)·V_h, heads concatenated,
// then ·Wo. d must be a multiple of heads. No biases; all four weights randn/√d.
class SelfAttention {
 public:
  SelfAttention(std::size_t dim, std::size_t heads, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters() { return {&Wq, &Wk, &Wv, &Wo}; }

  std::size_t heads;
  Parameter Wq, Wk, Wv, Wo;
};

// One transformer block without normalisation: x + attention(x), then + relu MLP (d -> 4d -> d).
class TransformerBlock {
 public:
  TransformerBlock(std::size_t dim, std::size_t heads, std::uint64_t seed);
  Var operator()(Tape& tape, const Var& x, const Var& mask);
  std::vector<Parameter*> parameters();

  SelfAttention attention;
  Dense up, down;
};

}  // namespace nn
