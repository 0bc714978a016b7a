// Steady-state training allocates nothing: after a warm-up step, 100 training steps of each
// benchmark workload (S, W, B) make no heap allocation. A deterministic count, not a timing.
//
// Every allocation of this test binary is counted: the global operator new/delete are replaced
// here, and the C allocation functions are wrapped at link time (--wrap, see tests/CMakeLists.txt),
// because with XTENSOR_USE_XSIMD xtensor's buffers come from posix_memalign, not operator new.
// Allocations inside shared libraries other than through operator new (OpenBLAS's own buffer pool)
// are not seen; the engine's own code and the xtensor code it instantiates all are.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>
#include <type_traits>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "nn/train.hpp"
#include "bench/workloads.hpp"

namespace {

std::atomic<std::size_t> allocation_count{0};

void count() { allocation_count.fetch_add(1, std::memory_order_relaxed); }

// Not inlined into the operators delete, where GCC would warn of free() on memory from new.
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }

}  // namespace

// --- C allocation functions, wrapped by the linker: a call to malloc in this program's own code
// arrives at __wrap_malloc, and __real_malloc is the C library's.
extern "C" {
void* __real_malloc(std::size_t size);
void* __real_calloc(std::size_t n, std::size_t size);
void* __real_realloc(void* p, std::size_t size);
int __real_posix_memalign(void** p, std::size_t alignment, std::size_t size);
void* __real_aligned_alloc(std::size_t alignment, std::size_t size);

void* __wrap_malloc(std::size_t size) {
  count();
  return __real_malloc(size);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
  count();
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, std::size_t size) {
  count();
  return __real_realloc(p, size);
}
int __wrap_posix_memalign(void** p, std::size_t alignment, std::size_t size) {
  count();
  return __real_posix_memalign(p, alignment, size);
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t size) {
  count();
  return __real_aligned_alloc(alignment, size);
}
}

// --- The global operator new and delete. The array and nothrow forms of the standard library call
// these, so replacing them sees every new expression.
void* operator new(std::size_t size) {
  count();
  if (void* p = __real_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  count();
  void* p = nullptr;
  const auto a = std::max(static_cast<std::size_t>(alignment), sizeof(void*));
  if (__real_posix_memalign(&p, a, size == 0 ? 1 : size) == 0) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new[](std::size_t size, std::align_val_t alignment) { return ::operator new(size, alignment); }
void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }

namespace {

// Where the self-check stores what it allocated, so the compiler cannot drop the allocation.
void* volatile sink = nullptr;

std::size_t allocations() { return allocation_count.load(std::memory_order_relaxed); }

// Allocations made while f runs.
template <class F>
std::size_t allocations_during(F&& f) {
  const std::size_t before = allocations();
  f();
  return allocations() - before;
}

}  // namespace

TEST_CASE("the allocation counter sees every kind of allocation", "[allocations]") {
  // If any of these were invisible, a zero count below would prove nothing.
  CHECK(allocations_during([] {
          int* p = new int(1);
          sink = p;
          delete p;
        }) == 1);
  CHECK(allocations_during([] {
          std::vector<double> v(10);
          sink = v.data();
        }) == 1);
  CHECK(allocations_during([] {
          void* p = std::malloc(16);
          sink = p;
          std::free(p);
        }) == 1);
  CHECK(allocations_during([] {
          autograd::Matrix m = autograd::Matrix::from_shape({3, 4});
          sink = m.data();
        }) == 1);
  CHECK(allocations_during([] {
          autograd::Parameter w(autograd::Matrix{{1.0, 2.0}});
          autograd::Tape t;
          t.backward(autograd::l2_penalty(t.param(w)));
        }) >= 1);
}

TEST_CASE("steady-state training steps allocate nothing", "[allocations]") {
  // B with 256 rows instead of 4096: the same layers and shapes of weights, a shorter test.
  const std::string which = GENERATE(as<std::string>{}, "S", "W", "B");
  const bench::Problem p = which == "S"   ? bench::blog_problem(AUTOGRAD_TEST_DATA, 3, 101)
                           : which == "W" ? bench::blog_problem(AUTOGRAD_TEST_DATA, 50, 101)
                                          : bench::blas_problem(256, 101);
  bench::EngineNet net(p.W0);
  autograd::Tape tape;

  const std::size_t warm_up = allocations_during([&] { net.train_step(tape, p.X, p.y, p.rate); });
  std::size_t steady = 0;
  double first_loss = 0.0, last_loss = 0.0;
  for (int step = 0; step < 100; ++step) {
    steady += allocations_during([&] {
      last_loss = net.train_step(tape, p.X, p.y, p.rate);
    });
    if (step == 0) first_loss = last_loss;
  }
  INFO(which << ": the warm-up step allocated " << warm_up << " times, the next 100 steps "
             << steady << " times");
  CHECK(warm_up > 0);  // the first step sizes the tape's buffers: the counter must see it
  CHECK(steady == 0);
  // The steps did train (a step that skipped its work would allocate nothing too).
  CHECK(last_loss < first_loss);
}

TEST_CASE("steady-state training steps allocate nothing at 2 engine threads", "[allocations][threads]") {
  // B with 256 rows: its 256 x 256 activations are above autograd::parallel_threshold, so the
  // elementwise ops, the reductions and the softmax cross-entropy go through the thread pool.
  // The pool's thread and the partial-sum buffers are made in the warm-up step.
  REQUIRE(std::size_t{256} * 256 > autograd::parallel_threshold);
  const int before = autograd::num_threads();
  autograd::set_num_threads(2);
  const bench::Problem p = bench::blas_problem(256, 101);
  const std::string dtype = GENERATE(as<std::string>{}, "float64", "float32");
  const auto steady_state = [&](auto& net, const auto& X) {
    typename std::decay_t<decltype(net)>::Tape tape;
    const std::size_t warm_up = allocations_during([&] { net.train_step(tape, X, p.y, p.rate); });
    std::size_t steady = 0;
    double first_loss = 0.0, last_loss = 0.0;
    for (int step = 0; step < 100; ++step) {
      steady += allocations_during([&] { last_loss = net.train_step(tape, X, p.y, p.rate); });
      if (step == 0) first_loss = last_loss;
    }
    INFO(dtype << ": the warm-up step allocated " << warm_up << " times, the next 100 steps "
               << steady << " times");
    CHECK(warm_up > 0);
    CHECK(steady == 0);
    CHECK(last_loss < first_loss);
  };
  if (dtype == "float32") {
    bench::EngineNet32 net(p.W0_32);
    steady_state(net, p.X32);
  } else {
    bench::EngineNet net(p.W0);
    steady_state(net, p.X);
  }
  autograd::set_num_threads(before);
}

TEST_CASE("nn::train allocates nothing per full-batch pass", "[allocations]") {
  // Set-up (optimizer, tape buffers) allocates; the passes after the first must not. Equal counts
  // for 10 and 110 passes mean none of the 100 extra passes allocated.
  const bench::Problem p = bench::blog_problem(AUTOGRAD_TEST_DATA, 3, 10);
  const nn::Dataset data{p.X, p.y, 2};
  nn::TrainOptions options;
  options.log_every = 0;
  // In both precisions: a float32 model converts X once, before the first pass, not per step.
  const std::string dtype = GENERATE(as<std::string>{}, "float64", "float32");
  const std::string optimizer = GENERATE(as<std::string>{}, "gd", "adam");
  options.optimizer = optimizer;
  const auto count = [&](std::size_t passes) {
    options.passes = passes;
    if (dtype == "float32") {
      nn::f32::MLP model({2, 3, 2}, nn::Activation::tanh, 1);
      return allocations_during([&] { nn::train(model, data, options); });
    }
    nn::MLP model({2, 3, 2}, nn::Activation::tanh, 1);
    return allocations_during([&] { nn::train(model, data, options); });
  };
  count(1);  // first use of the library sets up its one-time state (the kernel table, …)
  const std::size_t short_run = count(10), long_run = count(110);
  INFO(dtype << ", " << optimizer << ": 10 passes: " << short_run << " allocations, 110 passes: "
             << long_run);
  CHECK(short_run > 0);
  CHECK(long_run == short_run);
}

TEST_CASE("a recurrent step through time allocates nothing in steady state", "[allocations]") {
  // An Elman RNN over an embedding, 8 steps of BPTT, using the sequence ops: gather_rows, concat,
  // slice, a running loss from an empty Var, scalar arithmetic, sum along an axis, log_softmax.
  using namespace autograd;
  nn::Rng rng(5);
  const std::size_t vocab = 11, embed = 4, hidden = 6, batch = 5, steps = 8;
  Parameter E(rng.randn(vocab, embed)), Wx(rng.randn(embed + hidden, hidden) * 0.3),
      b(Matrix::from_shape({1, hidden})), V(rng.randn(hidden, vocab) * 0.3);
  b.value.fill(0.0);
  std::vector<Labels> ids(steps + 1, Labels(batch));
  for (auto& row : ids) {
    for (int& id : row) id = static_cast<int>(rng.below(vocab));
  }
  const Matrix h0 = xt::zeros<double>({batch, hidden});
  Tape tape;
  const auto step = [&] {
    tape.clear();
    for (Parameter* p : {&E, &Wx, &b, &V}) p->zero_grad();
    Var h = tape.constant(h0);
    Var loss;
    for (std::size_t t = 0; t < steps; ++t) {
      const Var x = gather_rows(tape.param(E), ids[t]);
      h = tanh(matmul(concat({x, h}, 1), tape.param(Wx)) + tape.param(b));
      const Var logits = matmul(slice_cols(h, 0, hidden), tape.param(V));
      loss += softmax_cross_entropy(logits, ids[t + 1]) * 0.5 - 0.0 * sum(sum(log_softmax(logits), 1));
    }
    tape.backward(loss / static_cast<double>(steps));
    for (Parameter* p : {&E, &Wx, &b, &V}) xt::noalias(p->value) -= 0.1 * p->grad;
    return loss.value()(0, 0);
  };
  const std::size_t warm_up = allocations_during([&] { step(); });
  double first = 0.0, last = 0.0;
  std::size_t steady = 0;
  for (int k = 0; k < 50; ++k) {
    steady += allocations_during([&] { last = step(); });
    if (k == 0) first = last;
  }
  INFO("the warm-up step allocated " << warm_up << " times, the next 50 steps " << steady << " times");
  CHECK(warm_up > 0);
  CHECK(steady == 0);
  CHECK(last < first);  // it trained
}

TEST_CASE("the shape ops of any rank allocate nothing in steady state", "[allocations]") {
  using namespace autograd;
  nn::Rng rng(7);
  Parameter W(rng.randn(6, 4)), E(rng.randn(5, 3));
  // The arguments are built once: a braced list at the call would build a std::vector each time.
  const std::vector<std::int64_t> to_3d{2, 3, -1};
  const std::vector<int> order{2, 0, 1};
  const Shape wide{2, 2, 3, 4}, ids_shape{2, 3};
  const Labels pick{2, 0, 2}, words{4, 0, 4, 1, 2, 3};
  Tape tape;
  const auto pass = [&] {
    tape.clear();
    W.zero_grad();
    E.zero_grad();
    const Var x = reshape(tape.param(W), to_3d);                // [2, 3, 4]
    const Var p = permute(x, order);                             // [4, 2, 3]
    const Var s = slice(transpose(x, 0, -1), 1, 1, 3);          // [4, 2, 2]
    const Var j = concat({p, squeeze(unsqueeze(p, 1), 1)}, -1);  // [4, 2, 6]
    const Var st = stack({s, s, s}, 0);                          // [3, 4, 2, 2]
    const Var b = broadcast_to(x, wide);                         // [2, 2, 3, 4]
    const Var i = index_select(x, 1, pick);                      // [2, 3, 4]
    const Var e = embedding(tape.param(E), words, ids_shape);    // [2, 3, 3]
    const Var loss = sum(j * j) + sum(st * st) + sum(b * b) + sum(i * i) + sum(e * e) +
                     sum(narrow(p, 0, 1, 2));
    tape.backward(loss);
    return loss.value()(0, 0);
  };
  const std::size_t warm_up = allocations_during([&] { pass(); });
  std::size_t steady = 0;
  for (int k = 0; k < 20; ++k) steady += allocations_during([&] { pass(); });
  INFO("the warm-up pass allocated " << warm_up << " times, the next 20 passes " << steady << " times");
  CHECK(warm_up > 0);
  CHECK(steady == 0);
}

TEST_CASE("masked attention over [B, T, d] allocates nothing in steady state", "[allocations]") {
  // The products, masks and losses of any rank: [B, T, d] · [d, d] (one product on the storage),
  // batched [B, T, d] · [B, d, T] and [B, T, T] · [B, T, d], a causal masked_fill, softmax along
  // the last dim and another, the cross-entropy with ignore_index, mean and none.
  using namespace autograd;
  nn::Rng rng(6);
  const std::size_t B = 2, T = 5, d = 4, classes = 3;
  Parameter Wq(rng.randn(d, d) * 0.3), Wv(rng.randn(d, d) * 0.3), K(rng.randn(d, T) * 0.3),
      Wo(rng.randn(d, classes) * 0.3);
  Tensor x = Tensor::from_shape({B, T, d}), kc = Tensor::from_shape({B, d, T});
  for (double& v : x) v = 2.0 * rng.uniform() - 1.0;
  for (double& v : kc) v = 0.5 + rng.uniform();
  Tensor causal = Tensor::from_shape({T, T});
  for (std::size_t i = 0; i < T; ++i) {
    for (std::size_t j = 0; j < T; ++j) causal(i, j) = j > i ? 1.0 : 0.0;
  }
  Labels y(B * T);
  for (std::size_t p = 0; p < y.size(); ++p) y[p] = p % 4 == 3 ? -100 : static_cast<int>(p % classes);
  const double minus_inf = -std::numeric_limits<double>::infinity();
  Tape tape;
  const auto step = [&] {
    tape.clear();
    for (Parameter* p : {&Wq, &Wv, &K, &Wo}) p->zero_grad();
    const Var X = tape.tensor(x);
    const Var q = matmul(X, tape.param(Wq));                       // [B, T, d]
    const Var kt = mul(tape.tensor(kc), tape.param(K));            // [B, d, T]
    const Var scores = masked_fill(matmul(q, kt), tape.tensor(causal), minus_inf);  // [B, T, T]
    const Var att = softmax(scores, -1) + 0.0 * softmax(scores, 1) + 0.0 * sum(log_softmax(q, 0));
    const Var logits = matmul(matmul(att, matmul(X, tape.param(Wv))), tape.param(Wo));  // [B, T, C]
    const Var loss = softmax_cross_entropy(logits, y, Reduction::mean, -100) +
                     0.0 * sum(softmax_cross_entropy(logits, y, Reduction::none, -100));
    tape.backward(loss);
    for (Parameter* p : {&Wq, &Wv, &K, &Wo}) xt::noalias(p->value) -= 0.1 * p->grad;
    return loss.value()(0, 0);
  };
  const std::size_t warm_up = allocations_during([&] { step(); });
  double first = 0.0, last = 0.0;
  std::size_t steady = 0;
  for (int k = 0; k < 50; ++k) {
    steady += allocations_during([&] { last = step(); });
    if (k == 0) first = last;
  }
  INFO("the warm-up step allocated " << warm_up << " times, the next 50 steps " << steady << " times");
  CHECK(warm_up > 0);
  CHECK(steady == 0);
  CHECK(last < first);  // it trained
}
