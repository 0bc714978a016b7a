// The engine's threads: every threaded op gives bit-identical values and gradients at 1 and at
// 2 threads, for arrays below and above autograd::parallel_threshold (where the work is split
// into blocks), in both precisions; the pool runs every block exactly once; the thread count
// follows set_num_threads. These tests also run under ThreadSanitizer in CI (.ci/run).
#include <atomic>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "autograd/parallel.hpp"
#include "nn/random.hpp"

using namespace autograd;

namespace {

// Restores the thread count a test found.
struct ThreadCount {
  int before = num_threads();
  ~ThreadCount() { set_num_threads(before); }
};

template <class T>
BasicMatrix<T> randn(nn::Rng& rng, std::size_t rows, std::size_t cols) {
  return xt::cast<T>(rng.randn(rows, cols));
}

// Every value and gradient of one pass through the threaded ops, as raw bytes.
template <class T>
struct Pass {
  std::vector<BasicMatrix<T>> values, grads;
};

// One pass over [rows x cols] inputs through every op that splits its work, with inputs that
// broadcast as a row, a column and a 1 x 1, and a loss that uses every result.
template <class T>
Pass<T> run_pass(std::size_t rows, std::size_t cols) {
  nn::Rng rng(7);
  BasicParameter<T> A(randn<T>(rng, rows, cols)), B(randn<T>(rng, rows, cols));
  BasicParameter<T> bias(randn<T>(rng, 1, cols)), column(randn<T>(rng, rows, 1)), one(randn<T>(rng, 1, 1));
  Labels labels(rows);
  for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<int>((r * 7) % cols);

  BasicTape<T> tape;
  auto a = tape.param(A), b = tape.param(B);
  std::vector<BasicVar<T>> vs;
  vs.push_back(a + tape.param(bias));           // row broadcast
  vs.push_back(a + tape.param(column));         // column broadcast
  vs.push_back(a + tape.param(one));            // 1 x 1 broadcast
  vs.push_back(a - b);
  vs.push_back(a * b);
  vs.push_back(a * tape.param(bias));
  vs.push_back(a / (exp(b) + 1.0));
  vs.push_back(b / (exp(tape.param(bias)) + 1.0));  // a broadcast divisor
  vs.push_back(scale(a, 0.37));
  vs.push_back(tanh(vs[0]));
  vs.push_back(sigmoid(vs[1]));
  vs.push_back(relu(vs[2]));
  vs.push_back(exp(scale(b, 0.5)));
  vs.push_back(log(sigmoid(a)));
  vs.push_back(sqrt(exp(b)));
  vs.push_back(softmax(a));
  vs.push_back(log_softmax(b));
  vs.push_back(sum(vs[9], 0));    // of tanh
  vs.push_back(sum(vs[10], 1));   // of sigmoid
  vs.push_back(mean(vs[4], 0));
  vs.push_back(mean(vs[5], 1));
  BasicVar<T> loss = softmax_cross_entropy(vs[3], labels, Reduction::sum) +
                     softmax_cross_entropy(vs[6], labels, Reduction::mean) + l2_penalty(a);
  for (const auto& v : vs) loss = loss + mean(v) + sum(scale(v, 0.01));
  vs.push_back(loss);
  tape.backward(loss);

  Pass<T> p;
  for (const auto& v : vs) {
    p.values.push_back(v.value());
    p.grads.push_back(v.grad());
  }
  for (BasicParameter<T>* q : {&A, &B, &bias, &column, &one}) p.grads.push_back(q->grad);
  return p;
}

template <class T>
bool same_bits(const BasicMatrix<T>& x, const BasicMatrix<T>& y) {
  return x.shape() == y.shape() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

template <class T>
void check_identical(std::size_t rows, std::size_t cols) {
  ThreadCount restore;
  set_num_threads(1);
  const Pass<T> one = run_pass<T>(rows, cols);
  set_num_threads(2);
  const Pass<T> two = run_pass<T>(rows, cols);
  REQUIRE(one.values.size() == two.values.size());
  for (std::size_t k = 0; k < one.values.size(); ++k) {
    INFO("value " << k << " of " << rows << " x " << cols);
    CHECK(same_bits(one.values[k], two.values[k]));
  }
  REQUIRE(one.grads.size() == two.grads.size());
  for (std::size_t k = 0; k < one.grads.size(); ++k) {
    INFO("gradient " << k << " of " << rows << " x " << cols);
    CHECK(same_bits(one.grads[k], two.grads[k]));
  }
  // The loss is finite: the pass computed something.
  CHECK(std::isfinite(static_cast<double>(one.values.back()(0, 0))));
}

}  // namespace

TEST_CASE("threaded ops give bit-identical values and gradients at 1 and 2 threads", "[threads]") {
  // Below the threshold (one block), just above it, and well above it with a row count that
  // leaves a short last block; a wide case where one row is more than a block.
  REQUIRE(std::size_t{20} * 30 < parallel_threshold);
  REQUIRE(std::size_t{700} * 97 > 4 * parallel_threshold);
  REQUIRE(std::size_t{3} * 20000 > parallel_threshold);
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{20, 30}, {150, 110}, {700, 97}, {3, 20000}}) {
    check_identical<double>(rows, cols);
    check_identical<float>(rows, cols);
  }
}

TEST_CASE("the blocked reductions agree with xtensor's sums", "[threads]") {
  // Above the threshold the sums are made of block partials, in another order than xtensor's
  // left-to-right sum: equal to within rounding, 1e-12 relative for sums of ~68000 terms of size
  // ~1 (a few hundred ulp of the total; the float32 engine is not checked here).
  ThreadCount restore;
  set_num_threads(2);
  nn::Rng rng(3);
  Parameter A(rng.randn(700, 97)), bias(xt::zeros<double>({1, 97}));
  Tape tape;
  Var a = tape.param(A) + tape.param(bias);
  Var s0 = sum(a, 0), s1 = sum(a, 1), all = sum(a), l2 = l2_penalty(a);
  tape.backward(sum(s0));  // the bias gradient: the column sums of a gradient of ones = 700 each
  const Matrix ref0 = xt::sum(A.value, {0}, xt::keep_dims | xt::evaluation_strategy::immediate);
  const Matrix ref1 = xt::sum(A.value, {1}, xt::keep_dims | xt::evaluation_strategy::immediate);
  for (std::size_t c = 0; c < 97; ++c) CHECK(s0.value()(0, c) == Approx(ref0(0, c)).epsilon(1e-12));
  for (std::size_t r = 0; r < 700; ++r) CHECK(s1.value()(r, 0) == Approx(ref1(r, 0)).epsilon(1e-12));
  const double total = xt::sum(A.value)();
  CHECK(all.value()(0, 0) == Approx(total).epsilon(1e-12));
  CHECK(l2.value()(0, 0) == Approx(0.5 * xt::sum(A.value * A.value)()).epsilon(1e-12));
  for (std::size_t c = 0; c < 97; ++c) CHECK(bias.grad(0, c) == 700.0);
}

TEST_CASE("the pool runs every block exactly once, nested dispatches included", "[threads]") {
  ThreadCount restore;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::size_t blocks : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> runs(blocks);
      std::atomic<int> inner{0};
      detail::for_blocks(blocks, [&](std::size_t b) {
        runs[b].fetch_add(1);
        detail::for_blocks(3, [&](std::size_t) { inner.fetch_add(1); });  // runs on this thread
      });
      for (std::size_t b = 0; b < blocks; ++b) {
        INFO(threads << " threads, block " << b << " of " << blocks);
        CHECK(runs[b].load() == 1);
      }
      CHECK(inner.load() == static_cast<int>(3 * blocks));
    }
  }
}

TEST_CASE("set_num_threads sets the engine's count and rejects counts below 1", "[threads]") {
  ThreadCount restore;
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(1);
  CHECK(num_threads() == 1);
  CHECK_THROWS_WITH(set_num_threads(0), Catch::Contains("at least 1, got 0"));
  CHECK(num_threads() == 1);
}

TEST_CASE("set_num_threads caps the count at max_threads", "[threads]") {
  ThreadCount restore;
  set_num_threads(10000);
  CHECK(num_threads() == max_threads);
  set_num_threads(max_threads + 1);
  CHECK(num_threads() == max_threads);
  set_num_threads(max_threads);
  CHECK(num_threads() == max_threads);

  set_num_threads(10000);
  const auto process_threads = [] {
    const std::filesystem::directory_iterator tasks("/proc/self/task"), end;
    return static_cast<std::size_t>(std::distance(tasks, end));
  };
  if (std::filesystem::exists("/proc/self/task")) {  // Linux: count the threads the pool starts
    const std::size_t before = process_threads();
    std::atomic<std::size_t> runs{0};
    detail::for_blocks(2110, [&](std::size_t) { runs.fetch_add(1); });  // a tanh over 2110 blocks
    CHECK(runs.load() == 2110);
    CHECK(process_threads() - before <= static_cast<std::size_t>(max_threads) - 1);
  }
  // More blocks than threads: the values are those of one thread, bit for bit.
  nn::Rng rng(3);
  const Matrix x = rng.randn(300, parallel_threshold);  // 300 blocks
  Tape t;
  const Matrix many = tanh(t.constant(x)).value();
  set_num_threads(1);
  const Matrix one = tanh(t.constant(x)).value();
  CHECK(std::memcmp(many.data(), one.data(), one.size() * sizeof(double)) == 0);
}
