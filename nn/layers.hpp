#pragma once
// Layers and networks, made only of autograd ops: a layer is parameters plus a forward.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

using autograd::Labels;
using autograd::Matrix;
using autograd::Parameter;
using autograd::Tape;
using autograd::Var;

// Limits on what a network may be, checked before anything is allocated for it: the inputs, each
// hidden layer and the outputs (classes) at most max_layer_size wide, at most max_parameters
// weights and biases in all (80 MB of float64).
inline constexpr std::size_t max_layer_size = 100000;
inline constexpr std::size_t max_parameters = 10000000;

// Weights and biases of an MLP with these sizes: sum of (in + 1) * out. Sizes must be at most
// max_layer_size (so that the products cannot overflow).
std::size_t parameter_count(const std::vector<std::size_t>& sizes);

enum class Activation { tanh, sigmoid, relu };
Var activate(Activation a, const Var& x);
std::string to_string(Activation a);
Activation parse_activation(const std::string& name);  // "tanh", "sigmoid" or "relu"

// x·W + b, with the blog's initialisation: W = randn(in, out) / √in, b = 0.
class Dense {
 public:
  Dense(std::size_t in, std::size_t out, std::uint64_t seed);
  Dense(Matrix W, Matrix b);  // given weights; b must be [1 x out]
  Var operator()(Tape& tape, const Var& x);

  Parameter W;
  Parameter b;
};

// A stack of Dense layers with the hidden activation between them; the last layer gives logits.
// sizes = {inputs, hidden..., classes}: {2, 3, 2} is the blog's network.
class MLP {
 public:
  MLP(const std::vector<std::size_t>& sizes, Activation hidden, std::uint64_t seed);
  MLP(std::vector<Dense> layers, Activation hidden);

  Var operator()(Tape& tape, const Var& x);  // logits [rows x classes]

  std::vector<Parameter*> parameters();
  std::vector<Parameter*> weights();  // the matrices a weight penalty applies to (not the biases)
  void zero_grad();

  // Evaluated on a tape of their own without recording for backward, a part of X's rows at a time
  // so that memory stays bounded (about 32 MB of activations) for any number of rows.
  Matrix probabilities(const Matrix& X);
  Labels predict(const Matrix& X);

  std::vector<std::size_t> sizes() const;
  Activation activation() const { return hidden_; }
  std::vector<Dense>& layers() { return layers_; }
  const std::vector<Dense>& layers() const { return layers_; }

 private:
  std::size_t rows_per_pass() const;
  template <class Use>
  void forward_in_parts(const Matrix& X, Use&& use);

  std::vector<Dense> layers_;
  Activation hidden_;
};

double accuracy(const Labels& predicted, const Labels& truth);

}  // namespace nn
