#pragma once
// Layers and networks, made only of autograd ops: a layer is parameters plus a forward.
//
// Every layer and network is a template on the element type T (double or float), like the engine:
// BasicDense<T>, BasicMLP<T>. The plain names (Dense, MLP) are float64, as before; nn::f32::Dense
// and nn::f32::MLP are float32 and nn::f64::… float64, so that a model switches precision with one
// alias. Data (Dataset, the X given to predict) stay float64 and are rounded to T on the way in.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/data.hpp"

namespace nn {

using autograd::BasicMatrix;
using autograd::BasicParameter;
using autograd::BasicTape;
using autograd::BasicVar;
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
template <class T>
BasicVar<T> activate(Activation a, const BasicVar<T>& x);
std::string to_string(Activation a);
Activation parse_activation(const std::string& name);  // "tanh", "sigmoid" or "relu"

// x·W + b, with the blog's initialisation: W = randn(in, out) / √in, b = 0. The random numbers are
// drawn in float64 and rounded to T, so a float32 layer starts from its float64 twin's weights.
template <class T>
class BasicDense {
 public:
  using value_type = T;
  BasicDense(std::size_t in, std::size_t out, std::uint64_t seed);
  BasicDense(BasicMatrix<T> W, BasicMatrix<T> b);  // given weights; b must be [1 x out]
  BasicVar<T> operator()(BasicTape<T>& tape, const BasicVar<T>& x);

  BasicParameter<T> W;
  BasicParameter<T> b;
};

// A stack of Dense layers with the hidden activation between them; the last layer gives logits.
// sizes = {inputs, hidden..., classes}: {2, 3, 2} is the blog's network.
template <class T>
class BasicMLP {
 public:
  using value_type = T;
  using Dense = BasicDense<T>;
  using Parameter = BasicParameter<T>;
  using Tape = BasicTape<T>;
  using Var = BasicVar<T>;

  BasicMLP(const std::vector<std::size_t>& sizes, Activation hidden, std::uint64_t seed);
  BasicMLP(std::vector<Dense> layers, Activation hidden);

  Var operator()(Tape& tape, const Var& x);  // logits [rows x classes]

  std::vector<Parameter*> parameters();
  std::vector<Parameter*> weights();  // the matrices a weight penalty applies to (not the biases)
  void zero_grad();

  // Evaluated on a tape of their own without recording for backward, a part of X's rows at a time
  // so that memory stays bounded (about 32 MB of activations) for any number of rows. X is float64
  // data; a float32 model rounds each part to float32.
  BasicMatrix<T> probabilities(const Matrix& X);
  Labels predict(const Matrix& X);

  std::vector<std::size_t> sizes() const;
  Activation activation() const { return hidden_; }
  std::vector<Dense>& layers() { return layers_; }
  const std::vector<Dense>& layers() const { return layers_; }

  // The precision the parameters had before load_model converted them ("float64" for a float64
  // file loaded into a float32 model), or empty: save_model records it in the manifest, so that a
  // converted model never passes for one trained in its own precision.
  const std::string& converted_from() const { return converted_from_; }
  void set_converted_from(std::string dtype) { converted_from_ = std::move(dtype); }

  /// Feature scaling applied to the inputs before the first layer, by operator() (so by training,
  /// predict and probabilities alike): the network sees (x − mean) / scale. Set it before training
  /// (fitted on the training rows); save_model stores it and load_model restores it. Throws
  /// std::invalid_argument if its feature count is not the network's input size.
  void set_input_scaling(std::optional<Standardizer> scaling);
  /// The scaling set by set_input_scaling or load_model, or none (the inputs are used as given).
  const std::optional<Standardizer>& input_scaling() const { return scaling_; }

 private:
  std::size_t rows_per_pass() const;
  template <class Use>
  void forward_in_parts(const Matrix& X, Use&& use);

  std::vector<Dense> layers_;
  Activation hidden_;
  std::string converted_from_;
  std::optional<Standardizer> scaling_;
  BasicMatrix<T> scaling_mean_, scaling_scale_;  // scaling_ in precision T
};

using Dense = BasicDense<double>;
using MLP = BasicMLP<double>;

double accuracy(const Labels& predicted, const Labels& truth);

extern template class BasicDense<double>;
extern template class BasicDense<float>;
extern template class BasicMLP<double>;
extern template class BasicMLP<float>;

// Both precisions under one set of names, as autograd::f32 and autograd::f64:
// `using Model = nn::f32::MLP;` picks float32 for a model.
namespace f64 {
using autograd::f64::Labels;
using autograd::f64::Matrix;
using autograd::f64::Tape;
using autograd::f64::Var;
using autograd::f64::Parameter;
using Dense = BasicDense<double>;
using MLP = BasicMLP<double>;
}  // namespace f64

namespace f32 {
using autograd::f32::Labels;
using autograd::f32::Matrix;
using autograd::f32::Tape;
using autograd::f32::Var;
using autograd::f32::Parameter;
using Dense = BasicDense<float>;
using MLP = BasicMLP<float>;
}  // namespace f32

}  // namespace nn
