// Matrix products of any rank (numpy's matmul): each op, its OpDef (name + backward rule), then its
// forward. In the rules: g = n.grad is d loss / d result and t.value(n.in[k]) is input k, stored as
// the matrix of its last axis; every product is a BLAS call on that storage, its transposes as flags.
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "autograd/blas.hpp"
#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"

namespace autograd {

using namespace detail;  // op_support.hpp: the helpers the op files share

namespace {

// The batch dimensions of a product [..., n, k] · [..., k, m] -> [..., n, m]: the result's (the
// two inputs' broadcast) and, along each, the distance between consecutive slices of a and of b,
// counted in slices (0 where that input is broadcast). Built from the shapes, allocating nothing.
struct Batch {
  std::size_t rank = 0;   // batch dimensions of the result
  std::size_t count = 1;  // its slices
  std::array<std::size_t, max_rank> dims{}, step_a{}, step_b{};
};

inline Batch batch_of(const Shape& out, const Shape& a, const Shape& b) {
  Batch bt;
  bt.rank = out.size() - 2;
  for (std::size_t d = 0; d < bt.rank; ++d) {
    bt.dims[d] = out[d];
    bt.count *= out[d];
  }
  const auto steps = [&](const Shape& x, std::array<std::size_t, max_rank>& step) {
    std::size_t slices = 1;
    for (std::size_t d = 0; d + 2 < x.size(); ++d) {  // d counts from the last batch dimension
      const std::size_t i = x.size() - 3 - d, o = bt.rank - 1 - d;
      step[o] = x[i] == 1 ? 0 : slices;
      slices *= x[i];
    }
  };
  steps(a, bt.step_a);
  steps(b, bt.step_b);
  return bt;
}

// f(o, ia, ib, first_a, first_b) for every slice o of the result, in order, with ia and ib the
// slices of a and b it multiplies; first_a says o is the first slice to read slice ia of a (the
// rule's first contribution to that slice of a's gradient), first_b the same for b.
template <class F>
void for_each_slice(const Batch& bt, F&& f) {
  std::array<std::size_t, max_rank> index{};
  std::size_t ia = 0, ib = 0;
  for (std::size_t o = 0; o < bt.count; ++o) {
    bool first_a = true, first_b = true;
    for (std::size_t d = 0; d < bt.rank; ++d) {
      if (index[d] == 0) continue;
      if (bt.step_a[d] == 0) first_a = false;
      if (bt.step_b[d] == 0) first_b = false;
    }
    f(o, ia, ib, first_a, first_b);
    for (std::size_t d = bt.rank; d-- > 0;) {  // the next slice: an odometer over the batch dims
      ++index[d];
      ia += bt.step_a[d];
      ib += bt.step_b[d];
      if (index[d] < bt.dims[d]) break;
      ia -= bt.step_a[d] * bt.dims[d];
      ib -= bt.step_b[d] * bt.dims[d];
      index[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// matmul. A:[n,k] B:[k,m] g:[n,m]  =>  dA += g·Bᵀ [n,k],  dB += Aᵀ·g [k,m], transposes as BLAS flags.
// Also a batch times one matrix, [..., n, k] · [k, m]: the same on a's storage [(…·n) x k].
const OpDef matmul_op{"matmul", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  bool add = false;
  if (t.requires_grad(n.in[0])) {
    BasicMatrix<T>& dA = t.grad_target(n.in[0], add);
    blas::gemm(false, true, 1.0, n.grad, t.value(n.in[1]), add ? 1.0 : 0.0, dA);
  }
  if (t.requires_grad(n.in[1])) {
    BasicMatrix<T>& dB = t.grad_target(n.in[1], add);
    blas::gemm(true, false, 1.0, t.value(n.in[0]), n.grad, add ? 1.0 : 0.0, dB);
  }
}};

// Batched matmul, per slice o of the result (reading slices ia of a and ib of b):
// A:[..., n,k] B:[..., k,m] g:[..., n,m]  =>  dA[ia] += g[o]·B[ib]ᵀ,  dB[ib] += A[ia]ᵀ·g[o]. A
// slice broadcast over several o gets the sum of their shares (beta = 1 after its first).
const OpDef batched_matmul_op{"batched_matmul", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  const Shape &sa = t.shape(n.in[0]), &sb = t.shape(n.in[1]);
  const std::size_t rows = sa[sa.size() - 2], inner = sa.back(), cols = sb.back();
  const Batch bt = batch_of(n.shape, sa, sb);
  const T *A = t.value(n.in[0]).data(), *B = t.value(n.in[1]).data(), *g = n.grad.data();
  const std::size_t a_size = rows * inner, b_size = inner * cols, g_size = rows * cols;
  bool add = false;
  if (t.requires_grad(n.in[0])) {
    BasicMatrix<T>& dA = t.grad_target(n.in[0], add);
    if (!add && bt.count == 0) dA.fill(T(0));  // no slice of the result reads a
    T* d = dA.data();
    for_each_slice(bt, [&](std::size_t o, std::size_t ia, std::size_t ib, bool first, bool) {
      blas::gemm(false, true, rows, inner, cols, T(1), g + o * g_size, cols, B + ib * b_size, cols,
                 add || !first ? T(1) : T(0), d + ia * a_size, inner);
    });
  }
  if (t.requires_grad(n.in[1])) {
    BasicMatrix<T>& dB = t.grad_target(n.in[1], add);
    if (!add && bt.count == 0) dB.fill(T(0));
    T* d = dB.data();
    for_each_slice(bt, [&](std::size_t o, std::size_t ia, std::size_t ib, bool, bool first) {
      blas::gemm(true, false, inner, cols, rows, T(1), A + ia * a_size, inner, g + o * g_size, cols,
                 add || !first ? T(1) : T(0), d + ib * b_size, cols);
    });
  }
}};

// matmul of values of any rank >= 2 (some rank not 2), numpy's rules: the last two dimensions
// multiply, the others broadcast.
template <class T>
BasicVar<T> matmul_nd(const BasicVar<T>& a, const BasicVar<T>& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  const auto shapes = [&] { return "matmul: " + shape_str(sa) + " and " + shape_str(sb) + ": "; };
  if (sa.size() < 2 || sb.size() < 2) {
    throw std::invalid_argument(shapes() + "takes values of rank 2 or more (unsqueeze a vector of " +
                                "n to [1, n] or [n, 1] first)");
  }
  const std::size_t rows = sa[sa.size() - 2], inner = sa.back(), cols = sb.back();
  if (sb[sb.size() - 2] != inner) {
    throw std::invalid_argument(shapes() + "inner dimensions " + std::to_string(inner) + " and " +
                                std::to_string(sb[sb.size() - 2]) + " differ");
  }
  thread_local Shape out;  // keeps its capacity: the result's shape, checked before recording
  const std::size_t rank = sa.size() > sb.size() ? sa.size() : sb.size();
  out.resize(rank);
  std::size_t b_slices = 1;
  for (std::size_t d = 2; d < rank; ++d) {  // d counts from the last dimension
    const std::size_t x = d < sa.size() ? sa[sa.size() - 1 - d] : 1;
    const std::size_t y = d < sb.size() ? sb[sb.size() - 1 - d] : 1;
    if (x != y && x != 1 && y != 1) {
      throw std::invalid_argument(shapes() + "batch dimensions " + std::to_string(x) + " and " +
                                  std::to_string(y) + " differ and neither is 1");
    }
    out[rank - 1 - d] = x == 1 ? y : x;
    b_slices *= y;
  }
  out[rank - 2] = rows;
  out[rank - 1] = cols;
  checked_count<T>("matmul", out);
  BasicTape<T>& t = a.tape();
  if (b_slices == 1 && sa.size() >= sb.size()) {
    // b is one matrix, the same for every slice of a ([B, T, d] · [d, m], a Linear layer): one
    // product on a's storage [(B·T) x d], whose rows are already the result's.
    BasicNode<T>& n = t.record(matmul_op, a, b);
    n.shape.assign(out.begin(), out.end());
    t.shape_value(n);
    blas::gemm(false, false, 1.0, t.value(n.in[0]), t.value(n.in[1]), 0.0, n.value);
    return t.result(n);
  }
  BasicNode<T>& n = t.record(batched_matmul_op, a, b);
  n.shape.assign(out.begin(), out.end());
  t.shape_value(n);
  const Batch bt = batch_of(n.shape, t.shape(n.in[0]), t.shape(n.in[1]));
  const T *A = t.value(n.in[0]).data(), *B = t.value(n.in[1]).data();
  T* C = n.value.data();
  for_each_slice(bt, [&](std::size_t o, std::size_t ia, std::size_t ib, bool, bool) {
    blas::gemm(false, false, rows, cols, inner, T(1), A + ia * rows * inner, inner,
               B + ib * inner * cols, cols, T(0), C + o * rows * cols, cols);
  });
  return t.result(n);
}

}  // namespace

template <class T>
BasicVar<T> matmul(const BasicVar<T>& a, const BasicVar<T>& b) {
  if (a.dim() != 2 || b.dim() != 2) return matmul_nd(a, b);
  const BasicMatrix<T>& A = a.value();
  const BasicMatrix<T>& B = b.value();
  if (A.shape(1) != B.shape(0)) shape_error("matmul", "inner dimensions differ:", A, B);
  checked_size<T>("matmul", A.shape(0), B.shape(1));  // [n x 0]·[0 x m] can ask for any n·m
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(matmul_op, a, b);
  n.value.resize({A.shape(0), B.shape(1)});
  blas::gemm(false, false, 1.0, A, B, 0.0, n.value);
  return t.result(n);
}

#define AUTOGRAD_INSTANTIATE_PRODUCTS(T) \
  template BasicVar<T> matmul(const BasicVar<T>&, const BasicVar<T>&);

AUTOGRAD_INSTANTIATE_PRODUCTS(double)
AUTOGRAD_INSTANTIATE_PRODUCTS(float)
#undef AUTOGRAD_INSTANTIATE_PRODUCTS

}  // namespace autograd
