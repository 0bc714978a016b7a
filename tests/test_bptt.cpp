// Backpropagation through time: a vanilla RNN's gradients from the tape against the hand-derived
// BPTT formulas, written out plainly below in the style of the blog's delta3/delta2. Rows are
// examples (a batch of sequences), as everywhere in the engine.
//
//   s_t = tanh(x_t·U + s_{t−1}·W + b)        ŷ_t = softmax(s_t·V + c)
//   loss = Σ_t Σ_rows cross-entropy(ŷ_t, y_t)
//   δo_t = ŷ_t − onehot(y_t)
//   δ_t  = (δo_t·Vᵀ + δ_{t+1}·Wᵀ) ∘ (1 − s_t²)          (δ_T = 0)
//   dV = Σ_t s_tᵀ·δo_t    dc = Σ_t colsum(δo_t)
//   dW = Σ_t s_{t−1}ᵀ·δ_t  dU = Σ_t x_tᵀ·δ_t    db = Σ_t colsum(δ_t)
//
// Truncated BPTT with chunks of k steps: the state is carried across a chunk boundary as a value
// but not differentiated through, so δ_{t+1}·Wᵀ is left out where t+1 starts a chunk.
#include <catch2/catch.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "autograd/autograd.hpp"
#include "nn/random.hpp"

using namespace autograd;

namespace {

struct Weights {
  Matrix U, W, b, V, c;
};

struct Sequence {
  std::vector<Matrix> x;  // x_t: [batch x inputs]
  std::vector<Labels> y;  // y_t: one class per row
  Matrix s0;              // the state before step 0: [batch x hidden]
};

Weights random_weights(std::size_t inputs, std::size_t hidden, std::size_t classes, std::uint64_t seed) {
  nn::Rng rng(seed);
  // Scaled so that tanh stays away from saturation and the gradients through 20 steps stay O(1).
  return {rng.randn(inputs, hidden) * 0.5, rng.randn(hidden, hidden) * (0.9 / std::sqrt(hidden)),
          rng.randn(1, hidden) * 0.1, rng.randn(hidden, classes) * 0.5, rng.randn(1, classes) * 0.1};
}

Sequence random_sequence(std::size_t steps, std::size_t batch, std::size_t inputs, std::size_t hidden,
                         std::size_t classes, std::uint64_t seed) {
  nn::Rng rng(seed);
  Sequence q;
  for (std::size_t t = 0; t < steps; ++t) {
    q.x.push_back(rng.randn(batch, inputs));
    Labels y(batch);
    for (int& label : y) label = static_cast<int>(rng.below(classes));
    q.y.push_back(y);
  }
  q.s0 = rng.randn(batch, hidden) * 0.3;
  return q;
}

// ---- the hand-derived BPTT ------------------------------------------------------------------------

Weights hand_bptt(const Weights& w, const Sequence& q, std::size_t chunk) {
  using xt::linalg::dot;
  const std::size_t T = q.x.size();
  std::vector<Matrix> s(T), delta_o(T);
  Matrix prev = q.s0;
  for (std::size_t t = 0; t < T; ++t) {
    s[t] = xt::tanh(dot(q.x[t], w.U) + dot(prev, w.W) + w.b);
    const Matrix z = dot(s[t], w.V) + w.c;
    const Matrix e = xt::exp(z - xt::eval(xt::amax(z, {1}, xt::keep_dims)));
    delta_o[t] = e / xt::eval(xt::sum(e, {1}, xt::keep_dims));  // ŷ_t
    for (std::size_t r = 0; r < q.y[t].size(); ++r) delta_o[t](r, static_cast<std::size_t>(q.y[t][r])) -= 1.0;
    prev = s[t];
  }
  Weights g{xt::zeros_like(w.U), xt::zeros_like(w.W), xt::zeros_like(w.b), xt::zeros_like(w.V),
            xt::zeros_like(w.c)};
  Matrix delta_next = xt::zeros_like(q.s0);  // δ_{t+1}
  for (std::size_t t = T; t-- > 0;) {
    const bool next_starts_chunk = (t + 1) % chunk == 0;
    const Matrix from_next = next_starts_chunk ? Matrix(xt::zeros_like(q.s0)) : Matrix(dot(delta_next, xt::transpose(w.W)));
    const Matrix delta = (dot(delta_o[t], xt::transpose(w.V)) + from_next) * (1.0 - s[t] * s[t]);
    const Matrix& s_prev = t == 0 ? q.s0 : s[t - 1];
    g.V += dot(xt::transpose(s[t]), delta_o[t]);
    g.c += xt::eval(xt::sum(delta_o[t], {0}, xt::keep_dims));
    g.W += dot(xt::transpose(s_prev), delta);
    g.U += dot(xt::transpose(q.x[t]), delta);
    g.b += xt::eval(xt::sum(delta, {0}, xt::keep_dims));
    delta_next = delta;
  }
  return g;
}

// ---- the same network as ops on the tape, one backward per chunk -----------------------------------

Weights tape_bptt(const Weights& w, const Sequence& q, std::size_t chunk) {
  Parameter U(w.U, "U"), W(w.W, "W"), b(w.b, "b"), V(w.V, "V"), c(w.c, "c");
  Tape tape;
  Matrix carried = q.s0;
  for (std::size_t start = 0; start < q.x.size(); start += chunk) {
    tape.clear();  // gradients accumulate across chunks in the parameters
    Var s = tape.constant(carried);  // the state enters the chunk as a value: truncation
    Var loss;
    for (std::size_t t = start; t < std::min(start + chunk, q.x.size()); ++t) {
      s = tanh(matmul(tape.constant(q.x[t]), tape.param(U)) + matmul(s, tape.param(W)) + tape.param(b));
      loss += softmax_cross_entropy(matmul(s, tape.param(V)) + tape.param(c), q.y[t], Reduction::sum);
    }
    tape.backward(loss);
    carried = s.value();
  }
  return {U.grad, W.grad, b.grad, V.grad, c.grad};
}

double relative_difference(const Matrix& tape_grad, const Matrix& hand_grad) {
  REQUIRE(tape_grad.shape() == hand_grad.shape());
  return xt::amax(xt::abs(tape_grad - hand_grad))() / xt::amax(xt::abs(hand_grad))();
}

}  // namespace

TEST_CASE("the tape's backpropagation through time equals the hand-derived BPTT", "[bptt]") {
  // T steps, then truncated BPTT: 20 steps in chunks of 5 and of 7 (a shorter last chunk).
  using Run = std::pair<std::size_t, std::size_t>;  // steps, chunk length
  const auto [steps, chunk] = GENERATE(Run{1, 1}, Run{5, 5}, Run{20, 20}, Run{20, 5}, Run{20, 7});
  const std::size_t batch = 4, inputs = 3, hidden = 6, classes = 5;
  const Weights w = random_weights(inputs, hidden, classes, 11 + steps);
  const Sequence q = random_sequence(steps, batch, inputs, hidden, classes, 23 + steps);
  const Weights hand = hand_bptt(w, q, chunk);
  const Weights tape = tape_bptt(w, q, chunk);
  INFO(steps << " steps in chunks of " << chunk);
  // The two differ only in the order of floating-point additions (the tape adds a shared weight's
  // shares as it meets them, the formulas sum over t): a few ulps of the largest element.
  constexpr double tolerance = 1e-12;
  INFO("U: " << relative_difference(tape.U, hand.U) << ", W: " << relative_difference(tape.W, hand.W));
  CHECK(relative_difference(tape.U, hand.U) < tolerance);
  CHECK(relative_difference(tape.W, hand.W) < tolerance);
  CHECK(relative_difference(tape.b, hand.b) < tolerance);
  CHECK(relative_difference(tape.V, hand.V) < tolerance);
  CHECK(relative_difference(tape.c, hand.c) < tolerance);
  if (chunk < steps) {
    // Truncation matters: the full BPTT gradient of W differs from the truncated one.
    CHECK(relative_difference(hand_bptt(w, q, steps).W, hand.W) > 1e-3);
  }
}
