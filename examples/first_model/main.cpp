// A starting point for your own model: two small problems written straight with the op API.
//  1. A 3-class spiral, two relu hidden layers, Adam on minibatches of 32.
//  2. A 1-D regression: fit a noisy sine with a squared-error loss composed from the ops.
// Copy this file, change the model, keep the loop.
#include <cmath>
#include <cstdio>

#include "autograd/autograd.hpp"
#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/optim.hpp"
#include "nn/random.hpp"

using namespace autograd;

int main() {
  // --- 1. Spiral: 3 classes, 2 -> 64 -> 64 -> 3 relu, Adam, minibatches. ---
  const nn::Dataset spiral = nn::make_spiral(200, 3, 0.2, 1);
  const auto [train, test] = nn::train_test_split(spiral, 0.25, 1);
  nn::MLP net({2, 64, 64, 3}, nn::Activation::relu, 1);
  nn::Adam adam(net.parameters());
  nn::Rng rng(1);
  Tape tape;
  const std::size_t batch = 32;
  for (int epoch = 0; epoch < 300; ++epoch) {
    const auto order = rng.permutation(train.y.size());
    for (std::size_t first = 0; first + batch <= order.size(); first += batch) {
      Matrix X = Matrix::from_shape({batch, 2});
      Labels y(batch);
      for (std::size_t r = 0; r < batch; ++r) {
        X(r, 0) = train.X(order[first + r], 0);
        X(r, 1) = train.X(order[first + r], 1);
        y[r] = train.y[order[first + r]];
      }
      tape.clear();
      net.zero_grad();
      const Var loss = softmax_cross_entropy(net(tape, tape.constant(X)), y, Reduction::mean);
      tape.backward(loss);
      adam.step(0.01);
    }
  }
  std::printf("spiral: training accuracy %.1f%%, held-out accuracy %.1f%%\n",
              100 * nn::accuracy(net.predict(train.X), train.y),
              100 * nn::accuracy(net.predict(test.X), test.y));

  // --- 2. Regression: y = sin(3x) + noise, 1 -> 32 -> 1 tanh, loss = mean((f(x) − y)²). ---
  const std::size_t n = 200;
  Matrix x = Matrix::from_shape({n, 1}), target = Matrix::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = -1.0 + 2.0 * static_cast<double>(i) / (n - 1);
    target(i, 0) = std::sin(3.0 * x(i, 0)) + 0.1 * rng.normal();
  }
  nn::MLP fit({1, 32, 1}, nn::Activation::tanh, 2);
  nn::Adam fit_adam(fit.parameters());
  double mse = 0.0;
  for (int step = 0; step < 3000; ++step) {
    tape.clear();
    fit.zero_grad();
    const Var err = fit(tape, tape.constant(x)) - tape.constant(target);
    const Var loss = mean(err * err);
    tape.backward(loss);
    fit_adam.step(0.01);
    mse = loss.value()(0, 0);
  }
  // The noise alone has variance 0.01, so a good fit ends near 0.01.
  std::printf("sine: mean squared error %.4f (noise variance 0.0100)\n", mse);
  return 0;
}
