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
#include <iterator>
#include <limits>
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
using Shape = ag::Shape;  // of any rank; {rows, cols} for a matrix

// Bounds that keep one input well under a millisecond or so, sanitizers included.
constexpr std::size_t max_instructions = 256;
constexpr std::size_t max_held = 160;
constexpr std::size_t max_params = 5;
constexpr std::size_t max_guards = 6;
constexpr std::size_t max_elements = 4096;  // a valid op with a larger result is not called
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
                                      "softmax_cross_entropy",
                                      "reshape", "permute", "transpose", "slice", "narrow", "cat",
                                      "stack", "unsqueeze", "squeeze", "sum_dims", "mean_dims",
                                      "softmax_dim", "log_softmax_dim", "masked_fill",
                                      "softmax_cross_entropy_nd", "broadcast_to", "index_select"};
  static_assert(std::size(names) == static_cast<std::size_t>(OpCode::count), "a name per op");
  return names[static_cast<int>(op)];
}

std::string str(const Shape& s) { return ag::shape_str(s); }
Shape shape_of(const Matrix& m) { return {m.shape(0), m.shape(1)}; }
std::size_t count_of(const Shape& s) {
  std::size_t n = 1;
  for (std::size_t d : s) n *= d;
  return n;
}

// How one value held by the harness was made.
struct Recipe {
  enum class Kind { param, constant, op } kind = Kind::op;
  OpCode op = OpCode::add;
  std::size_t a = 0, b = 0;  // operands: indices into the held values
  double factor = 0.0;       // scale
  ag::Labels labels;         // cross_entropy; index_select's ids
  bool mean = false;         // cross_entropy's reduction
  std::size_t param = 0;     // param: the parameter's identity
  // The ops of any rank: a third operand and how many of a, b, c cat and stack join; a list of
  // sizes or dims; dims; positions; keepdim; the cross-entropy's reduction and ignore_index.
  std::size_t c = 0, parts = 1;
  std::vector<std::int64_t> list;
  int dim = 0, dim1 = 0;
  std::size_t i0 = 0, i1 = 0;
  bool keepdim = false;
  ag::Reduction reduction = ag::Reduction::sum;
  int ignore_index = ag::no_ignore_index;
};

// A value of shape s on tape t whose storage is m: a matrix as a constant, any other rank as a
// tensor.
Var lift(Tape& t, const Matrix& m, const Shape& s) {
  if (s.size() == 2) return t.constant(m);
  ag::Tensor x = ag::Tensor::from_shape(s);
  std::copy(m.begin(), m.end(), x.begin());
  return t.tensor(x);
}

Var apply(const Recipe& r, const Var& a, const Var& b, const Var& c) {
  const std::vector<Var> parts = {a, b, c};
  const std::vector<Var> joined(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(r.parts));
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
    case OpCode::reshape_nd: return ag::reshape(a, ag::Dims(r.list));  // Dims refuses 9 entries
    case OpCode::permute: return ag::permute(a, ag::Dims(r.list));
    case OpCode::transpose_dims: return ag::transpose(a, r.dim, r.dim1);
    case OpCode::slice_dim: return ag::slice(a, r.dim, r.i0, r.i1);
    case OpCode::narrow: return ag::narrow(a, r.dim, r.i0, r.i1);
    case OpCode::cat: return ag::cat(joined, r.dim);
    case OpCode::stack: return ag::stack(joined, r.dim);
    case OpCode::unsqueeze: return ag::unsqueeze(a, r.dim);
    case OpCode::squeeze: return ag::squeeze(a, r.dim);
    case OpCode::sum_dims: return ag::sum(a, ag::Dims(r.list), r.keepdim);
    case OpCode::mean_dims: return ag::mean(a, ag::Dims(r.list), r.keepdim);
    case OpCode::softmax_dim: return ag::softmax(a, r.dim);
    case OpCode::log_softmax_dim: return ag::log_softmax(a, r.dim);
    case OpCode::masked_fill: return ag::masked_fill(a, b, r.factor);
    case OpCode::cross_entropy_nd:
      return ag::softmax_cross_entropy(a, r.labels, r.reduction, r.ignore_index);
    case OpCode::broadcast_to: return ag::broadcast_to(a, Shape(r.list.begin(), r.list.end()));
    case OpCode::index_select: return ag::index_select(a, r.dim, r.labels);
    case OpCode::count: break;
  }
  std::abort();
}

// dim as an index among count places (a rank, or rank + 1 where a dimension is inserted), counted
// from the end when negative; false when out of range (a rank 0 value has no place).
bool wrap(std::int64_t dim, std::size_t count, std::size_t& at) {
  const auto n = static_cast<std::int64_t>(count);
  if (dim < -n || dim >= n) return false;
  at = static_cast<std::size_t>(dim < 0 ? dim + n : dim);
  return true;
}

// Numpy's broadcasting: aligned at the last dimension, each pair equal or one of them 1.
bool broadcast(const Shape& a, const Shape& b, Shape& out) {
  out.assign(std::max(a.size(), b.size()), 1);
  for (std::size_t k = 1; k <= out.size(); ++k) {
    const std::size_t x = k <= a.size() ? a[a.size() - k] : 1, y = k <= b.size() ? b[b.size() - k] : 1;
    if (x != y && x != 1 && y != 1) return false;
    out[out.size() - k] = x == 1 ? y : x;
  }
  return true;
}

bool minus_inf(double x) { return x == -std::numeric_limits<double>::infinity(); }

// Whether some slice along dim d of a value of shape s (storage z) is entirely −inf, by index
// loops over the tensor's row-major order.
bool fully_masked_along(const Matrix& z, const Shape& s, std::size_t d) {
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (k < d) outer *= s[k];
    if (k > d) inner *= s[k];
  }
  const std::size_t len = s.empty() ? 1 : s[d];
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < inner; ++i) {
      bool all = true;
      for (std::size_t j = 0; all && j < len; ++j) all = minus_inf(z.data()[(o * len + j) * inner + i]);
      if (all) return true;
    }
  }
  return false;
}

// The shape of an op's result for operands of shapes a, b and c (a's storage za), or the reason
// the engine must refuse.
bool result_shape(const Recipe& r, const Shape& a, const Shape& b, const Shape& c, const Matrix& za,
                  Shape& out, std::string& why) {
  const auto refuse = [&](const std::string& reason) {
    why = reason;
    return false;
  };
  const auto bad_dim = [&](std::int64_t d) {
    return refuse("dim " + std::to_string(d) + " is not a dimension of " + str(a));
  };
  const std::size_t rank = a.size();
  std::size_t at = 0;
  switch (r.op) {
    case OpCode::add:
    case OpCode::sub:
    case OpCode::mul:
      if (!broadcast(a, b, out)) return refuse("shapes " + str(a) + " and " + str(b) + " do not broadcast");
      return true;
    case OpCode::matmul: {
      if (a.size() == 2 && b.size() == 2) {
        if (a[1] != b[0]) return refuse("inner dimensions of " + str(a) + " and " + str(b) + " differ");
        out = {a[0], b[1]};
        return true;
      }
      if (a.size() < 2 || b.size() < 2) return refuse("matmul of " + str(a) + " and " + str(b) + ": rank < 2");
      if (a.back() != b[b.size() - 2]) {
        return refuse("inner dimensions of " + str(a) + " and " + str(b) + " differ");
      }
      if (!broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2), out)) {
        return refuse("batch dimensions of " + str(a) + " and " + str(b) + " do not broadcast");
      }
      out.push_back(a[a.size() - 2]);
      out.push_back(b.back());
      return true;
    }
    case OpCode::softmax:
    case OpCode::cross_entropy:
    case OpCode::cross_entropy_nd: {
      const std::size_t rows = za.shape(0), cols = za.shape(1);
      if (r.op == OpCode::softmax) {
        if (cols == 0) return refuse("softmax of " + str(a) + ", which has no columns");
      } else if (r.labels.size() != rows || rows == 0 || cols == 0) {
        return refuse(std::to_string(r.labels.size()) + " labels for logits " + str(a));
      }
      const bool ignoring = r.op == OpCode::cross_entropy_nd && r.ignore_index != ag::no_ignore_index;
      for (std::size_t row = 0; row < rows; ++row) {
        if (r.op != OpCode::softmax) {
          const int label = r.labels[row];
          if (ignoring && label == r.ignore_index) continue;
          if (label < 0 || static_cast<std::size_t>(label) >= cols) {
            return refuse("label " + std::to_string(label) + " for logits " + str(a));
          }
        }
        if (std::all_of(za.data() + row * cols, za.data() + (row + 1) * cols, minus_inf)) {
          return refuse("row " + std::to_string(row) + " of " + str(a) + " is entirely -inf");
        }
      }
      if (r.op == OpCode::softmax) {
        out = a;
      } else if (r.op == OpCode::cross_entropy_nd && r.reduction == ag::Reduction::none) {
        out.assign(a.begin(), a.empty() ? a.end() : a.end() - 1);
      } else {
        out = {1, 1};
      }
      return true;
    }
    case OpCode::mean:
      if (count_of(a) == 0) return refuse("mean of the empty " + str(a));
      out = {1, 1};
      return true;
    case OpCode::sum:
    case OpCode::l2_penalty:
      out = {1, 1};
      return true;
    case OpCode::reshape_nd: {
      if (r.list.size() > ag::max_rank) return refuse(std::to_string(r.list.size()) + " sizes");
      std::size_t known = 1, inferred = r.list.size();
      out.assign(r.list.size(), 0);
      for (std::size_t d = 0; d < r.list.size(); ++d) {
        if (r.list[d] == -1) {
          if (inferred != r.list.size()) return refuse("two sizes of -1");
          inferred = d;
        } else if (r.list[d] < 0) {
          return refuse("a negative size");
        } else {
          out[d] = static_cast<std::size_t>(r.list[d]);
          known *= out[d];
        }
      }
      const std::size_t n = count_of(a);
      if (inferred == r.list.size()) {
        if (known != n) return refuse(std::to_string(n) + " elements as " + std::to_string(known));
      } else {
        if (known == 0 || n % known != 0) return refuse("no size for -1 makes " + std::to_string(n));
        out[inferred] = n / known;
      }
      return true;
    }
    case OpCode::permute: {
      if (r.list.size() != rank) return refuse(std::to_string(r.list.size()) + " dims for " + str(a));
      std::vector<char> seen(rank, 0);
      out.assign(rank, 0);
      for (std::size_t i = 0; i < rank; ++i) {
        if (!wrap(r.list[i], rank, at) || seen[at]) return refuse("dims that are not a permutation");
        seen[at] = 1;
        out[i] = a[at];
      }
      return true;
    }
    case OpCode::transpose_dims: {
      std::size_t at1 = 0;
      if (!wrap(r.dim, rank, at)) return bad_dim(r.dim);
      if (!wrap(r.dim1, rank, at1)) return bad_dim(r.dim1);
      out = a;
      std::swap(out[at], out[at1]);
      return true;
    }
    case OpCode::slice_dim:
    case OpCode::narrow: {
      if (!wrap(r.dim, rank, at)) return bad_dim(r.dim);
      const std::size_t begin = r.i0, end = r.op == OpCode::slice_dim ? r.i1 : r.i0 + r.i1;
      if (begin > end || end > a[at]) return refuse("a range beyond dim " + std::to_string(at) + " of " + str(a));
      out = a;
      out[at] = end - begin;
      return true;
    }
    case OpCode::cat: {
      const Shape* in[] = {&a, &b, &c};
      bool matrices = true;
      for (std::size_t k = 0; k < r.parts; ++k) matrices = matrices && in[k]->size() == 2;
      std::int64_t dim = r.dim;
      if (matrices) {
        if (dim == -1 || dim == -2) dim += 2;
        if (dim != 0 && dim != 1) return refuse("axis " + std::to_string(r.dim) + " of matrices");
      } else if (rank == 0) {
        return refuse("a scalar to join");
      }
      if (!wrap(dim, rank, at)) return bad_dim(r.dim);
      out = a;
      out[at] = 0;
      for (std::size_t k = 0; k < r.parts; ++k) {
        const Shape& s = *in[k];
        if (s.size() != rank) return refuse("parts of ranks " + str(a) + " and " + str(s));
        for (std::size_t d = 0; d < rank; ++d) {
          if (d != at && s[d] != a[d]) {
            return refuse("parts " + str(a) + " and " + str(s) + " along " + std::to_string(at));
          }
        }
        out[at] += s[at];
      }
      return true;
    }
    case OpCode::stack: {
      const Shape* in[] = {&a, &b, &c};
      for (std::size_t k = 1; k < r.parts; ++k) {
        if (*in[k] != a) return refuse("parts " + str(a) + " and " + str(*in[k]) + " differ");
      }
      if (rank + 1 > ag::max_rank) return refuse("a result of rank " + std::to_string(rank + 1));
      if (!wrap(r.dim, rank + 1, at)) return bad_dim(r.dim);
      out = a;
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), r.parts);
      return true;
    }
    case OpCode::unsqueeze:
      if (rank + 1 > ag::max_rank) return refuse("a result of rank " + std::to_string(rank + 1));
      if (!wrap(r.dim, rank + 1, at)) return bad_dim(r.dim);
      out = a;
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), 1);
      return true;
    case OpCode::squeeze:
      if (!wrap(r.dim, rank, at)) return bad_dim(r.dim);
      if (a[at] != 1) return refuse("dim " + std::to_string(at) + " of " + str(a) + " is not 1");
      out = a;
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(at));
      return true;
    case OpCode::sum_dims:
    case OpCode::mean_dims: {
      if (r.list.size() > ag::max_rank) return refuse(std::to_string(r.list.size()) + " dims");
      if (r.list.empty()) return refuse("no dims");
      std::vector<char> reduced(rank, 0);
      std::size_t averaged = 1;
      for (std::int64_t d : r.list) {
        if (!wrap(d, rank, at)) return bad_dim(d);
        if (reduced[at]) return refuse("dim " + std::to_string(d) + " named twice");
        reduced[at] = 1;
        averaged *= a[at];
      }
      if (r.op == OpCode::mean_dims && averaged == 0) return refuse("a mean over nothing");
      out.clear();
      for (std::size_t d = 0; d < rank; ++d) {
        if (!reduced[d]) out.push_back(a[d]);
        if (reduced[d] && r.keepdim) out.push_back(1);
      }
      return true;
    }
    case OpCode::softmax_dim:
    case OpCode::log_softmax_dim: {
      if (!wrap(r.dim, rank == 0 ? 1 : rank, at)) return bad_dim(r.dim);
      if (rank == 0 || at + 1 == rank) {  // the last axis: the rows of the storage
        Recipe last = r;
        last.op = OpCode::softmax;
        return result_shape(last, a, b, c, za, out, why);
      }
      if (a[at] == 0) return refuse("softmax along the empty dim " + std::to_string(at) + " of " + str(a));
      if (fully_masked_along(za, a, at)) return refuse("a slice of " + str(a) + " entirely -inf");
      out = a;
      return true;
    }
    case OpCode::masked_fill:
      if (!broadcast(a, b, out) || out != a) {
        return refuse("mask " + str(b) + " does not broadcast to " + str(a));
      }
      return true;
    case OpCode::broadcast_to: {
      if (r.list.size() > ag::max_rank || r.list.size() < rank) {
        return refuse(str(a) + " to a shape of fewer dimensions or more than max_rank");
      }
      out.assign(r.list.begin(), r.list.end());
      for (std::size_t k = 1; k <= rank; ++k) {
        const std::size_t from = a[rank - k];
        if (from != 1 && from != out[out.size() - k]) return refuse(str(a) + " does not broadcast to " + str(out));
      }
      return true;
    }
    case OpCode::index_select:
      if (!wrap(r.dim, rank, at)) return bad_dim(r.dim);
      for (int id : r.labels) {
        if (id < 0 || static_cast<std::size_t>(id) >= a[at]) {
          return refuse("id " + std::to_string(id) + " along dim " + std::to_string(at) + " of " + str(a));
        }
      }
      out = a;
      out[at] = r.labels.size();
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
  Matrix ref;               // constants and ops: the value the engine must hold (its storage)
  Shape shape;              // constants and ops: the shape it must have, of any rank
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
  const Parameter& param_of(std::size_t id) const { return params_[info_[id].slot]; }
  bool param_dead(const Held& h) const {
    return h.r.kind == Recipe::Kind::param && !info_[h.r.param].alive;
  }
  // A live parameter leaf whose parameter has a value of another shape than when it was recorded:
  // the tape refuses it (std::logic_error), as it refuses a handle whose parameter is destroyed.
  bool stale_param(const Held& h) const {
    return h.r.kind == Recipe::Kind::param && h.live && !param_dead(h) &&
           shape_of(param_of(h.r.param).value) != h.recorded;
  }
  bool dead(const Held& h) const { return !h.live || param_dead(h) || stale_param(h); }
  // The value the engine must give for a live handle: a parameter's is wherever it lives now.
  const Matrix& expected(const Held& h) {
    return h.r.kind == Recipe::Kind::param ? param_of(h.r.param).value : h.ref;
  }
  // The shape the engine must give for a live handle: a parameter is the matrix it is now.
  Shape expected_shape(const Held& h) {
    return h.r.kind == Recipe::Kind::param ? shape_of(param_of(h.r.param).value) : h.shape;
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
    if (stale_param(h)) return "its parameter was given a value of another shape";
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
    h.shape = shape_of(m);
    check_held(hold(std::move(h)));
  }

  void op() {
    Recipe r;
    r.op = fuzz_api::decode_op(in_.next());
    if (held_.empty()) return;
    r.a = pick();
    r.b = fuzz_api::is_binary(r.op) ? pick() : r.a;
    r.c = r.a;
    if (r.op == OpCode::scale) r.factor = fuzz_api::decode_factor(in_.next());
    if (r.op == OpCode::masked_fill) r.factor = fuzz_api::decode_fill(in_.next());
    decode_nd_arguments(r);
    const Held& A = held_[r.a];
    const Held& B = held_[r.b];
    const Held& C = held_[r.c];
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
    if (r.op == OpCode::cross_entropy_nd) {
      const std::uint8_t spec = in_.next();
      const std::size_t rows = dead(A) ? 1 : expected(A).shape(0);
      const std::size_t cols = dead(A) ? 1 : expected(A).shape(1);
      std::size_t count = rows;
      if (spec >= 0xF0) count = (spec & 2) ? rows + 1 : (rows > 0 ? rows - 1 : 0);
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t b = in_.next();
        r.labels.push_back(b >= 0xF0   ? ((b & 1) ? -1 : static_cast<int>(cols))
                           : b >= 0xE0 ? r.ignore_index
                           : cols == 0 ? 0
                                       : static_cast<int>(b % cols));
      }
    }
    if (held_.size() >= max_held) return;
    std::string what = std::string(op_name(r.op)) + "(" + name(r.a);
    if (fuzz_api::is_binary(r.op) || r.parts > 1) what += ", " + name(r.b);
    if (r.parts > 2) what += ", " + name(r.c);
    what += ")" + nd_arguments_text(r);
    trace("v" + std::to_string(held_.size()) + " = " + what +
          (r.op == OpCode::scale ? " factor " + std::to_string(r.factor) : ""));

    Expect expect;
    Shape out{};
    if (dead(A) || dead(B) || dead(C)) {
      expect = Expect::refuse("an operand is dead: " + dead_reason(dead(A) ? A : dead(B) ? B : C), true);
    } else if (A.tape != B.tape || A.tape != C.tape) {
      expect = Expect::refuse("the operands are on different tapes");
    } else {
      std::string why;
      if (!result_shape(r, expected_shape(A), expected_shape(B), expected_shape(C), expected(A), out,
                        why)) {
        expect = Expect::refuse(why);
      } else if (count_of(out) > max_elements) {
        return;  // valid, but too large to be worth the time (cat and broadcast_to grow values)
      }
    }
    std::size_t sizes[tape_count];
    for (int t = 0; t < tape_count; ++t) sizes[t] = tapes_[t]->size();
    Var v;
    if (!attempt(what, expect, [&] { v = apply(r, A.v, B.v, C.v); })) {
      check_held(r.a);  // a refusal leaves the operands as they were
      check_held(r.b);
      check_held(r.c);
      for (int t = 0; t < tape_count; ++t) {  // and records nothing, on either tape
        if (tapes_[t]->size() != sizes[t]) {
          finding(what + " was refused but left " + std::to_string(tapes_[t]->size() - sizes[t]) +
                  " values on tape " + std::to_string(t));
        }
      }
      return;
    }

    Held h;
    h.r = r;
    h.v = v;
    h.tape = A.tape;
    h.differentiable =
        (A.differentiable || B.differentiable || C.differentiable) && nograd_[A.tape] == 0;
    // A parameter operand is read as it is now; an op operand as it was when it was computed.
    for (const Held* in : {&A, &B, &C}) {
      if (in->r.kind == Recipe::Kind::param) {
        note_read(h, in->r.param, info_[in->r.param].version);
        if (!in->consistent || info_[in->r.param].version != in->reads[0].second) h.consistent = false;
      } else {
        for (const auto& [id, version] : in->reads) note_read(h, id, version);
        h.consistent = h.consistent && in->consistent;
      }
    }
    Shape ref_shape;
    h.ref = recompute(r, ref_shape);
    h.shape = out;
    if (ref_shape != out) {
      finding(what + ": the reference gives " + str(ref_shape) + ", the model " + str(out));
    }
    check_held(hold(std::move(h)));
  }

  // The arguments of the ops of any rank, as fuzz_api_program.hpp encodes them.
  void decode_nd_arguments(Recipe& r) {
    const auto list = [&](auto decode) {
      for (std::size_t k = 0, n = fuzz_api::decode_count(in_.next()); k < n; ++k) {
        r.list.push_back(decode(in_.next()));
      }
    };
    const auto dim = [&] { return fuzz_api::decode_nd_dim(in_.next()); };
    const auto index = [&] { return fuzz_api::decode_index(in_.next()); };
    switch (r.op) {
      case OpCode::reshape_nd: return list(fuzz_api::decode_nd_size);
      case OpCode::permute: return list(fuzz_api::decode_nd_dim);
      case OpCode::broadcast_to:
        return list([](std::uint8_t b) { return static_cast<std::int64_t>(fuzz_api::decode_dim(b)); });
      case OpCode::sum_dims:
      case OpCode::mean_dims:
        list(fuzz_api::decode_nd_dim);
        r.keepdim = (in_.next() & 1) != 0;
        return;
      case OpCode::transpose_dims:
        r.dim = dim();
        r.dim1 = dim();
        return;
      case OpCode::slice_dim:
      case OpCode::narrow:
        r.dim = dim();
        r.i0 = index();
        r.i1 = index();
        return;
      case OpCode::cat:
      case OpCode::stack:
        r.parts = 1 + in_.next() % 3;
        if (!held_.empty() && r.parts > 1) r.b = pick();
        if (!held_.empty() && r.parts > 2) r.c = pick();
        r.dim = dim();
        return;
      case OpCode::unsqueeze:
      case OpCode::squeeze:
      case OpCode::softmax_dim:
      case OpCode::log_softmax_dim:
        r.dim = dim();
        return;
      case OpCode::cross_entropy_nd: {
        const std::uint8_t reduction = in_.next() % 3;
        r.reduction = reduction == 0 ? ag::Reduction::sum : reduction == 1 ? ag::Reduction::mean
                                                                             : ag::Reduction::none;
        const std::uint8_t ignore = in_.next();
        r.ignore_index = ignore == 0xFF ? ag::no_ignore_index : ignore % 8 - 2;
        return;
      }
      case OpCode::index_select: {
        r.dim = dim();
        const Held* A = held_.empty() ? nullptr : &held_[r.a];
        std::size_t size = 1;
        if (A != nullptr && !dead(*A)) {
          const Shape s = expected_shape(*A);
          std::size_t at = 0;
          if (wrap(r.dim, s.size(), at)) size = s[at];
        }
        for (std::size_t k = 0, n = index(); k < n; ++k) {
          const std::uint8_t b = in_.next();
          r.labels.push_back(b >= 0xF0 ? ((b & 1) ? -1 : static_cast<int>(size))
                                       : static_cast<int>(b % std::max<std::size_t>(size, 1)));
        }
        return;
      }
      default: return;
    }
  }

  static std::string nd_arguments_text(const Recipe& r) {
    std::string s;
    if (!r.list.empty() || r.op == OpCode::reshape_nd || r.op == OpCode::permute ||
        r.op == OpCode::broadcast_to || r.op == OpCode::sum_dims || r.op == OpCode::mean_dims) {
      s += " {";
      for (std::size_t k = 0; k < r.list.size(); ++k) s += (k ? ", " : "") + std::to_string(r.list[k]);
      s += "}";
    }
    if (r.op >= OpCode::transpose_dims && r.op != OpCode::masked_fill && r.op != OpCode::broadcast_to &&
        r.op != OpCode::sum_dims && r.op != OpCode::mean_dims && r.op != OpCode::cross_entropy_nd) {
      s += " dim " + std::to_string(r.dim);
    }
    if (r.op == OpCode::transpose_dims) s += ", " + std::to_string(r.dim1);
    if (r.op == OpCode::slice_dim || r.op == OpCode::narrow) {
      s += " " + std::to_string(r.i0) + ", " + std::to_string(r.i1);
    }
    if (r.keepdim) s += " keepdim";
    if (r.op == OpCode::masked_fill) s += " value " + std::to_string(r.factor);
    if (r.op == OpCode::cross_entropy_nd) {
      s += " reduction " + std::to_string(static_cast<int>(r.reduction)) + " ignore_index " +
           std::to_string(r.ignore_index);
    }
    if (r.op == OpCode::index_select || r.op == OpCode::cross_entropy_nd || r.op == OpCode::cross_entropy) {
      s += " ids/labels";
      for (int id : r.labels) s += " " + std::to_string(id);
    }
    return s;
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
  Matrix recompute(const Recipe& r, Shape& shape) {
    try {
      scratch_.clear();
      const Var a = lift(scratch_, expected(held_[r.a]), expected_shape(held_[r.a]));
      const Var b = lift(scratch_, expected(held_[r.b]), expected_shape(held_[r.b]));
      const Var c = lift(scratch_, expected(held_[r.c]), expected_shape(held_[r.c]));
      const Var v = apply(r, a, b, c);
      shape = v.shape();
      return v.value();
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
      const Var c = evaluate_node(r.c, values, memo, done, inspect);
      if (inspect != nullptr) {
        for (double x : a.value()) {
          if ((r.op == OpCode::relu && std::abs(x) < 1e-2) || (r.op == OpCode::log && !(x >= 0.1))) {
            inspect->smooth = false;
          }
        }
        // A mask entry near 0 would flip between kept and filled under the step.
        for (double x : b.value()) {
          if (r.op == OpCode::masked_fill && std::abs(x) < 1e-2) inspect->smooth = false;
        }
      }
      v = apply(r, a, b, c);
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
        todo.push_back(held_[i].r.c);
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
    if (value != nullptr && h.v.shape() != expected_shape(h)) {
      finding(name(i) + " has the shape " + str(h.v.shape()) + ", its recipe " + str(expected_shape(h)));
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
