// The sequence layers of nn/sequence.hpp, as the words example uses them: model-level gradient
// checks of a GRU language model and of a transformer block, and the properties the equations
// promise (the GRU's update gate, the attention's causal mask).
#include <catch2/catch.hpp>

#include <cmath>
#include <type_traits>
#include <utility>

#include <xtensor/xview.hpp>

#include "autograd/autograd.hpp"
#include "nn/random.hpp"
#include "nn/sequence.hpp"

using namespace autograd;

namespace {

// Tolerance of the model-level checks: the defaults of GradcheckOptions, stated here because they
// are the claim. Everything is in double; with the central-difference step eps = 1e-6 the
// truncation error is O(eps²·f''') ≈ 1e-12 and the rounding error ≈ 1e-16·|f|/eps ≈ 1e-10 for
// losses of order 1, so an element passes when |analytic − numeric| <= 1e-8 + 1e-6·max(|a|, |n|):
// four orders of magnitude above both errors, and far below any real mistake in a backward rule
// (which is off by O(|gradient|)). The relu in the block's MLP has a kink at 0; with these seeds
// no pre-activation is within eps of it, so the loss is smooth where it is probed.
GradcheckOptions tolerance() {
  GradcheckOptions o;
  o.eps = 1e-6;
  o.rtol = 1e-6;
  o.atol = 1e-8;
  return o;
}

template <class... Ps>
std::vector<Parameter*> join(std::vector<Parameter*> a, Ps... more) {
  (a.insert(a.end(), more.begin(), more.end()), ...);
  return a;
}

}  // namespace

TEST_CASE("a GRU language model's gradients match finite differences", "[sequence][gradcheck]") {
  const std::size_t vocab = 5, B = 2, T = 3;
  nn::Embedding emb(vocab, 3, 1);
  nn::GRUCell cell(3, 4, 2);
  nn::Dense head(4, vocab, 3);
  // Non-zero biases, so that their gradients are not checked only at 0.
  cell.b.value = nn::Rng(4).randn(1, 12) * 0.5;
  const Matrix h0 = nn::Rng(5).randn(B, 4) * 0.5;  // a carried state, as in truncated BPTT
  const std::vector<Labels> inputs{{0, 3}, {1, 4}, {2, 2}}, targets{{1, 4}, {2, 2}, {0, 1}};
  const auto loss = [&](Tape& tape) {
    Var h = tape.constant(h0), total;
    for (std::size_t t = 0; t < T; ++t) {
      h = cell(tape, emb(tape, inputs[t]), h);
      total += softmax_cross_entropy(head(tape, h), targets[t]);
    }
    return total / static_cast<double>(T);
  };
  const auto params = join(emb.parameters(), cell.parameters(), std::vector<Parameter*>{&head.W, &head.b});
  const GradcheckResult r = gradcheck(params, loss, tolerance());
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == 5 * 3 + (3 * 12 + 4 * 8 + 4 * 4 + 12) + 4 * 5 + 5);
}

TEST_CASE("a vanilla RNN language model's gradients match finite differences", "[sequence][gradcheck]") {
  nn::Embedding emb(4, 2, 1);
  nn::RNNCell cell(2, 3, 2);
  nn::Dense head(3, 4, 3);
  const std::vector<Labels> inputs{{0, 1}, {2, 3}, {1, 1}}, targets{{2, 3}, {1, 1}, {0, 0}};
  const auto loss = [&](Tape& tape) {
    Var s = tape.constant(xt::zeros<double>({std::size_t{2}, std::size_t{3}})), total;
    for (std::size_t t = 0; t < inputs.size(); ++t) {
      s = cell(tape, emb(tape, inputs[t]), s);
      total += softmax_cross_entropy(head(tape, s), targets[t]);
    }
    return total / 3.0;
  };
  const GradcheckResult r = gradcheck(
      join(emb.parameters(), cell.parameters(), std::vector<Parameter*>{&head.W, &head.b}), loss, tolerance());
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("a transformer block language model's gradients match finite differences",
          "[sequence][gradcheck]") {
  // Two sequences of lengths 3 and 2 stacked as 5 rows, two heads of width 2.
  const std::size_t vocab = 5, width = 4;
  nn::Embedding tok(vocab, width, 1), pos(3, width, 2);
  nn::TransformerBlock block(width, 2, 3);
  nn::Dense head(width, vocab, 4);
  const Labels ids{0, 2, 4, 0, 1}, positions{0, 1, 2, 0, 1}, targets{2, 4, 0, 1, 0};
  const Matrix mask = nn::causal_mask({3, 2});
  const auto loss = [&](Tape& tape) {
    const Var x = tok(tape, ids) + pos(tape, positions);
    return softmax_cross_entropy(head(tape, block(tape, x, tape.constant(mask))), targets);
  };
  const auto params = join(tok.parameters(), pos.parameters(), block.parameters(),
                           std::vector<Parameter*>{&head.W, &head.b});
  const GradcheckResult r = gradcheck(params, loss, tolerance());
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("causal_mask is block-diagonal and causal", "[sequence]") {
  const Matrix m = nn::causal_mask({2, 1, 3});
  REQUIRE(m.shape(0) == 6);
  REQUIRE(m.shape(1) == 6);
  const int allowed[6][6] = {{1, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0},
                             {0, 0, 0, 1, 0, 0}, {0, 0, 0, 1, 1, 0}, {0, 0, 0, 1, 1, 1}};
  for (std::size_t i = 0; i < 6; ++i) {
    for (std::size_t j = 0; j < 6; ++j) CHECK(m(i, j) == (allowed[i][j] ? 0.0 : -1e9));
  }
}

TEST_CASE("attention sees only its own sequence's earlier rows", "[sequence]") {
  nn::Embedding tok(6, 8, 1), pos(4, 8, 2);
  nn::TransformerBlock block(8, 2, 3);
  const auto run = [&](const Labels& ids) {
    Tape tape;
    const Var x = tok(tape, ids) + pos(tape, Labels{0, 1, 2, 3, 0, 1, 2});
    return Matrix(block(tape, x, tape.constant(nn::causal_mask({4, 3}))).value());
  };
  const Matrix a = run({0, 1, 2, 3, 0, 4, 5});
  const Matrix b = run({0, 1, 5, 5, 0, 2, 2});  // changes row 2, 3 of the first and 5, 6 of the second
  for (std::size_t r : {0, 1, 4}) {
    for (std::size_t c = 0; c < 8; ++c) CHECK(a(r, c) == b(r, c));
  }
  CHECK(a(2, 0) != b(2, 0));
  CHECK(a(5, 0) != b(5, 0));
}

TEST_CASE("the GRU keeps its state where the update gate is 1 (Cho et al.'s convention)", "[sequence]") {
  nn::GRUCell cell(2, 3, 1);
  xt::view(cell.b.value, 0, xt::range(3, 6)) = 60.0;  // z = σ(60) = 1 to double precision
  Tape tape;
  const Matrix h = nn::Rng(2).randn(2, 3) * 0.5;
  const Var next = cell(tape, tape.constant(nn::Rng(3).randn(2, 2)), tape.constant(h));
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) CHECK(next.value()(i, j) == Approx(h(i, j)).margin(1e-20));
  }
}

TEST_CASE("the sequence layers in float32 compute what float64 does, to float32 rounding", "[sequence][float32]") {
  // The same seeds give the same weights up to rounding (drawn in float64); a forward and backward
  // pass of an embedding + transformer block + GRU step + head agrees to ~1e-6 relative.
  const auto run = [](auto zero) {
    using T = decltype(zero);
    nn::BasicEmbedding<T> tok(6, 8, 1), pos(4, 8, 2);
    nn::BasicTransformerBlock<T> block(8, 2, 3);
    nn::BasicGRUCell<T> gru(8, 5, 4);
    nn::BasicRNNCell<T> rnn(5, 5, 6);
    nn::BasicDense<T> head(5, 6, 5);
    BasicTape<T> tape;
    const BasicVar<T> x = tok(tape, Labels{0, 1, 2, 3, 0, 4, 5}) + pos(tape, Labels{0, 1, 2, 3, 0, 1, 2});
    const BasicVar<T> y = block(tape, x, tape.constant(nn::causal_mask<T>({4, 3})));
    const BasicVar<T> h0 = tape.constant(BasicMatrix<T>(xt::zeros<T>({std::size_t{7}, std::size_t{5}})));
    const BasicVar<T> h = rnn(tape, gru(tape, y, h0), h0);
    const BasicVar<T> loss = softmax_cross_entropy(head(tape, h), Labels{1, 2, 3, 4, 5, 0, 1});
    tape.backward(loss);
    return std::pair{static_cast<double>(loss.value()(0, 0)),
                     Matrix(xt::cast<double>(block.attention.Wq.grad))};
  };
  const auto [loss64, grad64] = run(0.0);
  const auto [loss32, grad32] = run(0.0f);
  CHECK(loss32 == Approx(loss64).epsilon(1e-5));
  CHECK(xt::amax(xt::abs(grad32 - grad64))() <= 1e-4 * xt::amax(xt::abs(grad64))());
  static_assert(std::is_same_v<nn::f32::GRUCell, nn::BasicGRUCell<float>>);
  static_assert(std::is_same_v<nn::GRUCell, nn::f64::GRUCell>);
}
