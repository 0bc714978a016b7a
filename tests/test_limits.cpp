// Sizes too large to hold: every shape the library makes from sizes it is given is refused with a
// std::invalid_argument naming the op and the shape when its element count overflows, when its
// bytes exceed what one allocation can ask for, or when the allocation fails. Each of these once
// made a matrix whose shape did not match its storage (and a heap overflow or a null store after).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "nn/layers.hpp"
#include "nn/random.hpp"
#include "nn/sequence.hpp"

using namespace autograd;
using Catch::Matchers::Contains;

// Under AddressSanitizer an allocation too large to make returns null, as malloc does (and the
// library then refuses it by name), instead of ending the process. Read only by ASan.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

namespace {

constexpr std::size_t two_to(int k) { return std::size_t{1} << k; }

// The message of the std::invalid_argument f throws; any other outcome (no exception, or another
// type) gives a text that no check below matches.
template <class F>
std::string refusal_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not std::invalid_argument: ") + e.what() + ")";
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("checked_size multiplies sizes and refuses products that overflow or cannot be held",
          "[limits]") {
  CHECK(checked_size<double>("op", 3, 4) == 12);
  CHECK(checked_size<double>("op", two_to(40), 0) == 0);
  CHECK(checked_size<float>("op", two_to(30), two_to(30)) == two_to(60));
  // 2^62 + 2 rows of 2 wrap to 4 elements in 64 bits.
  CHECK_THAT(refusal_of([] { checked_size<double>("reshape", two_to(63) + 2, 2); }),
             Contains("reshape") && Contains("[9223372036854775810 x 2]"));
  // 2^61 elements do not overflow, but their 2^64 bytes do.
  CHECK_THAT(refusal_of([] { checked_size<double>("op", two_to(31), two_to(30)); }),
             Contains("op") && Contains("[2147483648 x 1073741824]") && Contains("float64"));
}

TEST_CASE("ops refuse result shapes that cannot be held, naming themselves", "[limits]") {
  Tape t;
  SECTION("reshape of [2 x 2] to [2^63 + 2 x 2], 4 elements modulo 2^64") {
    const Var a = t.constant(Matrix{{1.0, 2.0}, {3.0, 4.0}});
    CHECK_THAT(refusal_of([&] { (void)reshape(a, two_to(63) + 2, 2); }),
               Contains("reshape") && Contains("[9223372036854775810 x 2]"));
    CHECK(t.size() == 1);  // refused before anything was recorded
  }
  SECTION("matmul of empty [2^33 x 0] and [0 x 2^33]: 2^66 result elements") {
    const Var a = reshape(t.constant(Matrix::from_shape({0, 0})), two_to(33), 0);
    const Var b = reshape(t.constant(Matrix::from_shape({0, 0})), 0, two_to(33));
    CHECK_THAT(refusal_of([&] { (void)matmul(a, b); }),
               Contains("matmul") && Contains("[8589934592 x 8589934592]"));
  }
  SECTION("a row sum of an empty [2^62 x 0]: a [2^62 x 1] result of 2^65 bytes") {
    const Var a = reshape(t.constant(Matrix::from_shape({0, 0})), two_to(62), 0);
    CHECK_THAT(refusal_of([&] { (void)sum(a, 1); }),
               Contains("sum") && Contains("[4611686018427387904 x 1]"));
  }
}

TEST_CASE("ops on an empty matrix of 2^62 rows finish without visiting its rows", "[limits]") {
  // Every one of these looped over the rows of its empty result (2^62 of them: forever).
  Tape t;
  const Var a = reshape(t.constant(Matrix::from_shape({0, 0})), two_to(62), 0);
  CHECK(add(a, t.constant(Matrix::from_shape({1, 0}))).rows() == two_to(62));
  CHECK(slice_rows(a, 1, two_to(61)).rows() == two_to(61) - 1);
  CHECK(concat({a, a}, 0).rows() == two_to(63));
  CHECK(sum(a, 0).cols() == 0);
  CHECK_THAT(refusal_of([&] { (void)concat({a, a, a, a}, 0); }), Contains("concat"));  // 2^64 rows
}

TEST_CASE("layers refuse sizes whose weights cannot be held, naming the layer", "[limits]") {
  SECTION("Embedding of 2^62 + 1 rows of 4 (4 elements modulo 2^64)") {
    CHECK_THAT(refusal_of([] { nn::Embedding((two_to(62)) + 1, 4, 1); }),
               Contains("Embedding") && Contains("[4611686018427387905 x 4]"));
    CHECK_THAT(refusal_of([] { nn::f32::Embedding(two_to(62) + 1, 4, 1); }), Contains("Embedding"));
  }
  SECTION("Dense") {
    CHECK_THAT(refusal_of([] { nn::Dense(two_to(62) + 1, 4, 1); }),
               Contains("Dense") && Contains("[4611686018427387905 x 4]"));
    CHECK_THAT(refusal_of([] { nn::f32::Dense(4, two_to(63) + 1, 1); }), Contains("Dense"));
  }
  SECTION("the recurrent cells, attention and the transformer block") {
    CHECK_THAT(refusal_of([] { nn::RNNCell(4, two_to(32), 1); }), Contains("RNNCell"));
    // 3 · hidden itself overflows: the GRU's stacked weights [in x 3H]
    CHECK_THAT(refusal_of([] { nn::GRUCell(4, two_to(62) + 1, 1); }), Contains("GRUCell"));
    CHECK_THAT(refusal_of([] { nn::SelfAttention(two_to(32), 1, 1); }), Contains("SelfAttention"));
    CHECK_THAT(refusal_of([] { nn::TransformerBlock(two_to(62), 1, 1); }), Contains("TransformerBlock"));
  }
  SECTION("a size that fits but whose allocation fails (2^52 float64: 32 PiB)") {
    CHECK_THAT(refusal_of([] { nn::Dense(two_to(26), two_to(26), 1); }),
               Contains("Dense") && Contains("cannot be allocated"));
  }
}

TEST_CASE("Rng::randn refuses a shape that cannot be held", "[limits]") {
  nn::Rng rng(1);
  CHECK_THAT(refusal_of([&] { (void)rng.randn(two_to(62) + 1, 4); }),
             Contains("randn") && Contains("[4611686018427387905 x 4]"));
  CHECK(rng.randn(2, 3).shape(1) == 3);
}

TEST_CASE("causal_mask refuses sequences whose mask cannot be held", "[limits]") {
  SECTION("2^32 rows: 2^64 mask elements, 0 modulo 2^64") {
    CHECK_THAT(refusal_of([] { (void)nn::causal_mask({two_to(32)}); }),
               Contains("causal_mask") && Contains("[4294967296 x 4294967296]"));
  }
  SECTION("lengths whose sum overflows") {
    CHECK_THAT(refusal_of([] { (void)nn::causal_mask({two_to(63), two_to(63)}); }),
               Contains("causal_mask"));
  }
  SECTION("2^26 rows fit in the count but cannot be allocated (32 PiB)") {
    CHECK_THAT(refusal_of([] { (void)nn::causal_mask<float>({two_to(26)}); }),
               Contains("causal_mask") && Contains("cannot be allocated"));
  }
}

TEST_CASE("predict and probabilities refuse data of the wrong width before allocating", "[limits]") {
  nn::MLP model({2, 3, 2}, nn::Activation::tanh, 1);
  const Matrix X = Matrix::from_shape({two_to(62), 0});  // no elements, 2^62 rows
  CHECK_THAT(refusal_of([&] { (void)model.probabilities(X); }),
             Contains("probabilities") && Contains("0 features") && Contains("2 inputs"));
  CHECK_THAT(refusal_of([&] { (void)model.predict(Matrix::from_shape({3, 5})); }),
             Contains("predict") && Contains("5 features"));
}
