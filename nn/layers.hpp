#pragma once
/// \file
/// Layers and networks, made only of autograd ops: a layer is parameters plus a forward.
///
/// Every layer and network is a template on the element type T (double or float), like the engine:
/// `BasicDense<T>`, `BasicMLP<T>`. The plain names (Dense, MLP) are float64, as before; nn::f32::Dense
/// and nn::f32::MLP are float32 and nn::f64::… float64, so that a model switches precision with one
/// alias. Data (Dataset, the X given to predict) stay float64 and are rounded to T on the way in.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/data.hpp"

/// Neural networks made only of autograd ops: layers, sequence layers, losses, optimisers, the
/// training loop, data sets and model files.
///
/// Templated on the element type like the engine: the plain names are float64, nn::f32 holds the
/// float32 ones and nn::f64 the float64 ones under the same names.
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

/// The widest a network's inputs, hidden layers and outputs (classes) may be; checked before
/// anything is allocated for it.
inline constexpr std::size_t max_layer_size = 100000;
/// The most weights and biases a network may have in all (80 MB of float64); checked before
/// anything is allocated for it.
inline constexpr std::size_t max_parameters = 10000000;

/// Weights and biases of an MLP with these sizes: sum of (in + 1) * out. Sizes must be at most
/// max_layer_size (so that the products cannot overflow).
std::size_t parameter_count(const std::vector<std::size_t>& sizes);

/// The nonlinearity between an MLP's layers.
enum class Activation {
  tanh,     ///< tanh (the blog's).
  sigmoid,  ///< 1 / (1 + e^−x).
  relu      ///< max(x, 0).
};
/// The activation a applied to x elementwise (the op tanh, sigmoid or relu).
template <class T>
BasicVar<T> activate(Activation a, const BasicVar<T>& x);
std::string to_string(Activation a);  ///< "tanh", "sigmoid" or "relu".
/// The activation named "tanh", "sigmoid" or "relu"; throws std::invalid_argument for any other
/// name, quoting it.
Activation parse_activation(const std::string& name);  // "tanh", "sigmoid" or "relu"

/// A dense (fully connected) layer: x·W + b.
///
/// The blog's initialisation: W = randn(in, out) / √in, b = 0. The random numbers are
/// drawn in float64 and rounded to T, so a float32 layer starts from its float64 twin's weights.
template <class T>
class BasicDense {
 public:
  using value_type = T;  ///< The element type.
  /// in inputs, out outputs, weights drawn from seed; throws std::invalid_argument if a size is 0.
  BasicDense(std::size_t in, std::size_t out, std::uint64_t seed);
  /// A layer with the given weights W [in x out] and biases b, which must be [1 x out].
  BasicDense(BasicMatrix<T> W, BasicMatrix<T> b);  // given weights; b must be [1 x out]
  /// x·W + b recorded on tape: [rows x in] -> [rows x out].
  BasicVar<T> operator()(BasicTape<T>& tape, const BasicVar<T>& x);

  BasicParameter<T> W;  ///< Weights [in x out], named "W".
  BasicParameter<T> b;  ///< Biases [1 x out], named "b".
};

/// A multilayer perceptron: a stack of Dense layers with the hidden activation between them; the
/// last layer gives logits.
///
/// sizes = {inputs, hidden..., classes}: {2, 3, 2} is the blog's network.
template <class T>
class BasicMLP {
 public:
  using value_type = T;  ///< The element type.
  using Dense = BasicDense<T>;  ///< Its layers' type.
  using Parameter = BasicParameter<T>;  ///< Its parameters' type.
  using Tape = BasicTape<T>;  ///< The tape it records on.
  using Var = BasicVar<T>;  ///< A handle on that tape.

  /// Random layers of these sizes ({inputs, hidden..., classes}), each drawn from its own seed taken
  /// from seed. Throws std::invalid_argument for fewer than 2 sizes, a size outside
  /// 1..max_layer_size or more than max_parameters in all.
  BasicMLP(const std::vector<std::size_t>& sizes, Activation hidden, std::uint64_t seed);
  /// The network made of these layers (chosen weights); each layer must take the previous one's
  /// outputs (std::invalid_argument naming both otherwise).
  BasicMLP(std::vector<Dense> layers, Activation hidden);

  /// The forward pass recorded on tape: logits [rows x classes].
  Var operator()(Tape& tape, const Var& x);  // logits [rows x classes]

  std::vector<Parameter*> parameters();  ///< Every layer's W and b, in layer order.
  std::vector<Parameter*> weights();  ///< The matrices a weight penalty applies to (not the biases).
  void zero_grad();  ///< Zeroes every parameter's gradient.

  /// Row-wise softmax of the logits: each row's class probabilities [rows x classes].
  ///
  /// X must have the network's input width (std::invalid_argument naming both otherwise).
  ///
  /// Evaluated on a tape of its own without recording for backward, a part of X's rows at a time
  /// so that memory stays bounded (about 32 MB of activations) for any number of rows. X is float64
  /// data; a float32 model rounds each part to float32.
  BasicMatrix<T> probabilities(const Matrix& X);
  /// The most likely class of each row of X, evaluated in parts as probabilities() is.
  Labels predict(const Matrix& X);

  std::vector<std::size_t> sizes() const;  ///< {inputs, hidden..., classes}.
  Activation activation() const { return hidden_; }  ///< The hidden activation.
  std::vector<Dense>& layers() { return layers_; }  ///< The layers, first to last.
  const std::vector<Dense>& layers() const { return layers_; }  ///< The layers, first to last.

  /// The precision the parameters had before load_model converted them, or empty.
  ///
  /// "float64" for a float64 file loaded into a float32 model. save_model records it in the
  /// manifest, so that a converted model never passes for one trained in its own precision.
  const std::string& converted_from() const { return converted_from_; }
  /// Sets what converted_from() returns (load_model does).
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
  void check_width(const char* who, const Matrix& X) const;
  template <class Use>
  void forward_in_parts(const Matrix& X, Use&& use);

  std::vector<Dense> layers_;
  Activation hidden_;
  std::string converted_from_;
  std::optional<Standardizer> scaling_;
  BasicMatrix<T> scaling_mean_, scaling_scale_;  // scaling_ in precision T
};

using Dense = BasicDense<double>;  ///< A float64 dense layer.
using MLP = BasicMLP<double>;  ///< A float64 multilayer perceptron.

/// The fraction of predictions equal to the truth, in [0, 1]; throws std::invalid_argument if the
/// two differ in length or are empty.
double accuracy(const Labels& predicted, const Labels& truth);

extern template class BasicDense<double>;
extern template class BasicDense<float>;
extern template class BasicMLP<double>;
extern template class BasicMLP<float>;

// Both precisions under one set of names, as autograd::f32 and autograd::f64:
// `using Model = nn::f32::MLP;` picks float32 for a model.
/// The float64 networks under the same names as nn::f32, for code that names its precision.
namespace f64 {
using autograd::f64::Labels;
using autograd::f64::Matrix;
using autograd::f64::Tape;
using autograd::f64::Var;
using autograd::f64::Parameter;
using Dense = BasicDense<double>;  ///< A float64 dense layer.
using MLP = BasicMLP<double>;  ///< A float64 multilayer perceptron.
}  // namespace f64

/// The float32 networks under the plain names: `using Model = nn::f32::MLP;` picks float32 for a
/// model.
namespace f32 {
using autograd::f32::Labels;
using autograd::f32::Matrix;
using autograd::f32::Tape;
using autograd::f32::Var;
using autograd::f32::Parameter;
using Dense = BasicDense<float>;  ///< A float32 dense layer.
using MLP = BasicMLP<float>;  ///< A float32 multilayer perceptron.
}  // namespace f32

}  // namespace nn
