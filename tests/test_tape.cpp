// How the tape behaves across passes, and every error the engine raises.
#include <cmath>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "test_support.hpp"

using namespace autograd;
using Catch::Matchers::Contains;
using test_support::error_of;

TEST_CASE("a training step records, differentiates, updates and clears", "[tape]") {
  Parameter w(Matrix{{1.0, -2.0}}, "w");
  Tape t;
  SECTION("gradients accumulate until zeroed") {
    for (int pass = 1; pass <= 2; ++pass) {
      t.clear();
      t.backward(l2_penalty(t.param(w)));  // d ½Σw² = w
      CHECK((w.grad == Matrix{{1.0 * pass, -2.0 * pass}}));
    }
    w.zero_grad();
    CHECK((w.grad == Matrix{{0.0, 0.0}}));
  }
  SECTION("clear keeps the parameters' values and the tape's slots") {
    t.backward(l2_penalty(scale(t.param(w), 3.0)));
    const std::size_t slots = t.capacity();
    CHECK(t.size() == 3);
    t.clear();
    CHECK(t.size() == 0);
    CHECK(t.capacity() == slots);
    CHECK((w.value == Matrix{{1.0, -2.0}}));
    t.backward(l2_penalty(scale(t.param(w), 3.0)));
    CHECK(t.capacity() == slots);
  }
  SECTION("intermediate values have gradients too") {
    const Var h = scale(t.param(w), 2.0);
    const Var unused = scale(t.param(w), 5.0);
    t.backward(l2_penalty(h));
    CHECK((h.grad() == Matrix{{2.0, -4.0}}));
    CHECK((unused.grad() == Matrix{{0.0, 0.0}}));  // the loss does not depend on it
  }
}

TEST_CASE("steady-state passes reuse the tape's buffers", "[tape]") {
  Parameter W(Matrix{{0.5, -0.5}, {0.25, 1.0}}), b(Matrix{{0.1, -0.1}});
  const Matrix X = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
  Tape t;
  std::vector<const double*> buffers;
  for (int pass = 0; pass < 3; ++pass) {
    t.clear();
    const Var loss = softmax_cross_entropy(tanh(matmul(t.constant(X), t.param(W)) + t.param(b)),
                                           {0, 1, 1}, Reduction::sum);
    t.backward(loss);
    if (pass == 0) {
      for (std::size_t i = 0; i < t.size(); ++i) buffers.push_back(t.at(i).value.data());
    } else {
      for (std::size_t i = 0; i < t.size(); ++i) CHECK(t.at(i).value.data() == buffers[i]);
    }
  }
}

TEST_CASE("two tapes in one program do not interfere", "[tape]") {
  Parameter a(Matrix{{2.0}}), b(Matrix{{3.0}});
  Tape t1, t2;
  const Var l1 = l2_penalty(t1.param(a));
  const Var l2 = l2_penalty(scale(t2.param(b), 2.0));
  t2.backward(l2);
  t1.backward(l1);
  CHECK(a.grad(0, 0) == 2.0);
  CHECK(b.grad(0, 0) == 12.0);  // d ½(2b)² = 4b
  CHECK(l1.value()(0, 0) == 2.0);
}

TEST_CASE("evaluation under NoGrad does not grow the tape", "[tape]") {
  Parameter w(Matrix{{1.0, 2.0}});
  Tape t;
  const Var kept = t.param(w);
  const std::size_t before = t.size();
  Var inside;
  {
    Tape::NoGrad no_grad(t);
    inside = tanh(scale(t.param(w), 2.0));
    CHECK(inside.value()(0, 1) == std::tanh(4.0));
    CHECK_FALSE(t.recording());
  }
  CHECK(t.size() == before);
  CHECK(t.recording());
  CHECK((kept.value() == w.value));
  CHECK_THAT(error_of([&] { (void)inside.value(); }), Contains("stale"));
}

TEST_CASE("cross-entropy is finite and right for logits of ±1000", "[tape]") {
  Parameter z(Matrix{{1000.0, -1000.0}, {-1000.0, 1000.0}});
  Tape t;
  const Var loss = softmax_cross_entropy(t.param(z), {1, 1}, Reduction::sum);
  t.backward(loss);
  // Row 0 puts all mass on the wrong class: loss 2000; row 1 on the right one: loss 0.
  CHECK(loss.value()(0, 0) == 2000.0);
  CHECK((z.grad == Matrix{{1.0, -1.0}, {0.0, 0.0}}));
  t.clear();
  z.zero_grad();
  const Var mean_loss = softmax_cross_entropy(t.param(z), {1, 1}, Reduction::mean);
  t.backward(mean_loss);
  CHECK(mean_loss.value()(0, 0) == 1000.0);
  CHECK((z.grad == Matrix{{0.5, -0.5}, {0.0, 0.0}}));
}

TEST_CASE("softmax rows are hand-computed probabilities", "[tape]") {
  // Hand-computed: softmax(0, ln 3) = (1/4, 3/4); softmax(5, 5) = (1/2, 1/2). This guards against
  // xtensor 0.24.3's wrong lazy keep_dims normalisation.
  Tape t;
  const Var p = softmax(t.constant(Matrix{{0.0, std::log(3.0)}, {5.0, 5.0}, {-1.0, -1.0}}));
  CHECK_THAT(p.value()(0, 0), Catch::Matchers::WithinAbs(0.25, 1e-15));
  CHECK_THAT(p.value()(0, 1), Catch::Matchers::WithinAbs(0.75, 1e-15));
  CHECK(p.value()(1, 0) == 0.5);
  CHECK(p.value()(2, 1) == 0.5);
}

TEST_CASE("shape mismatches name the op and both shapes", "[errors]") {
  Tape t;
  const Var a = t.constant(xt::zeros<double>({2, 3}));
  const Var b = t.constant(xt::zeros<double>({2, 2}));
  const auto is_invalid = [](auto f) { CHECK_THROWS_AS(f(), std::invalid_argument); };
  is_invalid([&] { matmul(a, b); });
  CHECK_THAT(error_of([&] { matmul(a, b); }), Contains("matmul") && Contains("[2 x 3] and [2 x 2]"));
  for (auto [name, op] : std::vector<std::pair<std::string, Var (*)(const Var&, const Var&)>>{
           {"add", add}, {"sub", sub}, {"mul", mul}}) {
    CHECK_THAT(error_of([&] { op(a, b); }), Contains(name + ": shapes do not broadcast: [2 x 3] and [2 x 2]"));
  }
  is_invalid([&] { add(a, b); });
  const std::size_t size = t.size();
  (void)error_of([&] { matmul(a, b); });
  CHECK(t.size() == size);  // a rejected op records nothing
}

TEST_CASE("cross-entropy rejects bad labels, naming the row and the label", "[errors]") {
  Tape t;
  const Var z = t.constant(xt::zeros<double>({3, 2}));
  CHECK_THROWS_AS(softmax_cross_entropy(z, {0, 2, 1}), std::invalid_argument);
  CHECK_THAT(error_of([&] { softmax_cross_entropy(z, {0, 2, 1}); }),
             Contains("softmax_cross_entropy: label 2 at row 1 is outside 0..1"));
  CHECK_THAT(error_of([&] { softmax_cross_entropy(z, {0, 1, -1}); }),
             Contains("label -1 at row 2"));
  CHECK_THAT(error_of([&] { softmax_cross_entropy(z, {0, 1}); }),
             Contains("2 labels for logits [3 x 2]"));
}

TEST_CASE("misusing backward is a logic error", "[errors]") {
  Parameter w(Matrix{{1.0, 2.0}});
  Tape t;
  SECTION("on a non-scalar") {
    const Var v = scale(t.param(w), 2.0);
    CHECK_THROWS_AS(t.backward(v), std::logic_error);
    CHECK_THAT(error_of([&] { t.backward(v); }), Contains("1 x 1") && Contains("[1 x 2]"));
  }
  SECTION("on a cleared tape") {
    const Var loss = l2_penalty(t.param(w));
    t.clear();
    CHECK_THROWS_AS(t.backward(loss), std::logic_error);
    CHECK_THAT(error_of([&] { t.backward(loss); }), Contains("stale"));
  }
  SECTION("twice on one pass") {
    const Var loss = l2_penalty(t.param(w));
    t.backward(loss);
    CHECK_THROWS_AS(t.backward(loss), std::logic_error);
    CHECK_THAT(error_of([&] { t.backward(loss); }), Contains("already differentiated"));
    CHECK((w.grad == w.value));  // the refused call added nothing
  }
  SECTION("on a loss of constants only") {
    const Var loss = l2_penalty(t.constant(Matrix{{1.0}}));
    CHECK_THROWS_AS(t.backward(loss), std::logic_error);
  }
}

TEST_CASE("handles of two tapes cannot be mixed", "[errors]") {
  Tape t1, t2;
  const Var a = t1.constant(Matrix{{1.0}});
  const Var b = t2.constant(Matrix{{1.0}});
  CHECK_THROWS_AS(add(a, b), std::invalid_argument);
  CHECK_THAT(error_of([&] { add(a, b); }), Contains("add: inputs belong to different tapes"));
  CHECK_THAT(error_of([&] { Var empty; (void)empty.value(); }), Contains("never given a value"));
}

TEST_CASE("anomaly mode names the first op that produced a NaN or infinity", "[errors]") {
  Parameter w(Matrix{{-1.0, 2.0}});
  Tape t;
  SECTION("off by default: the NaN flows through") {
    CHECK(std::isnan(sum(log(t.param(w))).value()(0, 0)));
  }
  SECTION("forward") {
    t.set_detect_anomaly(true);
    const Var s = scale(t.param(w), 1.0);
    CHECK_THROWS_AS(log(s), std::runtime_error);
    CHECK_THAT(error_of([&] { log(s); }), Contains("log at tape position 2"));
  }
  SECTION("backward") {
    // log(1e-320) ≈ −737 is finite, but its derivative 1/1e-320 overflows to infinity.
    Parameter z(Matrix{{1e-320, 1.0}});
    t.set_detect_anomaly(true);
    const Var loss = sum(log(t.param(z)));
    CHECK(std::isfinite(loss.value()(0, 0)));
    CHECK_THROWS_AS(t.backward(loss), std::runtime_error);
    t.clear();
    CHECK_THAT(error_of([&] { t.backward(sum(log(t.param(z)))); }),
               Contains("backward of log at tape position 1"));
  }
}

// Misuse that once reached freed or out-of-bounds memory: each is now refused with a message, or
// simply works.
TEST_CASE("clear() inside NoGrad leaves the cleared pass's handles stale", "[errors]") {
  Parameter W(xt::ones<double>({2, 3}));
  Tape t;
  const Var x = t.constant(xt::ones<double>({4, 2}));
  const Var loss = sum(matmul(x, t.param(W)));
  {
    Tape::NoGrad guard(t);
    t.clear();
    t.constant(xt::ones<double>({100, 100}));  // re-records slot 0 with another shape
  }
  CHECK_THAT(error_of([&] { t.backward(loss); }), Contains("stale"));
  CHECK(xt::all(xt::equal(W.grad, 0.0)));
  CHECK(t.size() == 0);  // the guard ends on the cleared tape, not on the pass before it
}

TEST_CASE("backward on a parameter itself", "[errors]") {
  Tape t;
  SECTION("a 1 x 1 parameter: d w / d w = 1") {
    Parameter w(Matrix{{3.0}});
    t.backward(t.param(w));
    CHECK(w.grad(0, 0) == 1.0);
  }
  SECTION("a 2 x 2 parameter in a reused slot is refused") {
    Parameter small(Matrix{{1.0}}), big(xt::ones<double>({2, 2}));
    t.backward(l2_penalty(t.param(small)));
    t.clear();
    const Var v = t.param(big);
    CHECK_THAT(error_of([&] { t.backward(v); }), Contains("1 x 1") && Contains("[2 x 2]"));
  }
}

TEST_CASE("a parameter reshaped between forward and backward is refused", "[errors]") {
  Parameter W(xt::ones<double>({2, 3}), "W");
  Tape t;
  const Var loss = sum(matmul(t.constant(xt::ones<double>({4, 2})), t.param(W)));
  W.value = xt::ones<double>({5, 5});
  CHECK_THAT(error_of([&] { t.backward(loss); }),
             Contains("parameter 'W'") && Contains("[2 x 3]") && Contains("[5 x 5]"));
}

TEST_CASE("a handle whose tape is gone says so", "[errors]") {
  Var orphan;
  {
    Tape t;
    orphan = t.constant(Matrix{{1.0}});
  }
  Tape other;  // may well reuse the destroyed tape's memory
  (void)other.constant(Matrix{{2.0}});
  CHECK_THAT(error_of([&] { (void)orphan.value(); }), Contains("tape was destroyed"));
  CHECK_THAT(error_of([&] { (void)add(orphan, orphan); }), Contains("tape was destroyed"));
}

TEST_CASE("an OpDef that goes out of scope leaves the op registry", "[errors]") {
  const std::size_t before = registered_ops().size();
  {
    const OpDef temporary{"temporary", nullptr};
    CHECK(registered_ops().size() == before + 1);
  }
  CHECK(registered_ops().size() == before);
  for (const OpDef* op : registered_ops()) CHECK(std::string(op->name) != "temporary");
}

TEST_CASE("parameters moved by a growing vector keep working", "[errors]") {
  std::vector<Parameter> params;
  params.emplace_back(Matrix{{1.0, -2.0}}, "a");
  Tape t;
  const Var loss = l2_penalty(t.param(params[0]));
  const Parameter* before = &params[0];
  for (int i = 0; i < 20; ++i) params.emplace_back(Matrix{{0.0}});  // reallocates: params[0] moves
  REQUIRE(&params[0] != before);
  t.backward(loss);
  CHECK((params[0].grad == Matrix{{1.0, -2.0}}));  // d ½Σa² = a, in the moved parameter

  SECTION("a destroyed parameter is named, not written") {
    t.clear();
    std::vector<Parameter> gone;
    gone.emplace_back(Matrix{{2.0}}, "gone");
    const Var l = l2_penalty(t.param(gone[0]));
    gone.clear();
    CHECK_THAT(error_of([&] { t.backward(l); }), Contains("parameter") && Contains("destroyed"));
  }
}

TEST_CASE("the sequence-model ops compute what numpy would", "[ops]") {
  Tape t;
  const Var a = t.constant(Matrix{{1.0, 5.0, 2.0}, {7.0, 3.0, 7.0}});
  CHECK((sum(a, 0).value() == Matrix{{8.0, 8.0, 9.0}}));
  CHECK((sum(a, 1).value() == Matrix{{8.0}, {17.0}}));
  CHECK((mean(a, 0).value() == Matrix{{4.0, 4.0, 4.5}}));
  CHECK((max(a, 1).value() == Matrix{{5.0}, {7.0}}));
  CHECK((transpose(a).value() == Matrix{{1.0, 7.0}, {5.0, 3.0}, {2.0, 7.0}}));
  CHECK((reshape(a, 3, 2).value() == Matrix{{1.0, 5.0}, {2.0, 7.0}, {3.0, 7.0}}));
  CHECK((slice(a, 1, 2, 1, 3).value() == Matrix{{3.0, 7.0}}));
  CHECK((concat({a, slice_rows(a, 0, 1)}, 0).value() ==
         Matrix{{1.0, 5.0, 2.0}, {7.0, 3.0, 7.0}, {1.0, 5.0, 2.0}}));
  CHECK((concat({slice_cols(a, 2, 3), a}, 1).value() ==
         Matrix{{2.0, 1.0, 5.0, 2.0}, {7.0, 7.0, 3.0, 7.0}}));
  CHECK((gather_rows(a, {1, 1, 0}).value() ==
         Matrix{{7.0, 3.0, 7.0}, {7.0, 3.0, 7.0}, {1.0, 5.0, 2.0}}));
  CHECK((argmax(a) == Labels{1, 0}));  // row 1 ties at 7: the first wins, as numpy.argmax
  CHECK(((2.0 - a / 2.0 + 1.0).value() == Matrix{{2.5, 0.5, 2.0}, {-0.5, 1.5, -0.5}}));
  CHECK(((6.0 / a) * 7.0).value()(0, 1) == 6.0 / 5.0 * 7.0);
  CHECK((sqrt(square(a)).value() == a.value()));
}

TEST_CASE("max sends a tie's whole gradient to the first of the equal values", "[ops]") {
  Parameter w(Matrix{{7.0, 3.0, 7.0}});
  Tape t;
  t.backward(sum(max(t.param(w), 1)));
  CHECK((w.grad == Matrix{{1.0, 0.0, 0.0}}));
}

TEST_CASE("log_softmax is finite for logits of ±1000", "[ops]") {
  Tape t;
  const Var l = log_softmax(t.constant(Matrix{{1000.0, -1000.0, 0.0}}));
  CHECK(l.value()(0, 0) == 0.0);
  CHECK(l.value()(0, 1) == -2000.0);  // log(softmax) would give log(0) = −inf here
  CHECK(l.value()(0, 2) == -1000.0);
}

TEST_CASE("a running sum starts from an empty Var", "[ops]") {
  Parameter w(Matrix{{1.0, 2.0}});
  Tape t;
  Var total;
  CHECK(total.empty());
  for (int step = 1; step <= 3; ++step) total += scale(sum(t.param(w)), step);
  CHECK(total.value()(0, 0) == 18.0);  // (1 + 2 + 3) · 3
  t.backward(total);
  CHECK((w.grad == Matrix{{6.0, 6.0}}));
  CHECK(sum(std::vector<Var>{total, total}).value()(0, 0) == 36.0);
  CHECK_THAT(error_of([] { sum(std::vector<Var>{}); }), Contains("sum: no terms"));
  CHECK_THAT(error_of([] { Var a, b; (void)(a + b).value(); }), Contains("never given a value"));
}

TEST_CASE("the sequence-model ops name themselves and the shapes in their errors", "[errors]") {
  Tape t;
  const Var a = t.constant(xt::zeros<double>({2, 3}));
  const Var b = t.constant(xt::zeros<double>({3, 2}));
  CHECK_THAT(error_of([&] { reshape(a, 4, 2); }), Contains("reshape: cannot view [2 x 3]"));
  CHECK_THAT(error_of([&] { slice(a, 0, 3, 0, 1); }),
             Contains("slice: rows [0, 3) and columns [0, 1) are not within [2 x 3]"));
  CHECK_THAT(error_of([&] { concat({a, b}, 0); }),
             Contains("concat: along axis 0 input 1 is [3 x 2], input 0 is [2 x 3]"));
  CHECK_THAT(error_of([&] { concat(std::vector<Var>{}, 0); }), Contains("concat: no inputs"));
  CHECK_THAT(error_of([&] { gather_rows(a, {0, 2}); }),
             Contains("gather_rows: id 2 at position 1 is not a row of [2 x 3]"));
  CHECK_THAT(error_of([&] { sum(a, 2); }), Contains("sum: axis must be 0") && Contains("got 2"));
  CHECK_THAT(error_of([&] { max(a, -1); }), Contains("max: axis"));
  CHECK_THAT(error_of([&] { div(a, b); }), Contains("div: shapes do not broadcast: [2 x 3] and [3 x 2]"));
  const std::size_t size = t.size();
  (void)error_of([&] { concat({a, b}, 1); });
  CHECK(t.size() == size);  // a rejected op records nothing
}

TEST_CASE("gradcheck of a model: its parameters and a closure that records the loss", "[gradcheck]") {
  Parameter W(Matrix{{0.5, -1.0}, {2.0, 0.25}}, "W"), b(Matrix{{0.1, -0.2}}, "b");
  const Matrix X = {{1.0, 2.0}, {-1.0, 0.5}, {0.3, -0.7}};
  const auto loss = [&](Tape& t) {
    return softmax_cross_entropy(tanh(matmul(t.constant(X), t.param(W)) + t.param(b)), {0, 1, 1});
  };
  const GradcheckResult r = gradcheck({&W, &b}, loss);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == 6);
  CHECK((W.value == Matrix{{0.5, -1.0}, {2.0, 0.25}}));  // left as they were
  CHECK(xt::all(xt::equal(W.grad, 0.0)));
  // A wrong model gradient is caught and named: relu's kink at exactly 0.
  Parameter z(Matrix{{0.0, 1.0}}, "z");
  const GradcheckResult bad = gradcheck({&z}, [&](Tape& t) { return sum(relu(t.param(z))); });
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.message, Contains("z [1 x 2]") && Contains("read by relu"));
}

// Found by tests/fuzz/fuzz_api.cpp.
TEST_CASE("reading a gradient before backward does not pull unrelated values into it", "[errors]") {
  Parameter p(Matrix{{1000.0}});
  Tape t;
  const Var v = t.param(p);
  const Var huge = exp(v);  // inf
  CHECK((huge.grad() == Matrix{{0.0}}));  // read before backward: zeros, as the loss will not reach it
  t.backward(l2_penalty(v));
  CHECK(p.grad(0, 0) == 1000.0);  // not NaN from 0 · inf through exp's rule
}

TEST_CASE("sigmoid is defined for infinite and NaN inputs", "[ops]") {
  Tape t;
  const Var s = sigmoid(t.constant(Matrix{{INFINITY, -INFINITY, NAN, 1e300, -1e300}}));
  CHECK(s.value()(0, 0) == 1.0);
  CHECK(s.value()(0, 1) == 0.0);
  CHECK(std::isnan(s.value()(0, 2)));
  CHECK(s.value()(0, 3) == 1.0);
  CHECK(s.value()(0, 4) == 0.0);
}

TEST_CASE("an op on a destroyed parameter's handle records nothing", "[errors]") {
  Tape t;
  Var v;
  {
    Parameter p(Matrix{{1.0}});
    v = t.param(p);
  }
  const std::size_t size = t.size();
  CHECK_THAT(error_of([&] { tanh(v); }), Contains("destroyed"));
  CHECK(t.size() == size);
}

// A Tape belongs to one thread: another thread's use is refused, never a data race.
TEST_CASE("a second thread recording on a tape is refused, naming the tape", "[errors][threads]") {
  Parameter w(Matrix{{1.0, 2.0}}, "w");
  Tape t;
  const Var x = t.param(w);  // this thread records first: the tape is its own
  std::string recording, differentiating, clearing;
  std::thread other([&] {
    recording = error_of([&] { (void)t.constant(Matrix{{1.0}}); });
    differentiating = error_of([&] { t.backward(l2_penalty(x)); });
    clearing = error_of([&] { t.clear(); });
  });
  other.join();
  for (const std::string* message : {&recording, &differentiating, &clearing}) {
    CHECK_THAT(*message, Contains("float64 tape") && Contains("another thread"));
  }
  CHECK(t.size() == 1);  // the other thread recorded nothing
  t.backward(l2_penalty(x));  // the owner goes on
  CHECK((w.grad == Matrix{{1.0, 2.0}}));

  SECTION("cleared by its owner, it may be handed to another thread") {
    t.clear();
    std::string handed = "(not run)";
    std::thread next([&] {
      handed = error_of([&] { t.backward(l2_penalty(t.param(w))); });
    });
    next.join();
    CHECK(handed == "(no error)");
    CHECK((w.grad == Matrix{{2.0, 4.0}}));
  }
  SECTION("two threads training on one tape at once: one is refused, neither crashes") {
    t.clear();
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < 2; ++k) {
      threads.emplace_back([&, k] {
        errors[k] = error_of([&] {
          for (int pass = 0; pass < 2000; ++pass) {
            t.clear();
            t.backward(l2_penalty(tanh(t.param(w))));
          }
        });
      });
    }
    for (std::thread& th : threads) th.join();
    // Each thread either finished its passes or was refused; not both can have finished while
    // the other was recording, and whichever stopped says why.
    const int refused = (errors[0] != "(no error)") + (errors[1] != "(no error)");
    CHECK(refused >= 1);
    for (const std::string& e : errors) {
      if (e != "(no error)") CHECK_THAT(e, Contains("another thread"));
    }
  }
}

TEST_CASE("a NoGrad that outlives its tape does nothing when it ends", "[errors]") {
  // Tapes made one after the other in the same storage: the guard of the first must not touch
  // the second, which lives where the first did.
  alignas(Tape) unsigned char storage[sizeof(Tape)];
  alignas(Tape::NoGrad) unsigned char guard_storage[sizeof(Tape::NoGrad)];
  Tape* first = new (storage) Tape;
  auto* guard = new (guard_storage) Tape::NoGrad(*first);  // marks position 0, recording off
  first->~Tape();
  Tape* second = new (storage) Tape;
  const Var a = second->constant(Matrix{{1.0}});
  const Var b = tanh(a);
  guard->~NoGrad();  // its tape is gone: it leaves the second tape alone
  CHECK(second->size() == 2);
  CHECK(second->recording());
  CHECK(b.value()(0, 0) == std::tanh(1.0));
  second->~Tape();
}

TEST_CASE("a NoGrad whose tape was freed ends without touching the freed memory", "[errors]") {
  // What AddressSanitizer sees: the guard ends after its tape's heap memory was returned.
  auto tape = std::make_unique<Tape>();
  std::optional<Tape::NoGrad> guard;
  guard.emplace(*tape);
  CHECK_FALSE(tape->recording());
  tape.reset();
  guard.reset();
  Tape next;  // the engine goes on as usual
  CHECK(next.recording());
}
