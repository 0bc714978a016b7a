#include "nn/layers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include <xtensor/xview.hpp>

#include "nn/random.hpp"
#include "nn/text.hpp"

namespace nn {

template <class T>
BasicVar<T> activate(Activation a, const BasicVar<T>& x) {
  switch (a) {
    case Activation::tanh: return autograd::tanh(x);
    case Activation::sigmoid: return autograd::sigmoid(x);
    case Activation::relu: return autograd::relu(x);
  }
  throw std::invalid_argument("activate: unknown activation");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
    case Activation::relu: return "relu";
  }
  return "?";
}

Activation parse_activation(const std::string& name) {
  for (Activation a : {Activation::tanh, Activation::sigmoid, Activation::relu}) {
    if (name == to_string(a)) return a;
  }
  throw std::invalid_argument("unknown activation " + quote(name) + " (expected tanh, sigmoid or relu)");
}

namespace {

// The blog's W = randn(in, out) / √in, after refusing sizes that are 0 or cannot be held.
template <class T>
BasicMatrix<T> initial_weights(std::size_t in, std::size_t out, std::uint64_t seed) {
  if (in == 0 || out == 0) {
    throw std::invalid_argument("Dense: sizes must be positive, got " + std::to_string(in) +
                                " -> " + std::to_string(out));
  }
  autograd::checked_size<T>("Dense", in, out);
  return xt::cast<T>(Rng(seed).randn(in, out, "Dense") / std::sqrt(static_cast<double>(in)));
}

}  // namespace

template <class T>
BasicDense<T>::BasicDense(std::size_t in, std::size_t out, std::uint64_t seed)
    : W(initial_weights<T>(in, out, seed), "W"), b(xt::zeros<T>({std::size_t{1}, out}), "b") {}

template <class T>
BasicDense<T>::BasicDense(BasicMatrix<T> weights, BasicMatrix<T> bias)
    : W(std::move(weights), "W"), b(std::move(bias), "b") {
  if (b.value.shape(0) != 1 || b.value.shape(1) != W.value.shape(1)) {
    throw std::invalid_argument("Dense: bias " + autograd::shape_str(b.value) +
                                " does not fit weights " + autograd::shape_str(W.value));
  }
}

template <class T>
BasicVar<T> BasicDense<T>::operator()(BasicTape<T>& tape, const BasicVar<T>& x) {
  return matmul(x, tape.param(W)) + tape.param(b);
}

std::size_t parameter_count(const std::vector<std::size_t>& sizes) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) n += (sizes[i] + 1) * sizes[i + 1];
  return n;
}

template <class T>
BasicMLP<T>::BasicMLP(const std::vector<std::size_t>& sizes, Activation hidden, std::uint64_t seed)
    : hidden_(hidden) {
  if (sizes.size() < 2) throw std::invalid_argument("MLP: needs at least input and output sizes");
  for (std::size_t s : sizes) {
    if (s == 0 || s > max_layer_size) {
      throw std::invalid_argument("MLP: layer size " + std::to_string(s) + " is not in 1.." +
                                  std::to_string(max_layer_size));
    }
  }
  if (parameter_count(sizes) > max_parameters) {
    throw std::invalid_argument("MLP: " + std::to_string(parameter_count(sizes)) +
                                " parameters, more than the " + std::to_string(max_parameters) +
                                " allowed");
  }
  Rng seeds(seed);  // one seed per layer, so a layer's weights do not depend on the layers before
  layers_.reserve(sizes.size() - 1);
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    layers_.emplace_back(sizes[i], sizes[i + 1], seeds.bits());
  }
}

template <class T>
BasicMLP<T>::BasicMLP(std::vector<Dense> layers, Activation hidden) : layers_(std::move(layers)), hidden_(hidden) {
  if (layers_.empty()) throw std::invalid_argument("MLP: no layers");
  for (std::size_t i = 1; i < layers_.size(); ++i) {
    if (layers_[i].W.value.shape(0) != layers_[i - 1].W.value.shape(1)) {
      throw std::invalid_argument("MLP: layer " + std::to_string(i) + " takes " +
                                  autograd::shape_str(layers_[i].W.value) + " after layer " +
                                  std::to_string(i - 1) + " gives " +
                                  autograd::shape_str(layers_[i - 1].W.value));
    }
  }
}

template <class T>
void BasicMLP<T>::set_input_scaling(std::optional<Standardizer> scaling) {
  if (scaling && (scaling->features() != sizes().front() || scaling->scale.shape(1) != scaling->features() ||
                  scaling->mean.shape(0) != 1 || scaling->scale.shape(0) != 1)) {
    throw std::invalid_argument("set_input_scaling: a scaling of mean " +
                                autograd::shape_str(scaling->mean) + " and scale " +
                                autograd::shape_str(scaling->scale) + " for a network of " +
                                std::to_string(sizes().front()) + " inputs");
  }
  if (scaling) {
    scaling_mean_ = xt::cast<T>(scaling->mean);
    scaling_scale_ = xt::cast<T>(scaling->scale);
  }
  scaling_ = std::move(scaling);
}

template <class T>
BasicVar<T> BasicMLP<T>::operator()(Tape& tape, const Var& x) {
  Var h = x;
  if (scaling_) h = autograd::div(autograd::sub(h, tape.constant(scaling_mean_)), tape.constant(scaling_scale_));
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i](tape, h);
    if (i + 1 < layers_.size()) h = activate(hidden_, h);
  }
  return h;
}

template <class T>
std::vector<BasicParameter<T>*> BasicMLP<T>::parameters() {
  std::vector<Parameter*> ps;
  for (Dense& l : layers_) {
    ps.push_back(&l.W);
    ps.push_back(&l.b);
  }
  return ps;
}

template <class T>
std::vector<BasicParameter<T>*> BasicMLP<T>::weights() {
  std::vector<Parameter*> ws;
  for (Dense& l : layers_) ws.push_back(&l.W);
  return ws;
}

template <class T>
void BasicMLP<T>::zero_grad() {
  for (Dense& l : layers_) {  // not through parameters(): this runs every step and must not allocate
    l.W.zero_grad();
    l.b.zero_grad();
  }
}

// Rows per forward pass in probabilities and predict: about 2^22 activation values (32 MB) at a
// time, however wide the network and however many rows are asked for.
template <class T>
std::size_t BasicMLP<T>::rows_per_pass() const {
  std::size_t width = 0;
  for (std::size_t s : sizes()) width += s;
  return std::max<std::size_t>(1, (std::size_t{1} << 22) / std::max<std::size_t>(width, 1));
}

template <class T>
template <class Use>
void BasicMLP<T>::forward_in_parts(const Matrix& X, Use&& use) {
  const std::size_t rows = X.shape(0);
  const std::size_t part = rows_per_pass();
  Tape tape;
  typename Tape::NoGrad no_grad(tape);
  if (rows <= part) {
    if constexpr (std::is_same_v<T, double>) {
      use(0, (*this)(tape, tape.constant(X)));
    } else {
      use(0, (*this)(tape, tape.constant(BasicMatrix<T>(xt::cast<T>(X)))));
    }
    return;
  }
  for (std::size_t first = 0; first < rows; first += part) {
    const typename Tape::NoGrad rollback(tape);  // each part's values are dropped before the next
    const std::size_t n = std::min(part, rows - first);
    const BasicMatrix<T> slice = xt::cast<T>(xt::view(X, xt::range(first, first + n), xt::all()));
    use(first, (*this)(tape, tape.constant(slice)));
  }
}

template <class T>
void BasicMLP<T>::check_width(const char* who, const Matrix& X) const {
  const std::size_t inputs = layers_.front().W.value.shape(0);
  if (X.shape(1) != inputs) {
    throw std::invalid_argument(std::string(who) + ": X has " + std::to_string(X.shape(1)) +
                                " features per row, the network takes " + std::to_string(inputs) +
                                " inputs");
  }
}

template <class T>
BasicMatrix<T> BasicMLP<T>::probabilities(const Matrix& X) {
  check_width("MLP::probabilities", X);
  BasicMatrix<T> out = autograd::allocate_matrix<T>("MLP::probabilities", X.shape(0), sizes().back());
  forward_in_parts(X, [&](std::size_t first, const Var& logits) {
    const BasicMatrix<T>& p = autograd::softmax(logits).value();
    xt::view(out, xt::range(first, first + p.shape(0)), xt::all()) = p;
  });
  return out;
}

template <class T>
Labels BasicMLP<T>::predict(const Matrix& X) {
  check_width("MLP::predict", X);
  Labels out(X.shape(0));
  forward_in_parts(X, [&](std::size_t first, const Var& z) {
    const BasicMatrix<T>& logits = z.value();
    for (std::size_t r = 0; r < logits.shape(0); ++r) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < logits.shape(1); ++c) {
        if (logits(r, c) > logits(r, best)) best = c;
      }
      out[first + r] = static_cast<int>(best);
    }
  });
  return out;
}

template <class T>
std::vector<std::size_t> BasicMLP<T>::sizes() const {
  std::vector<std::size_t> s{layers_.front().W.value.shape(0)};
  for (const Dense& l : layers_) s.push_back(l.W.value.shape(1));
  return s;
}

double accuracy(const Labels& predicted, const Labels& truth) {
  if (predicted.size() != truth.size() || truth.empty()) {
    throw std::invalid_argument("accuracy: " + std::to_string(predicted.size()) +
                                " predictions for " + std::to_string(truth.size()) + " labels");
  }
  std::size_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return static_cast<double>(right) / static_cast<double>(truth.size());
}

template BasicVar<double> activate(Activation, const BasicVar<double>&);
template BasicVar<float> activate(Activation, const BasicVar<float>&);
template class BasicDense<double>;
template class BasicDense<float>;
template class BasicMLP<double>;
template class BasicMLP<float>;

}  // namespace nn
