// Sequences of API calls on the engine itself: records of parameters and constants, ops, clear(),
// NoGrad scopes, backward, parameters reshaped, moved, copied and destroyed, tapes destroyed while
// their handles are kept. The input is a small program (see fuzz_api_program.hpp).
//
// The harness keeps its own model of every handle it holds: the recipe that made it (op, operands,
// attributes), whether it must still be live, and the value it must hold. From that model it
// predicts the outcome of each call before making it:
//   - a call the model calls valid must succeed; one it calls invalid (a dead handle, a shape
//     mismatch, a second backward, a parameter reshaped or destroyed since it was recorded) must be
//     refused with std::invalid_argument / std::logic_error / std::runtime_error and a message, and
//     a dead handle with std::logic_error; a refused backward must leave every gradient untouched;
//   - a live handle must hold exactly (bit for bit) the value its recipe gives when recomputed with
//     the same ops on a scratch tape; a dead one must refuse to give a value;
//   - after a backward whose loss is smooth and whose parameters are unchanged since they were
//     read, each parameter's gradient (zeroed before) must match central differences of the recipe,
//     and the gradient of every parameter the loss does not read must be left as it was.
// Anything else (a crash, a sanitizer report, another exception type, a disagreement) is a finding.
// Replaying an input with FUZZ_API_TRACE=1 prints the calls as they are made.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.hpp"
#include "fuzz_api_program.hpp"
#include "fuzz_support.hpp"

namespace {

namespace ag = autograd;
using ag::Matrix;
using ag::Parameter;
using ag::Tape;
using ag::Var;
using fuzz_api::Instruction;
using fuzz_api::OpCode;
using Shape = std::array<std::size_t, 2>;

// Bounds that keep one input well under a millisecond or so, sanitizers included.
constexpr std::size_t max_instructions = 256;
constexpr std::size_t max_held = 160;
constexpr std::size_t max_params = 5;
constexpr std::size_t max_guards = 6;
constexpr int tape_count = 2;
// Recipe ops evaluated for central differences per input; a loss whose check would exceed what is
// left is not checked (its calls are still made and their outcomes still checked).
constexpr std::size_t difference_budget = 6000;

// The reference gradient: central differences with step h = 1e-6 (the actual step, x+h − (x−h),
// is used as the divisor, so the rounding of x ± h costs nothing). A loss is only compared when
// every value of its recipe is finite with magnitude at most `max_magnitude`, each relu input is at
// least 1e-2 from 0 and each log input at least 0.1: then the truncation error, h²/6·|f'''|, is
// below 1e-9, and what remains is the rounding error of evaluating f, about (ops)·2⁻⁵³·S with S
// the largest magnitude in the recipe, amplified by 1/(2h) = 5e5: for 160 ops and S = 100, about
// 1e-6 at worst, usually far less. The tolerance, atol·(1 + S) + rtol·|gradient| with atol = 1e-7
// and rtol = 1e-5, is more than 1000 times the largest disagreement seen over 100000 inputs of
// correct rules, and far below what a wrong rule gives (an error the size of the gradient).
constexpr double difference_step = 1e-6;
constexpr double max_magnitude = 100.0;
constexpr double atol = 1e-7;
constexpr double rtol = 1e-5;

bool tracing() {
  static const bool on = std::getenv("FUZZ_API_TRACE") != nullptr;
  return on;
}

void trace(const std::string& line) {
  if (tracing()) std::fprintf(stderr, "  %s\n", line.c_str());
}

[[noreturn]] void finding(const std::string& what) {
  fuzz::finding(what + (tracing() ? "" : " (replay with FUZZ_API_TRACE=1 to see the calls)"));
}

class Program {
 public:
  Program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  std::uint8_t next() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::size_t dim() { return fuzz_api::decode_dim(next()); }
  double value() { return fuzz_api::decode_value(next()); }
  Matrix matrix(std::size_t rows, std::size_t cols) {
    Matrix m = Matrix::from_shape({rows, cols});
    for (double& x : m) x = value();
    return m;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

const char* op_name(OpCode op) {
  static const char* const names[] = {"add",     "sub",     "mul",  "scale", "tanh",
                                      "sigmoid", "relu",    "exp",  "log",   "softmax",
                                      "matmul",  "sum",     "mean", "l2_penalty",
                                      "softmax_cross_entropy"};
  return names[static_cast<int>(op)];
}

std::string str(Shape s) { return "[" + std::to_string(s[0]) + " x " + std::to_string(s[1]) + "]"; }
Shape shape_of(const Matrix& m) { return {m.shape(0), m.shape(1)}; }

// How one value held by the harness was made.
struct Recipe {
  enum class Kind { param, constant, op } kind = Kind::op;
  OpCode op = OpCode::add;
  std::size_t a = 0, b = 0;  // operands: indices into the held values
  double factor = 0.0;       // scale
  ag::Labels labels;         // cross_entropy
  bool mean = false;         // cross_entropy's reduction
  std::size_t param = 0;     // param: the parameter's identity
};

Var apply(const Recipe& r, const Var& a, const Var& b) {
  switch (r.op) {
    case OpCode::add: return ag::add(a, b);
    case OpCode::sub: return ag::sub(a, b);
    case OpCode::mul: return ag::mul(a, b);
    case OpCode::scale: return ag::scale(a, r.factor);
    case OpCode::tanh: return ag::tanh(a);
    case OpCode::sigmoid: return ag::sigmoid(a);
    case OpCode::relu: return ag::relu(a);
    case OpCode::exp: return ag::exp(a);
    case OpCode::log: return ag::log(a);
    case OpCode::softmax: return ag::softmax(a);
    case OpCode::matmul: return ag::matmul(a, b);
    case OpCode::sum: return ag::sum(a);
    case OpCode::mean: return ag::mean(a);
    case OpCode::l2_penalty: return ag::l2_penalty(a);
    case OpCode::cross_entropy:
      return ag::softmax_cross_entropy(a, r.labels, r.mean ? ag::Reduction::mean : ag::Reduction::sum);
    case OpCode::count: break;
  }
  std::abort();
}

// The shape of an op's result for operands of shapes a and b, or the reason the engine must refuse.
bool result_shape(const Recipe& r, Shape a, Shape b, Shape& out, std::string& why) {
  switch (r.op) {
    case OpCode::add:
    case OpCode::sub:
    case OpCode::mul:
      for (int d = 0; d < 2; ++d) {
        if (a[d] != b[d] && a[d] != 1 && b[d] != 1) {
          why = "shapes " + str(a) + " and " + str(b) + " do not broadcast";
          return false;
        }
        out[d] = a[d] == 1 ? b[d] : a[d];
      }
      return true;
    case OpCode::matmul:
      if (a[1] != b[0]) {
        why = "inner dimensions of " + str(a) + " and " + str(b) + " differ";
        return false;
      }
      out = {a[0], b[1]};
      return true;
    case OpCode::softmax:
      if (a[1] == 0) {
        why = "softmax of " + str(a) + ", which has no columns";
        return false;
      }
      out = a;
      return true;
    case OpCode::mean:
      if (a[0] * a[1] == 0) {
        why = "mean of the empty " + str(a);
        return false;
      }
      out = {1, 1};
      return true;
    case OpCode::sum:
    case OpCode::l2_penalty:
      out = {1, 1};
      return true;
    case OpCode::cross_entropy:
      if (r.labels.size() != a[0] || a[0] == 0 || a[1] == 0) {
        why = std::to_string(r.labels.size()) + " labels for logits " + str(a);
        return false;
      }
      for (int label : r.labels) {
        if (label < 0 || static_cast<std::size_t>(label) >= a[1]) {
          why = "label " + std::to_string(label) + " for logits " + str(a);
          return false;
        }
      }
      out = {1, 1};
      return true;
    default:
      out = a;
      return true;
  }
}

bool same(double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); }

// Equal shapes and equal elements (NaN equal to NaN): the same ops in the same order on the same
// numbers give the same bits.
bool identical(const Matrix& x, const Matrix& y) {
  if (x.shape(0) != y.shape(0) || x.shape(1) != y.shape(1)) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!same(x.data()[i], y.data()[i])) return false;
  }
  return true;
}

bool all_zero(const Matrix& m) {
  return std::all_of(m.begin(), m.end(), [](double x) { return x == 0.0; });
}

// What the model says a call must do: succeed, or be refused (`dead`: because of a handle that is
// dead, so with std::logic_error). `why` explains a refusal in findings.
struct Expect {
  bool accept = true;
  bool dead = false;
  std::string why;
  static Expect ok() { return {}; }
  static Expect refuse(std::string reason, bool dead_handle = false) {
    return {false, dead_handle, std::move(reason)};
  }
};

// Makes one call, and checks that its outcome is the one expected. Returns whether it succeeded.
template <class Call>
bool attempt(const std::string& what, const Expect& expect, Call&& call) {
  const auto refused = [&](const std::exception& e, bool logic) {
    trace("    refused: " + std::string(e.what()));
    if (std::string(e.what()).empty()) finding(what + " was refused with an empty message");
    if (expect.accept) finding(what + " was refused, but it is valid: " + e.what());
    if (expect.dead && !logic) {
      finding(what + " on a dead handle was refused with a type other than std::logic_error: " +
              e.what());
    }
    return false;
  };
  try {
    call();
  } catch (const std::logic_error& e) {  // std::invalid_argument among them
    return refused(e, true);
  } catch (const std::runtime_error& e) {
    return refused(e, false);
  } catch (const std::exception& e) {
    finding(what + " threw an exception of an unexpected type: " + e.what());
  } catch (...) {
    finding(what + " threw something that is not a std::exception");
  }
  if (!expect.accept) finding(what + " was accepted, but the engine must refuse it: " + expect.why);
  return true;
}

// One value the harness holds, with what it knows about it.
struct Held {
  Recipe r;
  Var v;
  int tape = 0;
  std::uint64_t epoch = 0;  // the tape's incarnation (new_tape destroys and remakes it)
  std::uint64_t seq = 0;    // recording order, across tapes
  bool live = true;         // not cleared, rolled back or destroyed since it was recorded
  bool differentiable = false;  // recorded outside NoGrad and reads a parameter: requires grad
  Matrix ref;               // constants and ops: the value the engine must hold
  Shape recorded{};         // parameters: the shape when recorded
  // (identity, version) of each parameter whose value went into this one; consistent is false
  // when one parameter went in at two versions (changed between two of the ops that read it).
  std::vector<std::pair<std::size_t, std::uint64_t>> reads;
  bool consistent = true;
};

struct ParamInfo {
  bool alive = true;
  std::size_t slot = 0;        // where in the vector it lives now
  std::uint64_t version = 0;   // bumped whenever its value is assigned
  bool grad_clean = true;      // its grad is all zeros (zeroed and not differentiated since)
};

class Harness {
 public:
  explicit Harness(Program& in) : in_(in) {
    // Three parameters of shapes that chain ([2x3]·[3x2], a bias row for [.x3]), values from the
    // first byte: a fixed set that every program starts from.
    std::uint32_t state = in_.next() * 2654435761u + 1;
    const Shape shapes[] = {{2, 3}, {3, 2}, {1, 3}};
    for (const Shape& s : shapes) {
      Matrix m = Matrix::from_shape({s[0], s[1]});
      for (double& x : m) {
        state = state * 1664525u + 1013904223u;
        x = fuzz_api::decode_value(static_cast<std::uint8_t>(state >> 24));
      }
      add_param(Parameter(m));
    }
    for (auto& t : tapes_) t = std::make_unique<Tape>();
  }

  void run() {
    for (std::size_t n = 0; n < max_instructions && !in_.done(); ++n) step();
    check_all();
    while (!guards_.empty()) close_guard();
    check_all();
  }

 private:
  // ---------------------------------------------------------------------------------------------
  // The model.

  Parameter& param_of(std::size_t id) { return params_[info_[id].slot]; }
  bool param_dead(const Held& h) const {
    return h.r.kind == Recipe::Kind::param && !info_[h.r.param].alive;
  }
  bool dead(const Held& h) const { return !h.live || param_dead(h); }
  // The value the engine must give for a live handle: a parameter's is wherever it lives now.
  const Matrix& expected(const Held& h) {
    return h.r.kind == Recipe::Kind::param ? param_of(h.r.param).value : h.ref;
  }
  std::string name(std::size_t i) const {
    const Held& h = held_[i];
    std::string s = "value " + std::to_string(i) + " (";
    s += h.r.kind == Recipe::Kind::param      ? "parameter p" + std::to_string(h.r.param)
         : h.r.kind == Recipe::Kind::constant ? std::string("constant")
                                              : std::string(op_name(h.r.op));
    return s + " on tape " + std::to_string(h.tape) + ")";
  }
  std::string dead_reason(const Held& h) const {
    if (h.epoch != epoch_[h.tape]) return "its tape was destroyed";
    if (!h.live) return "its tape was cleared or rolled back";
    return "its parameter was destroyed";
  }

  void add_param(Parameter p) {
    const std::size_t id = info_.size();
    p.name = "p" + std::to_string(id);
    params_.push_back(std::move(p));  // usually reallocates: the others move
    params_.shrink_to_fit();          // so that the next push moves them again
    id_at_.push_back(id);
    ParamInfo info;
    info.slot = params_.size() - 1;
    info.grad_clean = all_zero(params_.back().grad);
    info_.push_back(info);
  }

  std::size_t pick() {
    const std::uint8_t b = in_.next();
    return held_.size() - 1 - b % held_.size();
  }
  std::size_t slot() { return in_.next() % params_.size(); }
  int tape() { return in_.next() % tape_count; }

  void kill_tape_values(int t) {
    for (Held& h : held_) {
      if (h.tape == t) h.live = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Instructions.

  void step() {
    switch (fuzz_api::decode_instruction(in_.next())) {
      case Instruction::record_param: return record_param();
      case Instruction::record_constant: return record_constant();
      case Instruction::op: return op();
      case Instruction::backward: return backward();
      case Instruction::clear: return clear();
      case Instruction::nograd_open: return open_guard();
      case Instruction::nograd_close:
        if (!guards_.empty()) close_guard();
        return;
      case Instruction::set_value: return set_value();
      case Instruction::reshape: return reshape();
      case Instruction::grow: return grow();
      case Instruction::drop: return drop();
      case Instruction::swap: return swap();
      case Instruction::copy_assign: return copy_assign();
      case Instruction::zero_grad: return zero_grad();
      case Instruction::new_tape: return new_tape();
      case Instruction::read_grad: return read_grad();
      case Instruction::check: return check_all();
    }
  }

  Held& hold(Held h) {
    h.epoch = epoch_[h.tape];
    h.seq = ++seq_;
    held_.push_back(std::move(h));
    return held_.back();
  }

  void record_param() {
    const int t = tape();
    const std::size_t s = slot();
    if (held_.size() >= max_held) return;
    const std::size_t id = id_at_[s];
    Parameter& p = params_[s];
    trace("v" + std::to_string(held_.size()) + " = tape" + std::to_string(t) + ".param(p" +
          std::to_string(id) + " " + ag::shape_str(p.value) + ")");
    const bool regrad = p.grad.shape() != p.value.shape();
    Var v;
    attempt("param", Expect::ok(), [&] { v = tapes_[t]->param(p); });
    if (regrad) {  // the grad no longer fits the value: param() must make it fit
      if (p.grad.shape() != p.value.shape() || !all_zero(p.grad)) {
        finding("param: p" + std::to_string(id) + "'s grad " + ag::shape_str(p.grad) +
                " did not fit its value " + ag::shape_str(p.value) + " and was not zeroed to fit");
      }
      info_[id].grad_clean = true;
    }
    Held h;
    h.r.kind = Recipe::Kind::param;
    h.r.param = id;
    h.v = v;
    h.tape = t;
    h.differentiable = nograd_[t] == 0;
    h.recorded = shape_of(p.value);
    h.reads = {{id, info_[id].version}};
    check_held(hold(std::move(h)));
  }

  void record_constant() {
    const int t = tape();
    const std::size_t rows = in_.dim(), cols = in_.dim();
    const Matrix m = in_.matrix(rows, cols);
    if (held_.size() >= max_held) return;
    trace("v" + std::to_string(held_.size()) + " = tape" + std::to_string(t) + ".constant(" +
          ag::shape_str(m) + ")");
    Var v;
    attempt("constant", Expect::ok(), [&] { v = tapes_[t]->constant(m); });
    Held h;
    h.r.kind = Recipe::Kind::constant;
    h.v = v;
    h.tape = t;
    h.ref = m;
    check_held(hold(std::move(h)));
  }

  void op() {
    Recipe r;
    r.op = fuzz_api::decode_op(in_.next());
    if (held_.empty()) return;
    r.a = pick();
    r.b = fuzz_api::is_binary(r.op) ? pick() : r.a;
    if (r.op == OpCode::scale) r.factor = fuzz_api::decode_factor(in_.next());
    const Held& A = held_[r.a];
    const Held& B = held_[r.b];
    if (r.op == OpCode::cross_entropy) {
      const std::uint8_t spec = in_.next();
      r.mean = (spec & 1) != 0;
      const std::size_t rows = dead(A) ? 1 : expected(A).shape(0);
      const std::size_t cols = dead(A) ? 1 : expected(A).shape(1);
      std::size_t count = rows;
      if (spec >= 0xF0) count = (spec & 2) ? rows + 1 : (rows > 0 ? rows - 1 : 0);
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t b = in_.next();
        r.labels.push_back(b >= 0xF0   ? ((b & 1) ? -1 : static_cast<int>(cols))
                           : cols == 0 ? 0
                                       : static_cast<int>(b % cols));
      }
    }
    if (held_.size() >= max_held) return;
    std::string what = std::string(op_name(r.op)) + "(" + name(r.a);
    if (fuzz_api::is_binary(r.op)) what += ", " + name(r.b);
    what += ")";
    trace("v" + std::to_string(held_.size()) + " = " + what +
          (r.op == OpCode::scale ? " factor " + std::to_string(r.factor) : ""));

    Expect expect;
    Shape out{};
    if (dead(A) || dead(B)) {
      expect = Expect::refuse("an operand is dead: " + dead_reason(dead(A) ? A : B), true);
    } else if (A.tape != B.tape) {
      expect = Expect::refuse("the operands are on different tapes");
    } else {
      std::string why;
      if (!result_shape(r, shape_of(expected(A)), shape_of(expected(B)), out, why)) {
        expect = Expect::refuse(why);
      }
    }
    Var v;
    if (!attempt(what, expect, [&] { v = apply(r, A.v, B.v); })) {
      check_held(r.a);  // a refusal leaves the operands as they were
      check_held(r.b);
      return;
    }

    Held h;
    h.r = r;
    h.v = v;
    h.tape = A.tape;
    h.differentiable = (A.differentiable || B.differentiable) && nograd_[A.tape] == 0;
    // A parameter operand is read as it is now; an op operand as it was when it was computed.
    for (const Held* in : {&A, &B}) {
      if (in->r.kind == Recipe::Kind::param) {
        note_read(h, in->r.param, info_[in->r.param].version);
        if (!in->consistent || info_[in->r.param].version != in->reads[0].second) h.consistent = false;
      } else {
        for (const auto& [id, version] : in->reads) note_read(h, id, version);
        h.consistent = h.consistent && in->consistent;
      }
    }
    h.ref = recompute(r);
    if (shape_of(h.ref) != out) {
      finding(what + ": the reference gives " + ag::shape_str(h.ref) + ", the model " + str(out));
    }
    check_held(hold(std::move(h)));
  }

  static void note_read(Held& h, std::size_t id, std::uint64_t version) {
    for (const auto& [i, v] : h.reads) {
      if (i != id) continue;
      if (v != version) h.consistent = false;
      return;
    }
    h.reads.emplace_back(id, version);
  }

  // The op applied on the scratch tape to the values its operands hold now.
  Matrix recompute(const Recipe& r) {
    try {
      scratch_.clear();
      const Var a = scratch_.constant(expected(held_[r.a]));
      const Var b = scratch_.constant(expected(held_[r.b]));
      return apply(r, a, b).value();
    } catch (const std::exception& e) {
      finding(std::string("the reference ") + op_name(r.op) + " failed on the scratch tape: " + e.what());
    }
  }

  void backward() {
    if (held_.empty()) return;
    const std::size_t e = pick();
    const Held& L = held_[e];
    const int t = in_.next() >= 0xE0 ? 1 - L.tape : L.tape;
    const std::string what = "tape" + std::to_string(t) + ".backward(" + name(e) + ")";
    trace(what);

    Expect expect = backward_expectation(L, t);
    std::vector<Matrix> before;
    std::vector<bool> clean;
    for (const Parameter& p : params_) before.push_back(p.grad);
    for (const ParamInfo& info : info_) clean.push_back(info.grad_clean);

    if (!attempt(what, expect, [&] { tapes_[t]->backward(L.v); })) {
      for (std::size_t s = 0; s < params_.size(); ++s) {
        if (!identical(params_[s].grad, before[s])) {
          finding(what + " was refused but changed p" + std::to_string(id_at_[s]) + "'s gradient");
        }
      }
      check_held(e);
      return;
    }
    differentiated_[t] = true;
    check_gradients(L, what, before, clean);
    for (const auto& [id, version] : L.reads) info_[id].grad_clean = false;
    for (std::size_t i = 0; i < held_.size(); ++i) {
      if (held_[i].tape == t) check_held(i);  // backward changes no value
    }
  }

  // After a backward of L: the parameters it does not read keep their gradients; those it reads
  // have, if they were zero before and L is a smooth function of them as they are now, the
  // gradient that central differences of L's recipe give.
  void check_gradients(const Held& L, const std::string& what, const std::vector<Matrix>& before,
                       const std::vector<bool>& clean) {
    const auto reads = [&](std::size_t id) {
      return std::any_of(L.reads.begin(), L.reads.end(), [&](const auto& r) { return r.first == id; });
    };
    for (std::size_t s = 0; s < params_.size(); ++s) {
      if (!reads(id_at_[s]) && !identical(params_[s].grad, before[s])) {
        finding(what + " changed the gradient of p" + std::to_string(id_at_[s]) +
                ", which the loss does not read");
      }
    }
    bool checkable = L.consistent;
    for (const auto& [id, version] : L.reads) {
      checkable = checkable && info_[id].alive && info_[id].version == version && clean[id];
    }
    if (checkable) check_gradient(static_cast<std::size_t>(&L - held_.data()), what);
  }

  Expect backward_expectation(const Held& L, int t) {
    if (dead(L)) return Expect::refuse("the loss is dead: " + dead_reason(L), true);
    if (L.tape != t) return Expect::refuse("the loss is on the other tape");
    const Shape s = shape_of(expected(L));
    if (s != Shape{1, 1}) return Expect::refuse("the loss is " + str(s) + ", not 1 x 1");
    if (differentiated_[t]) return Expect::refuse("this pass was already differentiated");
    if (!L.differentiable) return Expect::refuse("the loss requires no gradient");
    // backward checks every parameter recorded up to the loss, read by it or not.
    for (const Held& h : held_) {
      if (h.tape != t || !h.live || h.r.kind != Recipe::Kind::param || h.seq > L.seq) continue;
      const std::string p = "p" + std::to_string(h.r.param);
      if (!info_[h.r.param].alive) return Expect::refuse(p + " was destroyed after it was recorded");
      const Parameter& q = param_of(h.r.param);
      if (shape_of(q.value) != h.recorded || shape_of(q.grad) != h.recorded) {
        return Expect::refuse(p + " was " + str(h.recorded) + " when recorded and is now " +
                              ag::shape_str(q.value) + " (grad " + ag::shape_str(q.grad) + ")");
      }
    }
    return Expect::ok();
  }

  // ---------------------------------------------------------------------------------------------
  // The reference gradient.

  struct Inspection {
    bool smooth = true;
    double magnitude = 0.0;
  };

  // The loss recipe e evaluated on the scratch tape with the parameters at `values` (by identity):
  // the same engine ops as the recorded pass, on constants, so no gradient is involved.
  double evaluate(std::size_t e, const std::vector<Matrix>& values, Inspection* inspect) {
    scratch_.clear();
    std::vector<Var> memo(held_.size());
    std::vector<char> done(held_.size(), 0);
    const Var loss = evaluate_node(e, values, memo, done, inspect);
    return loss.value()(0, 0);
  }

  Var evaluate_node(std::size_t i, const std::vector<Matrix>& values, std::vector<Var>& memo,
                    std::vector<char>& done, Inspection* inspect) {
    if (done[i]) return memo[i];
    const Recipe& r = held_[i].r;
    Var v;
    if (r.kind == Recipe::Kind::param) {
      v = scratch_.constant(values[r.param]);
    } else if (r.kind == Recipe::Kind::constant) {
      v = scratch_.constant(held_[i].ref);
    } else {
      const Var a = evaluate_node(r.a, values, memo, done, inspect);
      const Var b = evaluate_node(r.b, values, memo, done, inspect);
      if (inspect != nullptr) {
        for (double x : a.value()) {
          if ((r.op == OpCode::relu && std::abs(x) < 1e-2) || (r.op == OpCode::log && !(x >= 0.1))) {
            inspect->smooth = false;
          }
        }
      }
      v = apply(r, a, b);
    }
    if (inspect != nullptr) {
      for (double x : v.value()) {
        if (!(std::abs(x) <= max_magnitude)) inspect->smooth = false;
        inspect->magnitude = std::max(inspect->magnitude, std::abs(x));
      }
    }
    memo[i] = v;
    done[i] = 1;
    return v;
  }

  std::size_t recipe_size(std::size_t e) const {
    std::vector<char> seen(held_.size(), 0);
    std::vector<std::size_t> todo{e};
    std::size_t n = 0;
    while (!todo.empty()) {
      const std::size_t i = todo.back();
      todo.pop_back();
      if (seen[i]) continue;
      seen[i] = 1;
      ++n;
      if (held_[i].r.kind == Recipe::Kind::op) {
        todo.push_back(held_[i].r.a);
        todo.push_back(held_[i].r.b);
      }
    }
    return n;
  }

  void check_gradient(std::size_t e, const std::string& what) {
    const Held& L = held_[e];
    std::size_t elements = 0;
    for (const auto& [id, version] : L.reads) elements += param_of(id).value.size();
    const std::size_t cost = recipe_size(e) * (2 * elements + 1);
    if (cost > budget_) return;
    budget_ -= cost;

    std::vector<Matrix> values(info_.size());
    for (const auto& [id, version] : L.reads) values[id] = param_of(id).value;
    Inspection inspect;
    double f = 0.0;
    try {
      f = evaluate(e, values, &inspect);
    } catch (const std::exception& ex) {
      finding(what + ": the reference recipe failed: " + ex.what());
    }
    if (!inspect.smooth) return;
    if (!identical(Matrix{{f}}, expected(L))) {
      finding(what + ": the recipe recomputed gives " + std::to_string(f) + ", the loss holds " +
              std::to_string(expected(L)(0, 0)));
    }
    for (const auto& [id, version] : L.reads) {
      const Matrix& grad = param_of(id).grad;
      Matrix& x = values[id];
      for (std::size_t k = 0; k < x.size(); ++k) {
        const double x0 = x.data()[k];
        const double up = x0 + difference_step, down = x0 - difference_step;
        x.data()[k] = up;
        const double f_up = evaluate(e, values, nullptr);
        x.data()[k] = down;
        const double f_down = evaluate(e, values, nullptr);
        x.data()[k] = x0;
        const double numeric = (f_up - f_down) / (up - down);
        const double analytic = grad.data()[k];
        const double tolerance = atol * (1.0 + inspect.magnitude) + rtol * std::abs(numeric);
        if (!(std::abs(analytic - numeric) <= tolerance)) {
          finding(what + ": d loss / d p" + std::to_string(id) + "[" + std::to_string(k / x.shape(1)) +
                  ", " + std::to_string(k % x.shape(1)) + "] is " + std::to_string(analytic) +
                  " by backward but " + std::to_string(numeric) +
                  " by central differences (tolerance " + std::to_string(tolerance) + ")");
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Tapes and scopes.

  void clear() {
    const int t = tape();
    trace("tape" + std::to_string(t) + ".clear()");
    attempt("clear", Expect::ok(), [&] { tapes_[t]->clear(); });
    kill_tape_values(t);
    differentiated_[t] = false;
    ++clears_[t];
  }

  void open_guard() {
    const int t = tape();
    if (guards_.size() >= max_guards) return;
    trace("NoGrad on tape" + std::to_string(t) + " {");
    Guard g{nullptr, t, seq_, clears_[t]};
    attempt("NoGrad", Expect::ok(), [&] { g.guard = std::make_unique<Tape::NoGrad>(*tapes_[t]); });
    guards_.push_back(std::move(g));
    ++nograd_[t];
    if (tapes_[t]->recording()) finding("the tape records gradients inside a NoGrad scope");
  }

  // Closes the innermost scope: the tape rolls back to where it was when the scope opened, or to
  // nothing if it was cleared inside.
  void close_guard() {
    Guard g = std::move(guards_.back());
    guards_.pop_back();
    trace("} NoGrad on tape" + std::to_string(g.tape));
    g.guard.reset();
    --nograd_[g.tape];
    for (Held& h : held_) {
      if (h.tape == g.tape && (clears_[g.tape] != g.clears || h.seq > g.seq)) h.live = false;
    }
    if (tapes_[g.tape]->recording() != (nograd_[g.tape] == 0)) {
      finding("after a NoGrad scope closed, the tape's recording() is " +
              std::to_string(tapes_[g.tape]->recording()) + " with " +
              std::to_string(nograd_[g.tape]) + " scopes still open");
    }
  }

  void new_tape() {
    const int t = tape();
    trace("tape" + std::to_string(t) + " destroyed and made again");
    // A scope must not outlive its tape: close, innermost first, every scope down to the last
    // one on this tape.
    while (std::any_of(guards_.begin(), guards_.end(), [&](const Guard& g) { return g.tape == t; })) {
      close_guard();
    }
    tapes_[t].reset();  // first, so that the new tape may get the same anchor cell
    tapes_[t] = std::make_unique<Tape>();
    ++epoch_[t];
    kill_tape_values(t);
    differentiated_[t] = false;
  }

  // ---------------------------------------------------------------------------------------------
  // Parameters.

  void set_value() {
    const std::size_t s = slot();
    Parameter& p = params_[s];
    Matrix m = in_.matrix(p.value.shape(0), p.value.shape(1));
    trace("p" + std::to_string(id_at_[s]) + ".value = new values");
    p.value = std::move(m);
    ++info_[id_at_[s]].version;
  }

  void reshape() {
    const std::size_t s = slot();
    const std::size_t rows = in_.dim(), cols = in_.dim();
    Matrix m = in_.matrix(rows, cols);
    trace("p" + std::to_string(id_at_[s]) + ".value = " + ag::shape_str(m));
    params_[s].value = std::move(m);
    ++info_[id_at_[s]].version;
  }

  void grow() {
    const std::uint8_t mode = in_.next();
    if (mode < 128) {
      const std::size_t rows = in_.dim(), cols = in_.dim();
      Matrix m = in_.matrix(rows, cols);
      if (params_.size() >= max_params) return;
      trace("params.push_back(p" + std::to_string(info_.size()) + " " + ag::shape_str(m) + ")");
      add_param(Parameter(std::move(m)));
    } else {
      const std::size_t s = slot();
      if (params_.size() >= max_params) return;
      trace("params.push_back(copy of p" + std::to_string(id_at_[s]) + ") as p" +
            std::to_string(info_.size()));
      add_param(params_[s]);  // a copy is a new parameter
    }
  }

  void drop() {
    if (params_.size() <= 1) return;
    trace("params.pop_back(): p" + std::to_string(id_at_.back()) + " destroyed");
    info_[id_at_.back()].alive = false;
    params_.pop_back();
    id_at_.pop_back();
    params_.shrink_to_fit();
  }

  void swap() {
    const std::size_t i = slot(), j = slot();
    trace("std::swap(p" + std::to_string(id_at_[i]) + ", p" + std::to_string(id_at_[j]) + ")");
    std::swap(params_[i], params_[j]);
    std::swap(id_at_[i], id_at_[j]);
    info_[id_at_[i]].slot = i;
    info_[id_at_[j]].slot = j;
  }

  void copy_assign() {
    const std::size_t i = slot(), j = slot();
    trace("p" + std::to_string(id_at_[i]) + " = p" + std::to_string(id_at_[j]));
    const std::string keep = params_[i].name;
    params_[i] = params_[j];  // values and grad copied; i stays the parameter it was
    params_[i].name = keep;
    ++info_[id_at_[i]].version;
    info_[id_at_[i]].grad_clean = info_[id_at_[j]].grad_clean;
  }

  void zero_grad() {
    const std::size_t s = slot();
    trace("p" + std::to_string(id_at_[s]) + ".zero_grad()");
    Parameter& p = params_[s];
    p.zero_grad();
    if (p.grad.shape() != p.value.shape() || !all_zero(p.grad)) {
      finding("zero_grad left p" + std::to_string(id_at_[s]) + "'s grad " + ag::shape_str(p.grad) +
              " not zero or not the shape of its value " + ag::shape_str(p.value));
    }
    info_[id_at_[s]].grad_clean = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Checks of the handles held.

  void read_grad() {
    if (held_.empty()) return;
    const std::size_t e = pick();
    const Held& h = held_[e];
    const std::string what = name(e) + ".grad()";
    trace(what);
    Expect expect;
    if (dead(h)) {
      expect = Expect::refuse("the handle is dead: " + dead_reason(h), true);
    } else if (h.r.kind != Recipe::Kind::param && !h.differentiable) {
      expect = Expect::refuse("it requires no gradient");
    }
    const Matrix* g = nullptr;
    if (!attempt(what, expect, [&] { g = &h.v.grad(); })) return;
    if (h.r.kind == Recipe::Kind::param) {
      if (g != &param_of(h.r.param).grad) finding(what + " is not the gradient of its parameter");
      return;
    }
    if (shape_of(*g) != shape_of(h.ref)) {
      finding(what + " is " + ag::shape_str(*g) + " for a value of " + ag::shape_str(h.ref));
    }
    if (!differentiated_[h.tape] && !all_zero(*g)) finding(what + " is not zero before any backward");
  }

  void check_all() {
    for (std::size_t i = 0; i < held_.size(); ++i) check_held(i);
  }
  void check_held(const Held& h) { check_held(static_cast<std::size_t>(&h - held_.data())); }

  // A live handle gives the value its recipe gives, on its own tape; a dead one gives nothing.
  void check_held(std::size_t i) {
    const Held& h = held_[i];
    const bool destroyed = h.epoch != epoch_[h.tape];
    Tape* t = nullptr;
    attempt(name(i) + ".tape()",
            destroyed ? Expect::refuse("its tape was destroyed", true) : Expect::ok(),
            [&] { t = &h.v.tape(); });
    if (!destroyed && t != tapes_[h.tape].get()) finding(name(i) + ".tape() is another tape");
    const Matrix* value = nullptr;
    attempt(name(i) + ".value()", dead(h) ? Expect::refuse(dead_reason(h), true) : Expect::ok(),
            [&] { value = &h.v.value(); });
    if (value != nullptr && !identical(*value, expected(h))) {
      finding(name(i) + " holds " + ag::shape_str(*value) + " values that differ from its recipe's " +
              ag::shape_str(expected(h)));
    }
  }

  struct Guard {
    std::unique_ptr<Tape::NoGrad> guard;
    int tape;
    std::uint64_t seq;     // values recorded after this one are rolled back when it closes
    std::uint64_t clears;  // the tape's clear() count when it opened
  };

  Program& in_;
  std::vector<Parameter> params_;
  std::vector<std::size_t> id_at_;  // the identity of the parameter at each slot of params_
  std::vector<ParamInfo> info_;     // by identity
  std::unique_ptr<Tape> tapes_[tape_count];
  std::uint64_t epoch_[tape_count] = {};
  std::uint64_t clears_[tape_count] = {};
  int nograd_[tape_count] = {};
  bool differentiated_[tape_count] = {};
  std::vector<Guard> guards_;
  std::vector<Held> held_;
  std::uint64_t seq_ = 0;
  std::size_t budget_ = difference_budget;
  Tape scratch_;  // the references' own tape, never seen by the program
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Program program(data, size);
  Harness harness(program);
  harness.run();
  return 0;
}
