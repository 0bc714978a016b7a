// Gradients that can be trusted beyond the hand-picked cases: random compositions of the ops,
// a directional check of a whole deep network, determinism, and flat memory over long training.
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "autograd/autograd.hpp"
#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/random.hpp"
#include "nn/train.hpp"

using namespace autograd;

namespace {

// The ops the generator draws from.
const char* const generated_ops[] = {
    "matmul", "add",     "sub",     "mul",       "scale",       "sum",        "mean",
    "tanh",   "sigmoid", "relu",    "exp",       "log",         "softmax",    "softmax_cross_entropy",
    "l2_penalty", "div", "sqrt",    "square",    "log_softmax", "transpose",  "reshape",
    "slice",  "concat",  "gather_rows", "sum_axis", "mean_axis", "max",      "scalar",
    "reciprocal"};

// One step of a random program: result = op(pool[a], pool[b]) with an attribute.
struct Step {
  std::string op;
  std::size_t a = 0, b = 0;
  double c = 0.0;
  Labels labels;          // class labels, or gather_rows' ids
  std::size_t i[4] = {};  // an axis; a slice's ranges; a reshape's shape
};

struct Program {
  std::vector<Matrix> inputs;
  std::vector<Step> steps;
  std::vector<Matrix> weights;  // one per pool value: the output is Σ_v Σ(weights_v ∘ v)
  std::string text;
};

Var apply_step(const Step& s, const std::vector<Var>& pool) {
  const Var& a = pool[s.a];
  const Var& b = pool[s.b];
  if (s.op == "matmul") return matmul(a, b);
  if (s.op == "add") return add(a, b);
  if (s.op == "sub") return sub(a, b);
  if (s.op == "mul") return mul(a, b);
  if (s.op == "scale") return scale(a, s.c);
  if (s.op == "sum") return sum(a);
  if (s.op == "mean") return mean(a);
  if (s.op == "tanh") return tanh(a);
  if (s.op == "sigmoid") return sigmoid(a);
  if (s.op == "relu") return relu(a);
  if (s.op == "exp") return exp(a);
  if (s.op == "log") return log(a);
  if (s.op == "softmax") return softmax(a);
  if (s.op == "softmax_cross_entropy") return softmax_cross_entropy(a, s.labels, s.c > 0 ? Reduction::mean : Reduction::sum);
  if (s.op == "l2_penalty") return l2_penalty(a);
  if (s.op == "div") return div(a, b);
  if (s.op == "sqrt") return sqrt(a);
  if (s.op == "square") return square(a);
  if (s.op == "log_softmax") return log_softmax(a);
  if (s.op == "transpose") return transpose(a);
  if (s.op == "reshape") return reshape(a, s.i[0], s.i[1]);
  if (s.op == "slice") return slice(a, s.i[0], s.i[1], s.i[2], s.i[3]);
  if (s.op == "concat") return concat({a, b, a}, static_cast<int>(s.i[0]));
  if (s.op == "gather_rows") return gather_rows(a, s.labels);
  if (s.op == "sum_axis") return sum(a, static_cast<int>(s.i[0]));
  if (s.op == "mean_axis") return mean(a, static_cast<int>(s.i[0]));
  if (s.op == "max") return max(a, static_cast<int>(s.i[0]));
  if (s.op == "scalar") return (s.c - a * s.c) / 2.0 + 1.0;
  if (s.op == "reciprocal") return s.c / a;
  throw std::logic_error("no such op in the generator: " + s.op);
}

Var run(const Program& p, Tape& t, const std::vector<Var>& inputs) {
  std::vector<Var> pool = inputs;
  for (const Step& s : p.steps) pool.push_back(apply_step(s, pool));
  Var out = sum(mul(pool[0], t.constant(p.weights[0])));
  for (std::size_t v = 1; v < pool.size(); ++v) out = out + sum(mul(pool[v], t.constant(p.weights[v])));
  return out;
}

bool broadcastable(const Matrix& x, const Matrix& y) {
  for (std::size_t d = 0; d < 2; ++d) {
    if (x.shape(d) != y.shape(d) && x.shape(d) != 1 && y.shape(d) != 1) return false;
  }
  return true;
}

double min_abs(const Matrix& m) { return xt::amin(xt::abs(m))(); }

// The smallest gap between the largest and the second-largest value along the axis: max's gradient
// is only smooth where no tie is within reach of the central difference's step.
double max_gap(const Matrix& m, std::size_t axis) {
  const std::size_t outer = m.shape(1 - axis), inner = m.shape(axis);
  double gap = 1e300;
  for (std::size_t k = 0; k < outer; ++k) {
    double best = -1e300, second = -1e300;
    for (std::size_t j = 0; j < inner; ++j) {
      const double v = axis == 0 ? m(j, k) : m(k, j);
      if (v > best) {
        second = best;
        best = v;
      } else if (v > second) {
        second = v;
      }
    }
    if (inner > 1) gap = std::min(gap, best - second);
  }
  return gap;
}
double max_abs(const Matrix& m) { return xt::amax(xt::abs(m))(); }

// Builds a program from a seed, evaluating as it goes so that every op gets inputs where it is
// smooth: relu away from its kink, log on positive values, exp on moderate ones.
Program generate(std::uint64_t seed) {
  nn::Rng rng(seed);
  Program p;
  const std::size_t rows = 1 + rng.below(4), cols = 1 + rng.below(4);
  const std::size_t n_inputs = 1 + rng.below(3);
  const std::pair<std::size_t, std::size_t> shapes[] = {{rows, cols}, {1, cols}, {rows, 1}, {1, 1}, {cols, rows}};
  std::ostringstream text;
  text << "seed " << seed << ":";
  Tape t;
  std::vector<Var> pool;
  for (std::size_t i = 0; i < n_inputs; ++i) {
    const auto [r, c] = shapes[i == 0 ? 0 : rng.below(5)];
    Matrix x = Matrix::from_shape({r, c});
    for (double& v : x) v = (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + 1.3 * rng.uniform());  // |x| >= 0.2
    p.inputs.push_back(x);
    pool.push_back(t.constant(x));
    text << " v" << i << " = input " << shape_str(x) << ";";
  }
  const std::size_t n_steps = 2 + rng.below(7);
  while (p.steps.size() < n_steps) {
    Step s;
    s.op = generated_ops[rng.below(std::size(generated_ops))];
    s.a = rng.below(pool.size());
    s.b = rng.below(pool.size());  // shared sub-expressions: any earlier value, possibly the same one
    const Matrix& a = pool[s.a].value();
    const Matrix& b = pool[s.b].value();
    if (s.op == "matmul" && a.shape(1) != b.shape(0)) continue;
    if ((s.op == "add" || s.op == "sub" || s.op == "mul") && !broadcastable(a, b)) continue;
    if (s.op == "relu" && min_abs(a) < 1e-2) continue;
    if (s.op == "log" && xt::amin(a)() < 0.1) continue;
    if (s.op == "exp" && max_abs(a) > 5.0) continue;
    if (max_abs(a) > 50.0 || max_abs(b) > 50.0) continue;  // keep values in a well-conditioned range
    if ((s.op == "div" && (!broadcastable(a, b) || min_abs(b) < 0.2)) ||
        (s.op == "reciprocal" && min_abs(a) < 0.2) || (s.op == "sqrt" && xt::amin(a)() < 0.1)) {
      continue;
    }
    if (s.op == "concat") {
      s.i[0] = rng.below(2);  // along rows needs equal column counts, along columns equal row counts
      if (a.shape(1 - s.i[0]) != b.shape(1 - s.i[0])) continue;
    }
    if (s.op == "sum_axis" || s.op == "mean_axis" || s.op == "max") s.i[0] = rng.below(2);
    if (s.op == "max" && max_gap(a, s.i[0]) < 1e-3) continue;
    if (s.op == "reshape") {
      const std::size_t n = a.size();
      const std::size_t r = rng.uniform() < 0.5 ? 1 : n;
      s.i[0] = r;
      s.i[1] = n / r;
    }
    if (s.op == "slice") {
      s.i[0] = rng.below(a.shape(0));
      s.i[1] = s.i[0] + 1 + rng.below(a.shape(0) - s.i[0]);
      s.i[2] = rng.below(a.shape(1));
      s.i[3] = s.i[2] + 1 + rng.below(a.shape(1) - s.i[2]);
    }
    if (s.op == "gather_rows") {  // with repeats: more ids than rows
      for (std::size_t r = 0, n = 1 + rng.below(2 * a.shape(0)); r < n; ++r) {
        s.labels.push_back(static_cast<int>(rng.below(a.shape(0))));
      }
    }
    if (s.op == "scale" || s.op == "scalar" || s.op == "reciprocal") s.c = -2.0 + 4.0 * rng.uniform();
    if (s.op == "softmax_cross_entropy") {
      for (std::size_t r = 0; r < a.shape(0); ++r) s.labels.push_back(static_cast<int>(rng.below(a.shape(1))));
      s.c = rng.uniform() < 0.5 ? 1.0 : 0.0;  // mean or sum
    }
    pool.push_back(apply_step(s, pool));
    text << " v" << pool.size() - 1 << " = " << s.op << "(v" << s.a;
    if (s.op == "matmul" || s.op == "add" || s.op == "sub" || s.op == "mul" || s.op == "div") text << ", v" << s.b;
    if (s.op == "scale" || s.op == "scalar" || s.op == "reciprocal") text << ", " << s.c;
    if (s.op == "concat") text << ", v" << s.b << ", v" << s.a << ", axis " << s.i[0];
    if (s.op == "sum_axis" || s.op == "mean_axis" || s.op == "max") text << ", axis " << s.i[0];
    if (s.op == "reshape") text << ", " << s.i[0] << ", " << s.i[1];
    if (s.op == "slice") text << ", " << s.i[0] << ", " << s.i[1] << ", " << s.i[2] << ", " << s.i[3];
    if (s.op == "gather_rows") {
      for (int id : s.labels) text << ", " << id;
    }
    if (s.op == "softmax_cross_entropy") text << (s.c > 0 ? ", mean" : ", sum");
    text << ");";
    p.steps.push_back(s);
  }
  for (const Var& v : pool) {
    Matrix w = Matrix::from_shape(v.value().shape());
    for (double& x : w) x = 0.5 + rng.uniform();
    p.weights.push_back(w);
  }
  p.text = text.str();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Compositions of the ops of any rank: values of rank 0 to 5 with size-1 dimensions, reshaped
// from the 2-D inputs gradcheck perturbs.

// The ops the N-D generator draws from (a composite such as masked_softmax is one draw).
const char* const generated_nd_ops[] = {
    "add",       "sub",        "mul",       "div",         "tanh",          "exp",
    "square",    "reshape",    "permute",   "transpose",   "slice",         "narrow",
    "cat",       "stack",      "unsqueeze", "squeeze",     "sum_dims",      "mean_dims",
    "matmul",    "matmul_t",   "softmax",   "log_softmax", "masked_fill",   "masked_softmax",
    "cross_entropy", "broadcast_to", "index_select"};

struct NdStep {
  std::string op;
  std::size_t a = 0, b = 0;
  double c = 0.0;                  // masked_fill's value
  std::vector<std::int64_t> dims;  // reshape's sizes, permute's order, sum's dims, broadcast_to's shape
  int dim = 0, dim1 = 0;           // the dim of an op; transpose's second
  std::size_t begin = 0, end = 0;  // slice's range; narrow's start and length
  bool keepdim = false;
  Labels labels;                   // cross_entropy's labels, index_select's ids
  int ignore_index = no_ignore_index;
  Reduction reduction = Reduction::sum;
  Tensor mask;                     // masked_fill's, of a shape that broadcasts to a's
};

struct NdProgram {
  std::vector<Matrix> inputs;  // input i is reshaped to shapes[i] before any step
  std::vector<Shape> shapes;
  std::vector<NdStep> steps;
  std::vector<Tensor> weights;  // one per pool value, in its shape: the output is Σ_v Σ(w_v ∘ v)
  std::string text;
};

Dims dims_of(const std::vector<std::int64_t>& d) { return Dims(d); }
Shape shape_of_sizes(const std::vector<std::int64_t>& d) { return Shape(d.begin(), d.end()); }

Var apply_nd(const NdStep& s, const std::vector<Var>& pool) {
  const Var& a = pool[s.a];
  const Var& b = pool[s.b];
  if (s.op == "add") return add(a, b);
  if (s.op == "sub") return sub(a, b);
  if (s.op == "mul") return mul(a, b);
  if (s.op == "div") return div(a, b);
  if (s.op == "tanh") return tanh(a);
  if (s.op == "exp") return exp(a);
  if (s.op == "square") return square(a);
  if (s.op == "reshape") return reshape(a, dims_of(s.dims));
  if (s.op == "permute") return permute(a, dims_of(s.dims));
  if (s.op == "transpose") return transpose(a, s.dim, s.dim1);
  if (s.op == "slice") return slice(a, s.dim, s.begin, s.end);
  if (s.op == "narrow") return narrow(a, s.dim, s.begin, s.end);
  if (s.op == "cat") return cat({a, b, a}, s.dim);
  if (s.op == "stack") return stack({a, b}, s.dim);
  if (s.op == "unsqueeze") return unsqueeze(a, s.dim);
  if (s.op == "squeeze") return squeeze(a, s.dim);
  if (s.op == "sum_dims") return sum(a, dims_of(s.dims), s.keepdim);
  if (s.op == "mean_dims") return mean(a, dims_of(s.dims), s.keepdim);
  if (s.op == "matmul") return matmul(a, b);
  if (s.op == "matmul_t") return matmul(a, transpose(b, -1, -2));
  if (s.op == "softmax") return softmax(a, s.dim);
  if (s.op == "log_softmax") return log_softmax(a, s.dim);
  if (s.op == "masked_fill") return masked_fill(a, a.tape().tensor(s.mask), s.c);
  if (s.op == "masked_softmax") {
    return softmax(masked_fill(a, a.tape().tensor(s.mask), -std::numeric_limits<double>::infinity()), s.dim);
  }
  if (s.op == "cross_entropy") return softmax_cross_entropy(a, s.labels, s.reduction, s.ignore_index);
  if (s.op == "broadcast_to") return broadcast_to(a, shape_of_sizes(s.dims));
  if (s.op == "index_select") return index_select(a, s.dim, s.labels);
  throw std::logic_error("no such op in the N-D generator: " + s.op);
}

std::vector<Var> nd_inputs(const NdProgram& p, const std::vector<Var>& inputs) {
  std::vector<Var> pool;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    pool.push_back(reshape(inputs[i], Dims(std::vector<std::int64_t>(p.shapes[i].begin(), p.shapes[i].end()))));
  }
  return pool;
}

Var run_nd(const NdProgram& p, Tape& t, const std::vector<Var>& inputs) {
  std::vector<Var> pool = nd_inputs(p, inputs);
  for (const NdStep& s : p.steps) pool.push_back(apply_nd(s, pool));
  Var out;
  for (std::size_t v = 0; v < pool.size(); ++v) out += sum(mul(pool[v], t.tensor(p.weights[v])));
  return out;
}

// Numpy's rule, checked here by its definition: aligned at the last dimension, each pair equal or
// one of them 1.
bool nd_broadcastable(const Shape& x, const Shape& y) {
  for (std::size_t k = 1; k <= std::min(x.size(), y.size()); ++k) {
    const std::size_t p = x[x.size() - k], q = y[y.size() - k];
    if (p != q && p != 1 && q != 1) return false;
  }
  return true;
}

// A dim drawn among count places (rank, or rank + 1 for unsqueeze and stack), negative (from the
// end) half of the time.
int draw_dim(nn::Rng& rng, std::size_t count) {
  const int d = static_cast<int>(rng.below(count));
  return rng.uniform() < 0.5 ? d - static_cast<int>(count) : d;
}

// dim as an index 0..rank-1 (from the end when negative).
std::size_t at_of(int dim, std::size_t rank) {
  return static_cast<std::size_t>(dim < 0 ? dim + static_cast<int>(rank) : dim);
}

std::string list_text(const std::vector<std::int64_t>& d) {
  std::string s = "{";
  for (std::size_t k = 0; k < d.size(); ++k) s += (k ? ", " : "") + std::to_string(d[k]);
  return s + "}";
}

// A shape that broadcasts to s: some leading dimensions dropped, some others set to 1.
Shape broadcast_source(nn::Rng& rng, const Shape& s) {
  Shape out(s.begin() + static_cast<std::ptrdiff_t>(rng.uniform() < 0.3 ? rng.below(s.size() + 1) : 0), s.end());
  for (std::size_t& d : out) {
    if (rng.uniform() < 0.4) d = 1;
  }
  return out;
}

// Whether every slice along dim of a's shape keeps an entry the mask leaves (is 0 at): a softmax
// along dim refuses a fully masked slice by design. Checked by index loops over the broadcast mask.
bool keeps_an_entry_per_slice(const Tensor& mask, const Shape& s, std::size_t dim) {
  const Tensor full = xt::broadcast(mask, s);
  std::size_t inner = 1;
  for (std::size_t d = dim + 1; d < s.size(); ++d) inner *= s[d];
  const std::size_t len = s.empty() ? 1 : s[dim];
  std::vector<char> kept(full.size(), 0);
  for (std::size_t k = 0; k < full.size(); ++k) {
    const std::size_t at = (k / inner) % len;
    if (full.data()[k] == 0.0) kept[k - at * inner] = 1;
  }
  for (std::size_t k = 0; k < full.size(); ++k) {
    if ((k / inner) % len == 0 && !kept[k]) return false;
  }
  return true;
}

NdProgram generate_nd(std::uint64_t seed) {
  nn::Rng rng(seed);
  NdProgram p;
  // A base shape of rank 0 to 4, sizes 1 to 3, at most 24 elements; the other inputs broadcast to
  // it, or are it with the last two dimensions swapped (for products).
  Shape base;
  do {
    base.assign(rng.below(5), 0);
    for (std::size_t& d : base) d = 1 + rng.below(3);
  } while (std::accumulate(base.begin(), base.end(), std::size_t{1}, std::multiplies<>()) > 24);
  const std::size_t n_inputs = 1 + rng.below(3);
  std::ostringstream text;
  text << "seed " << seed << " (N-D):";
  Tape t;
  std::vector<Var> inputs;
  for (std::size_t i = 0; i < n_inputs; ++i) {
    Shape s = base;
    if (i > 0 && s.size() >= 2 && rng.uniform() < 0.3) {
      std::swap(s[s.size() - 1], s[s.size() - 2]);
    } else if (i > 0) {
      s = broadcast_source(rng, base);
    }
    const auto [r, c] = matrix_shape(s);
    Matrix x = Matrix::from_shape({r, c});
    for (double& v : x) v = (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + 1.3 * rng.uniform());  // |x| >= 0.2
    p.inputs.push_back(x);
    p.shapes.push_back(s);
    inputs.push_back(t.constant(x));
    text << " v" << i << " = reshape(input " << shape_str(x) << ", " << shape_str(s) << ");";
  }
  std::vector<Var> pool = nd_inputs(p, inputs);
  const std::size_t n_steps = 2 + rng.below(6);
  while (p.steps.size() < n_steps) {
    NdStep s;
    s.op = generated_nd_ops[rng.below(std::size(generated_nd_ops))];
    s.a = rng.below(pool.size());
    s.b = rng.below(pool.size());
    const Var& A = pool[s.a];
    const Var& B = pool[s.b];
    const Shape sa = A.shape(), sb = B.shape();  // copies: pool grows below
    const std::size_t rank = sa.size();
    const Matrix& a = A.value();
    const Matrix& b = B.value();
    std::ostringstream args;  // what the text shows after the operand
    if (max_abs(a) > 50.0 || max_abs(b) > 50.0) continue;  // keep values in a well-conditioned range
    const bool binary = s.op == "add" || s.op == "sub" || s.op == "mul" || s.op == "div";
    if (binary && !nd_broadcastable(sa, sb)) continue;
    if (s.op == "div" && min_abs(b) < 0.2) continue;
    if (s.op == "exp" && max_abs(a) > 5.0) continue;
    if (binary) args << ", v" << s.b;
    if (s.op == "reshape") {  // to a random shape of the same count, one size inferred now and then
      std::size_t n = a.size();
      const std::size_t r = rng.below(5);
      for (std::size_t d = 0; d + 1 < r; ++d) {
        std::size_t f = 1 + rng.below(3);
        while (n % f != 0) --f;
        s.dims.push_back(static_cast<std::int64_t>(f));
        n /= f;
      }
      if (r > 0) s.dims.push_back(static_cast<std::int64_t>(n));
      if (r == 0 && n != 1) continue;
      if (r > 0 && rng.uniform() < 0.3) s.dims[rng.below(r)] = -1;
      args << ", " << list_text(s.dims);
    }
    if (s.op == "permute") {
      for (std::size_t d = 0; d < rank; ++d) s.dims.push_back(static_cast<std::int64_t>(d));
      for (std::size_t d = rank; d > 1; --d) std::swap(s.dims[d - 1], s.dims[rng.below(d)]);
      for (std::int64_t& d : s.dims) {
        if (rng.uniform() < 0.3) d -= static_cast<std::int64_t>(rank);
      }
      args << ", " << list_text(s.dims);
    }
    if (s.op == "transpose" || s.op == "slice" || s.op == "narrow" || s.op == "cat" ||
        s.op == "squeeze" || s.op == "index_select") {
      if (rank == 0) continue;
      s.dim = draw_dim(rng, rank);
    }
    const std::size_t at = at_of(s.dim, rank);
    if (s.op == "transpose") {
      s.dim1 = draw_dim(rng, rank);
      args << ", " << s.dim << ", " << s.dim1;
    }
    if (s.op == "slice") {
      s.begin = rng.below(sa[at]);
      s.end = s.begin + 1 + rng.below(sa[at] - s.begin);
      args << ", dim " << s.dim << ", " << s.begin << ", " << s.end;
    }
    if (s.op == "narrow") {
      s.begin = rng.below(sa[at]);
      s.end = 1 + rng.below(sa[at] - s.begin);  // the length
      args << ", dim " << s.dim << ", start " << s.begin << ", length " << s.end;
    }
    if (s.op == "cat") {  // {a, b, a}, or {a, a, a} when b differs from a beyond dim
      bool fits = sb.size() == rank;
      for (std::size_t d = 0; fits && d < rank; ++d) fits = d == at || sa[d] == sb[d];
      if (!fits) s.b = s.a;
      args << ", v" << s.b << ", v" << s.a << ", dim " << s.dim;
    }
    if (s.op == "stack") {
      if (rank >= 5) continue;
      if (sb != sa) s.b = s.a;
      s.dim = draw_dim(rng, rank + 1);
      args << ", v" << s.b << ", dim " << s.dim;
    }
    if (s.op == "unsqueeze") {
      if (rank >= 5) continue;
      s.dim = draw_dim(rng, rank + 1);
      args << ", " << s.dim;
    }
    if (s.op == "squeeze") {  // one of the dims of size 1
      std::vector<int> ones;
      for (std::size_t d = 0; d < rank; ++d) {
        if (sa[d] == 1) ones.push_back(static_cast<int>(d) - (rng.uniform() < 0.5 ? 0 : static_cast<int>(rank)));
      }
      if (ones.empty()) continue;
      s.dim = ones[rng.below(ones.size())];
      args << ", " << s.dim;
    }
    if (s.op == "sum_dims" || s.op == "mean_dims") {
      if (rank == 0) continue;
      for (std::size_t d = 0; d < rank; ++d) {
        if (rng.uniform() >= 0.5) continue;
        const bool negative = rng.uniform() >= 0.5;  // counted from the end
        s.dims.push_back(static_cast<std::int64_t>(d) - (negative ? static_cast<std::int64_t>(rank) : 0));
      }
      if (s.dims.empty()) s.dims.push_back(draw_dim(rng, rank));
      for (std::size_t d = s.dims.size(); d > 1; --d) std::swap(s.dims[d - 1], s.dims[rng.below(d)]);
      s.keepdim = rng.uniform() < 0.5;
      args << ", " << list_text(s.dims) << (s.keepdim ? ", keepdim" : "");
    }
    if (s.op == "matmul" || s.op == "matmul_t") {  // b among the values whose shapes fit a's
      if (rank < 2) continue;
      std::vector<std::size_t> fit;
      for (std::size_t k = 0; k < pool.size(); ++k) {
        const Shape& q = pool[k].shape();
        if (q.size() >= 2 && sa.back() == (s.op == "matmul" ? q[q.size() - 2] : q.back()) &&
            nd_broadcastable(Shape(sa.begin(), sa.end() - 2), Shape(q.begin(), q.end() - 2))) {
          fit.push_back(k);
        }
      }
      if (fit.empty()) continue;
      s.b = fit[rng.below(fit.size())];
      if (max_abs(pool[s.b].value()) > 50.0) continue;
      args << ", v" << s.b;
    }
    if (s.op == "softmax" || s.op == "log_softmax" || s.op == "masked_softmax") {
      s.dim = draw_dim(rng, rank == 0 ? 1 : rank);
    }
    if (s.op == "masked_fill" || s.op == "masked_softmax") {
      const Shape ms = broadcast_source(rng, sa);
      s.mask = Tensor::from_shape(ms);
      for (double& m : s.mask) m = rng.uniform() < 0.3 ? 1.0 : 0.0;
      s.c = -2.0 + 4.0 * rng.uniform();
      if (s.op == "masked_softmax") {
        if (!keeps_an_entry_per_slice(s.mask, sa, rank == 0 ? 0 : at_of(s.dim, rank))) continue;
      }
      args << ", mask " << shape_str(ms) << " {";
      for (double m : s.mask) args << m;
      args << "}";
      if (s.op == "masked_fill") args << ", " << s.c;
    }
    if (s.op == "softmax" || s.op == "log_softmax" || s.op == "masked_softmax") args << ", dim " << s.dim;
    if (s.op == "cross_entropy") {  // over the last axis, a label per row of the storage
      const int classes = static_cast<int>(a.shape(1));
      const int ignore[] = {no_ignore_index, -100, -1, classes};
      s.ignore_index = ignore[rng.below(4)];
      for (std::size_t r = 0; r < a.shape(0); ++r) {
        const bool skip = s.ignore_index != no_ignore_index && rng.uniform() < 0.3;
        s.labels.push_back(skip ? s.ignore_index : static_cast<int>(rng.below(a.shape(1))));
      }
      const Reduction reductions[] = {Reduction::sum, Reduction::mean, Reduction::none};
      s.reduction = reductions[rng.below(3)];
      args << ", labels";
      for (int l : s.labels) args << " " << l;
      args << ", " << (s.reduction == Reduction::sum ? "sum" : s.reduction == Reduction::mean ? "mean" : "none")
           << ", ignore_index " << s.ignore_index;
    }
    if (s.op == "broadcast_to") {  // a new leading dimension now and then, size-1 dims stretched
      if (rank >= 5) continue;
      if (rng.uniform() < 0.5) s.dims.push_back(static_cast<std::int64_t>(1 + rng.below(3)));
      for (std::size_t d : sa) s.dims.push_back(static_cast<std::int64_t>(d == 1 ? 1 + rng.below(3) : d));
      args << ", " << list_text(s.dims);
    }
    if (s.op == "index_select") {  // with repeats
      for (std::size_t k = 0, n = 1 + rng.below(2 * sa[at]); k < n; ++k) {
        s.labels.push_back(static_cast<int>(rng.below(sa[at])));
      }
      args << ", dim " << s.dim << ", ids";
      for (int id : s.labels) args << " " << id;
    }
    Var v = apply_nd(s, pool);
    if (v.value().size() > 150 || v.dim() > 5) continue;  // keep each check small
    pool.push_back(v);
    text << " v" << pool.size() - 1 << " = " << s.op << "(v" << s.a << args.str() << ") "
         << shape_str(v.shape()) << ";";
    p.steps.push_back(s);
  }
  for (const Var& v : pool) {
    Tensor w = Tensor::from_shape(v.shape());
    for (double& x : w) x = 0.5 + rng.uniform();
    p.weights.push_back(w);
  }
  p.text = text.str();
  return p;
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("500 random compositions of the ops have the gradients of central differences", "[trust]") {
  GradcheckOptions options;
  // Step 1e-6: truncation error ~1e-12·f''' and rounding ~1e-10·|f|; the outputs here are sums of
  // up to ~20 terms of size ≤ 50, so 1e-6 absolute + 1e-6 relative leaves a margin of 100 or more.
  options.atol = 1e-6;
  options.rtol = 1e-6;
  std::size_t checked = 0;
  std::map<std::string, int> uses;
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    const Program p = generate(seed);
    for (const Step& s : p.steps) ++uses[s.op];
    const GradcheckResult r =
        gradcheck([&p](Tape& t, const std::vector<Var>& v) { return run(p, t, v); }, p.inputs, options);
    checked += r.checked;
    if (!r.ok) {
      // Replay: generate(seed) rebuilds exactly this program.
      FAIL_CHECK(p.text << "\n" << r.message);
    }
  }
  CHECK(checked > 2000);  // every program compared some elements
  for (const char* op : generated_ops) {
    INFO(op << " was drawn " << uses[op] << " times");
    CHECK(uses[op] >= 20);  // each op took part in many programs, not only in its own check
  }
}

TEST_CASE("300 random compositions of the ops of any rank have the gradients of central differences", "[trust]") {
  GradcheckOptions options;
  // As for the 2-D compositions: step 1e-6, values of size ≤ 50 in sums of up to ~20 terms, so
  // 1e-6 absolute + 1e-6 relative leaves a margin of 100 or more over truncation and rounding.
  options.atol = 1e-6;
  options.rtol = 1e-6;
  std::size_t checked = 0;
  std::map<std::string, int> uses;
  std::map<std::size_t, int> ranks;  // the ranks the inputs took
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const NdProgram p = generate_nd(seed);
    for (const NdStep& s : p.steps) ++uses[s.op];
    for (const Shape& s : p.shapes) ++ranks[s.size()];
    const GradcheckResult r =
        gradcheck([&p](Tape& t, const std::vector<Var>& v) { return run_nd(p, t, v); }, p.inputs, options);
    checked += r.checked;
    if (!r.ok) {
      // Replay: generate_nd(seed) rebuilds exactly this program.
      FAIL_CHECK(p.text << "\n" << r.message);
    }
  }
  CHECK(checked > 2000);
  for (std::size_t rank = 0; rank <= 4; ++rank) {
    INFO("inputs of rank " << rank << ": " << ranks[rank]);
    CHECK(ranks[rank] >= 20);
  }
  for (const char* op : generated_nd_ops) {
    INFO(op << " was drawn " << uses[op] << " times");
    CHECK(uses[op] >= 15);  // each op took part in many programs
  }
}

TEST_CASE("a deep network passes a directional derivative check", "[trust]") {
  // As JAX's check_grads: one random direction d over all parameters, two evaluations,
  // (f(θ + εd) − f(θ − εd)) / 2ε against ∇f·d.
  const nn::Dataset data = nn::make_spiral(30, 3, 0.2, 3);
  nn::MLP model({2, 16, 16, 16, 16, 3}, nn::Activation::tanh, 3);
  const auto params = model.parameters();
  const auto loss_of = [&](Tape& t) {
    return nn::classification_loss(model(t, t.constant(data.X)), data.y, model.weights(), {0.01});
  };
  Tape t;
  t.backward(loss_of(t));
  nn::Rng rng(4);
  std::vector<Matrix> direction;
  double analytic = 0.0;
  for (Parameter* p : params) {
    direction.push_back(rng.randn(p->value.shape(0), p->value.shape(1)));
    analytic += xt::sum(direction.back() * p->grad)();
  }
  const double eps = 1e-6;
  const auto shifted = [&](double sign) {
    for (std::size_t i = 0; i < params.size(); ++i) params[i]->value += sign * eps * direction[i];
    Tape e;
    Tape::NoGrad no_grad(e);
    const double v = loss_of(e).value()(0, 0);
    for (std::size_t i = 0; i < params.size(); ++i) params[i]->value -= sign * eps * direction[i];
    return v;
  };
  const double numeric = (shifted(1.0) - shifted(-1.0)) / (2 * eps);
  // The loss is ~100 (summed over 90 rows): rounding in the difference is ~1e-16·100/1e-6 = 1e-8,
  // against a directional derivative of order 10–100, well inside 1e-6 relative.
  CHECK(std::abs(numeric - analytic) <= 1e-6 * std::abs(analytic));
  CHECK(std::abs(analytic) > 1.0);  // the check compared something of substance
}

TEST_CASE("the same seed gives bit-identical weights", "[trust]") {
  const auto train_once = [] {
    const nn::Dataset data = nn::make_moons(200, 0.2, 8);
    nn::MLP model({2, 8, 8, 2}, nn::Activation::relu, 8);
    nn::TrainOptions options;
    options.passes = 50;
    options.batch_size = 16;
    options.optimizer = "adam";
    options.log_every = 0;
    options.seed = 8;
    nn::train(model, data, options);
    return model;
  };
  nn::MLP first = train_once(), second = train_once();
  const auto a = first.parameters(), b = second.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK((a[i]->value == b[i]->value));
}

TEST_CASE("10,000 training steps keep the tape's storage and the process's memory flat", "[trust]") {
  const nn::Dataset data = nn::make_moons(200, 0.2, 0);
  nn::MLP model({2, 3, 2}, nn::Activation::tanh, 0);
  nn::GradientDescent gd(model.parameters());
  Tape t;
  const auto step = [&] {
    t.clear();
    model.zero_grad();
    t.backward(nn::classification_loss(model(t, t.constant(data.X)), data.y, model.weights(), {0.01}));
    gd.step(0.01);
  };
  step();
  const std::size_t nodes = t.size(), slots = t.capacity();
  std::vector<const double*> buffers;
  for (std::size_t i = 0; i < t.size(); ++i) buffers.push_back(t.at(i).value.data());
  const std::size_t rss = resident_bytes();
  for (int i = 1; i < 10000; ++i) step();
  CHECK(t.size() == nodes);
  CHECK(t.capacity() == slots);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t.at(i).value.data() == buffers[i]);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer holds freed memory in quarantine (up to 256 MB), so its resident size grows
  // by design; the tape's counts above still hold there.
  (void)rss;
#else
  // A leak of even one 200x3 buffer per step would add 48 MB; allow a few pages of noise.
  CHECK(resident_bytes() <= rss + 256 * 1024);
#endif
}
