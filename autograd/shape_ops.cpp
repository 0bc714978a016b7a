// Shapes: reshape, permute (and transpose of two axes, or of a matrix), slice along one axis (and
// the block of a matrix), concat and stack, broadcast_to, index_select, gather_rows and embedding.
// Each op one block: its derivative, its OpDef (name + backward rule), then its forwards. Every op
// here copies: its result owns its elements, stored row-major as the matrix of its last axis
// (matrix_shape), so moving a value between shapes moves no element when the order is kept
// (reshape) and is one strided pass otherwise.
// In the rules: g = n.grad is d loss / d result, laid out as n.shape; t.shape(n.in[k]) is input k's
// shape. Rules add into their inputs' gradients (+=), so a value used twice gets both shares.
#include <algorithm>
#include <array>
#include <string>

#include "autograd/op_support.hpp"
#include "autograd/ops.hpp"

namespace autograd {

using namespace detail;  // op_support.hpp: the helpers the op files share

namespace {

using Sizes = std::array<std::size_t, max_rank>;  // a shape or strides, without allocating

// ---------------------------------------------------------------------------------------------------
// Shared by the ops below: dimension checks and the copies.

// dim as an index 0..count-1, counting from the end when negative (-1 is count-1), where count is
// the number of places dim may name (a's rank, or rank + 1 for unsqueeze and stack); else
// std::invalid_argument: "permute: dim 3 is out of range for [2, 3, 4] (valid: -3..2)".
std::size_t wrap_dim(const char* op, std::int64_t dim, std::size_t count, const Shape& shape) {
  const auto c = static_cast<std::int64_t>(count);
  if (count == 0) {
    throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(dim) + " of " +
                                shape_str(shape) + ", which has no dimension (rank 0)");
  }
  if (dim < -c || dim >= c) {
    throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(dim) +
                                " is out of range for " + shape_str(shape) + " (valid: " +
                                std::to_string(-c) + ".." + std::to_string(c - 1) + ")");
  }
  return static_cast<std::size_t>(dim < 0 ? dim + c : dim);
}

// The product of shape[begin, end): the outer or inner extent of a dimension.
std::size_t extent(const Shape& shape, std::size_t begin, std::size_t end) {
  std::size_t n = 1;
  for (std::size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

// The element count of the shape dims[0..rank), checked as checked_count() is (which names op and
// the shape when the product overflows or could not be one allocation).
template <class T>
std::size_t checked_count_of(const char* op, const std::size_t* dims, std::size_t rank) {
  std::size_t n = 1;
  bool over = false;
  for (std::size_t d = 0; d < rank; ++d) over = __builtin_mul_overflow(n, dims[d], &n) || over;
  if (over || n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) {
    return checked_count<T>(op, Shape(dims, dims + rank));  // throws, naming the shape
  }
  return n;
}

// A rank above max_rank is refused before anything is recorded, naming op and what(), the value
// of that rank (a string built only then: the check itself allocates nothing).
template <class What>
void check_rank(const char* op, std::size_t rank, What&& what) {
  if (rank > max_rank) {
    throw std::invalid_argument(std::string(op) + ": " + what() + " has rank " + std::to_string(rank) +
                                ", more than the engine's " + std::to_string(max_rank));
  }
}

// Row-major strides of shape[0..rank).
Sizes strides_of(const std::size_t* shape, std::size_t rank) {
  Sizes s{};
  std::size_t stride = 1;
  for (std::size_t d = rank; d-- > 0;) {
    s[d] = stride;
    stride *= shape[d];
  }
  return s;
}

// dst[k] = src[offset(k)] (or +=, with Add) for every element k, in row-major order, of a value of
// shape[0..rank), where offset(k) = Σ_d index_d · stride[d]: the copy of a permuted or broadcast
// view of src. An odometer over the outer dimensions; the last one is a plain (strided) loop.
template <bool Add, class T>
void copy_strided(const T* src, const std::size_t* shape, const std::size_t* stride, std::size_t rank,
                  T* dst) {
  if (rank == 0) {
    dst[0] = Add ? dst[0] + src[0] : src[0];
    return;
  }
  std::size_t total = 1;
  for (std::size_t d = 0; d < rank; ++d) total *= shape[d];
  if (total == 0) return;
  const std::size_t inner = shape[rank - 1], step = stride[rank - 1];
  Sizes index{};
  std::size_t offset = 0;
  for (std::size_t k = 0; k < total; k += inner) {
    const T* s = src + offset;
    T* out = dst + k;
    for (std::size_t c = 0; c < inner; ++c) out[c] = Add ? out[c] + s[c * step] : s[c * step];
    for (std::size_t d = rank - 1; d-- > 0;) {  // the next row
      ++index[d];
      offset += stride[d];
      if (index[d] < shape[d]) break;
      offset -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
}

// "[2, 3, -1]": a list of numbers as the user gave it, for messages.
template <class List>
std::string list_str(const List& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

// ---------------------------------------------------------------------------------------------------
// reshape. d reshape(a) = g read in a's shape (both are row-major: the elements keep their order)
const OpDef reshape_op{"reshape", [](auto& t, const auto& n) {
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const auto* g = n.grad.data();
  for (std::size_t i = 0; i < n.grad.size(); ++i) d.put(i, g[i]);
}};

// The elements of a as the shape dims[0..rank), which the caller has checked holds as many
// elements as a, in a rank the engine takes.
template <class T>
BasicVar<T> reshape_to(const BasicVar<T>& a, const std::size_t* dims, std::size_t rank) {
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(reshape_op, a);
  n.shape.assign(dims, dims + rank);
  t.shape_value(n);
  const BasicMatrix<T>& x = t.value(n.in[0]);
  std::copy(x.data(), x.data() + x.size(), n.value.data());
  return t.result(n);
}

}  // namespace

template <class T>
BasicVar<T> reshape(const BasicVar<T>& a, std::size_t rows, std::size_t cols) {
  const BasicMatrix<T>& x = a.value();
  if (checked_size<T>("reshape", rows, cols) != x.size()) {
    throw std::invalid_argument("reshape: cannot view " + shape_str(x) + " (" +
                                std::to_string(x.size()) + " elements) as [" + std::to_string(rows) +
                                " x " + std::to_string(cols) + "]");
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(reshape_op, a);
  n.value.resize({rows, cols});
  std::copy(x.data(), x.data() + x.size(), n.value.data());
  return t.result(n);
}

template <class T>
BasicVar<T> reshape(const BasicVar<T>& a, const Dims& shape) {
  const Shape& from = a.shape();
  const std::size_t count = a.value().size();
  check_rank("reshape", shape.size(), [&] { return "the shape " + list_str(shape); });
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("reshape: cannot view " + shape_str(from) + " (" +
                                std::to_string(count) + " elements) as " + list_str(shape) + ": " +
                                why);
  };
  Sizes dims{};
  std::size_t known = 1, inferred = max_rank;  // the product of the given sizes; the -1's place
  bool over = false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferred != max_rank) refuse("only one size may be -1");
      inferred = d;
      continue;
    }
    if (shape[d] < 0) refuse("size " + std::to_string(shape[d]) + " is negative");
    dims[d] = static_cast<std::size_t>(shape[d]);
    over = __builtin_mul_overflow(known, dims[d], &known) || over;
  }
  if (over) refuse("the sizes multiply out to more than 64 bits can count");
  if (inferred != max_rank) {
    if (known == 0 && count == 0) refuse("the size for -1 could be anything");
    if (known == 0 || count % known != 0) {
      refuse("no size for -1 makes " + std::to_string(count) + " elements");
    }
    dims[inferred] = count / known;
  } else if (known != count) {
    refuse("that is " + std::to_string(known) + " elements");
  }
  return reshape_to(a, dims.data(), shape.size());
}

template <class T>
BasicVar<T> unsqueeze(const BasicVar<T>& a, int dim) {
  const Shape& s = a.shape();
  check_rank("unsqueeze", s.size() + 1,
             [&] { return "the result of " + shape_str(s) + " with a new dimension"; });
  const std::size_t at = wrap_dim("unsqueeze", dim, s.size() + 1, s);
  Sizes dims{};
  for (std::size_t d = 0, k = 0; d <= s.size(); ++d) dims[d] = d == at ? 1 : s[k++];
  return reshape_to(a, dims.data(), s.size() + 1);
}

template <class T>
BasicVar<T> squeeze(const BasicVar<T>& a, int dim) {
  const Shape& s = a.shape();
  const std::size_t at = wrap_dim("squeeze", dim, s.size(), s);
  if (s[at] != 1) {
    throw std::invalid_argument("squeeze: dim " + std::to_string(dim) + " of " + shape_str(s) +
                                " has size " + std::to_string(s[at]) + ", not 1");
  }
  Sizes dims{};
  for (std::size_t d = 0, k = 0; d < s.size(); ++d) {
    if (d != at) dims[k++] = s[d];
  }
  return reshape_to(a, dims.data(), s.size() - 1);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// permute. Result dim i is a's dim dims[i] (n.labels = dims), so d permute(a) = g read back with
// the inverse permutation: a's dim dims[i] steps through g as g's dim i does.
const OpDef permute_op{"permute", [](auto& t, const auto& n) {
  const auto d = grad_out(t, n.in[0]);
  if (!d) return;
  const std::size_t rank = n.shape.size();
  const Sizes g_stride = strides_of(n.shape.data(), rank);
  Sizes stride{};
  for (std::size_t i = 0; i < rank; ++i) stride[static_cast<std::size_t>(n.labels[i])] = g_stride[i];
  const Shape& in = t.shape(n.in[0]);
  if (d.add) {
    copy_strided<true>(n.grad.data(), in.data(), stride.data(), rank, d.d);
  } else {
    copy_strided<false>(n.grad.data(), in.data(), stride.data(), rank, d.d);
  }
}};

// a with its dimensions in the order dims[0..count), each an index into a's shape (negative from
// the end), each of a's dimensions listed once.
template <class T>
BasicVar<T> permute_dims(const BasicVar<T>& a, const int* dims, std::size_t count) {
  const Shape& s = a.shape();
  const std::size_t rank = s.size();
  std::array<int, max_rank> order{};
  unsigned seen = 0;  // a bit per dimension listed
  bool ok = count == rank;
  for (std::size_t i = 0; ok && i < count; ++i) {
    const auto r = static_cast<int>(rank);
    ok = dims[i] >= -r && dims[i] < r;
    if (!ok) break;
    order[i] = dims[i] < 0 ? dims[i] + r : dims[i];
    ok = (seen & (1u << order[i])) == 0;
    seen |= 1u << order[i];
  }
  if (!ok) {
    throw std::invalid_argument("permute: dims " + list_str(std::vector<int>(dims, dims + count)) +
                                " do not list each of the " + std::to_string(rank) +
                                " dimensions of " + shape_str(s) + " once");
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(permute_op, a);
  n.labels.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(rank));
  const Shape& in = t.shape(n.in[0]);
  const Sizes in_stride = strides_of(in.data(), rank);
  Sizes stride{};
  n.shape.resize(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const auto from = static_cast<std::size_t>(order[i]);
    n.shape[i] = in[from];
    stride[i] = in_stride[from];
  }
  t.shape_value(n);
  copy_strided<false>(t.value(n.in[0]).data(), n.shape.data(), stride.data(), rank, n.value.data());
  return t.result(n);
}

}  // namespace

template <class T>
BasicVar<T> permute(const BasicVar<T>& a, const Dims& dims) {
  check_dims("permute", dims, "dims");
  std::array<int, max_rank> order{};
  for (std::size_t i = 0; i < dims.size(); ++i) {
    // beyond int's range is out of range for any rank: clamp so that the check below names it
    const std::int64_t d = dims[i];
    order[i] = d > 1000 ? 1000 : d < -1000 ? -1000 : static_cast<int>(d);
  }
  return permute_dims(a, order.data(), dims.size());
}

template <class T>
BasicVar<T> transpose(const BasicVar<T>& a, int dim0, int dim1) {
  // permute with two dims swapped: the same op, the same one strided copy
  const Shape& s = a.shape();
  const std::size_t d0 = wrap_dim("transpose", dim0, s.size(), s);
  const std::size_t d1 = wrap_dim("transpose", dim1, s.size(), s);
  std::array<int, max_rank> order{};
  for (std::size_t d = 0; d < s.size(); ++d) order[d] = static_cast<int>(d);
  std::swap(order[d0], order[d1]);
  return permute_dims(a, order.data(), s.size());
}

// ---------------------------------------------------------------------------------------------------
// d aᵀ = gᵀ (a matrix)
namespace {
const OpDef transpose_op{"transpose", [](auto& t, const auto& n) {
  t.accumulate(n.in[0], xt::transpose(n.grad));
}};
}  // namespace

template <class T>
BasicVar<T> transpose(const BasicVar<T>& a) {
  require_matrix("transpose", a, "transpose(a, dim0, dim1) or permute(a, dims)");
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(transpose_op, a);
  const BasicMatrix<T>& x = t.value(n.in[0]);
  n.value.resize({x.shape(1), x.shape(0)});
  xt::noalias(n.value) = xt::transpose(x);
  return t.result(n);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// slice along one dim. Seen as [outer, size, inner] around the dim, the result is [outer, end −
// begin, inner]; d a[..., begin:end, ...] = g placed back in that block, 0 elsewhere.
// n.attr = {dim, begin, end}.
const OpDef slice_dim_op{"slice_dim", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  BasicMatrix<T>* da = zeroed_grad(t, n.in[0]);
  if (da == nullptr) return;
  const Shape& in = t.shape(n.in[0]);
  const std::size_t dim = n.attr[0], begin = n.attr[1], end = n.attr[2];
  const std::size_t outer = extent(in, 0, dim), inner = extent(in, dim + 1, in.size());
  const std::size_t from = in[dim] * inner, width = (end - begin) * inner;
  for (std::size_t o = 0; o < outer; ++o) {
    const T* g = n.grad.data() + o * width;
    T* d = da->data() + o * from + begin * inner;
    for (std::size_t c = 0; c < width; ++c) d[c] += g[c];
  }
}};

}  // namespace

template <class T>
BasicVar<T> slice(const BasicVar<T>& a, int dim, std::size_t begin, std::size_t end) {
  const Shape& s = a.shape();
  const std::size_t at = wrap_dim("slice", dim, s.size(), s);
  if (begin > end || end > s[at]) {
    throw std::invalid_argument("slice: [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") along dim " + std::to_string(dim) + " is not within " +
                                shape_str(s) + " (0 <= begin <= end <= " + std::to_string(s[at]) +
                                ")");
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(slice_dim_op, a);
  n.attr = {at, begin, end, 0};
  const Shape& in = t.shape(n.in[0]);
  n.shape.assign(in.begin(), in.end());
  n.shape[at] = end - begin;
  t.shape_value(n);
  const std::size_t outer = extent(in, 0, at), inner = extent(in, at + 1, in.size());
  const std::size_t from = in[at] * inner, width = (end - begin) * inner;
  const T* src = t.value(n.in[0]).data();
  for (std::size_t o = 0; width > 0 && o < outer; ++o) {
    const T* row = src + o * from + begin * inner;
    std::copy(row, row + width, n.value.data() + o * width);
  }
  return t.result(n);
}

template <class T>
BasicVar<T> narrow(const BasicVar<T>& a, int dim, std::size_t start, std::size_t length) {
  const Shape& s = a.shape();
  const std::size_t at = wrap_dim("narrow", dim, s.size(), s);
  if (start > s[at] || length > s[at] - start) {
    throw std::invalid_argument("narrow: " + std::to_string(length) + " from " +
                                std::to_string(start) + " along dim " + std::to_string(dim) +
                                " is not within " + shape_str(s) + " (start + length <= " +
                                std::to_string(s[at]) + ")");
  }
  return slice(a, dim, start, start + length);
}

// ---------------------------------------------------------------------------------------------------
// d a[r0:r1, c0:c1] = g placed in the block, 0 elsewhere (a matrix); n.attr = {r0, r1, c0, c1}
namespace {
// d[r0 + r, c0 + c] += g[r, c] for every element of g: a block's gradient put back in place.
template <class T>
void add_block(const BasicMatrix<T>& g, std::size_t r0, std::size_t c0, BasicMatrix<T>& d) {
  const std::size_t rows = g.shape(0), cols = g.shape(1);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* gr = g.data() + r * cols;
    T* dr = d.data() + (r0 + r) * d.shape(1) + c0;
    for (std::size_t c = 0; c < cols; ++c) dr[c] += gr[c];
  }
}

const OpDef slice_op{"slice", [](auto& t, const auto& n) {
  auto* da = zeroed_grad(t, n.in[0]);
  if (da == nullptr) return;
  add_block(n.grad, n.attr[0], n.attr[2], *da);
}};
}  // namespace

template <class T>
BasicVar<T> slice(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end) {
  require_matrix("slice", a, "slice(a, dim, begin, end)");
  const BasicMatrix<T>& x = a.value();
  if (row_begin > row_end || row_end > x.shape(0) || col_begin > col_end || col_end > x.shape(1)) {
    throw std::invalid_argument("slice: rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") and columns [" +
                                std::to_string(col_begin) + ", " + std::to_string(col_end) +
                                ") are not within " + shape_str(x));
  }
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(slice_op, a);
  n.attr = {row_begin, row_end, col_begin, col_end};
  const std::size_t rows = row_end - row_begin, cols = col_end - col_begin;
  n.value.resize({rows, cols});
  for (std::size_t r = 0; cols > 0 && r < rows; ++r) {
    const T* src = x.data() + (row_begin + r) * x.shape(1) + col_begin;
    std::copy(src, src + cols, n.value.data() + r * cols);
  }
  return t.result(n);
}

// Rows or columns of a matrix: slice() of the whole other axis.
template <class T>
BasicVar<T> slice_rows(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end) {
  return slice(a, row_begin, row_end, 0, a.cols());
}

template <class T>
BasicVar<T> slice_cols(const BasicVar<T>& a, std::size_t col_begin, std::size_t col_end) {
  return slice(a, 0, a.rows(), col_begin, col_end);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// concat. d concat(a₀, a₁, …) = the block of g where each input went; n.attr[0] is the axis.
// Matrices as they always were; any other rank seen as [outer, size_k, inner] around the axis,
// input k filling size_k · inner of each of the outer rows of g.
const OpDef concat_op{"concat", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  if (n.shape.size() != 2) {
    const std::size_t ax = n.attr[0];
    const std::size_t outer = extent(n.shape, 0, ax), inner = extent(n.shape, ax + 1, n.shape.size());
    const std::size_t width = n.shape[ax] * inner;  // one outer row of g
    std::size_t offset = 0;
    for (std::uint32_t in : n.in) {
      const std::size_t block = t.shape(in)[ax] * inner;
      if (t.requires_grad(in)) {
        bool add = false;
        BasicMatrix<T>& da = t.grad_target(in, add);
        for (std::size_t o = 0; o < outer; ++o) {
          const T* g = n.grad.data() + o * width + offset;
          T* d = da.data() + o * block;
          for (std::size_t c = 0; c < block; ++c) d[c] = add ? d[c] + g[c] : g[c];
        }
      }
      offset += block;
    }
    return;
  }
  const std::size_t cols = n.grad.shape(1);
  std::size_t offset = 0;
  for (std::uint32_t in : n.in) {
    const BasicMatrix<T>& v = t.value(in);
    const std::size_t vr = v.shape(0), vc = v.shape(1);
    if (t.requires_grad(in)) {
      bool add = false;
      BasicMatrix<T>& da = t.grad_target(in, add);
      for (std::size_t r = 0; r < vr; ++r) {
        const T* g = n.attr[0] == 0 ? n.grad.data() + (offset + r) * cols
                                         : n.grad.data() + r * cols + offset;
        T* d = da.data() + r * vc;
        for (std::size_t c = 0; c < vc; ++c) d[c] = add ? d[c] + g[c] : g[c];
      }
    }
    offset += n.attr[0] == 0 ? vr : vc;
  }
}};

// concat of inputs of one rank other than 2 along dim axis (negative from the end).
template <class T>
BasicVar<T> concat_any_rank(const BasicVar<T>* parts, std::size_t count, int axis) {
  const Shape& first = parts[0].shape();
  const std::size_t rank = first.size();
  if (rank == 0) {
    throw std::invalid_argument("concat: input 0 is a scalar [], which has no dimension to join along");
  }
  for (std::size_t k = 1; k < count; ++k) {
    if (parts[k].dim() != rank) {
      throw std::invalid_argument("concat: input " + std::to_string(k) + " is " +
                                  shape_str(parts[k].shape()) + ", input 0 is " + shape_str(first) +
                                  " (their ranks must agree)");
    }
  }
  const std::size_t ax = wrap_dim("concat", axis, rank, first);
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const Shape& s = parts[k].shape();
    for (std::size_t d = 0; d < rank; ++d) {
      if (d != ax && s[d] != first[d]) {
        throw std::invalid_argument("concat: along dim " + std::to_string(axis) + " input " +
                                    std::to_string(k) + " is " + shape_str(s) + ", input 0 is " +
                                    shape_str(first) + " (all dimensions but " +
                                    std::to_string(ax) + " must agree)");
      }
    }
    total = checked_sum("concat", total, s[ax]);
  }
  Sizes out{};
  std::copy(first.begin(), first.end(), out.begin());
  out[ax] = total;
  checked_count_of<T>("concat", out.data(), rank);
  BasicTape<T>& t = parts[0].tape();
  BasicNode<T>& n = t.record(concat_op, parts, count);
  n.attr[0] = ax;
  n.shape.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(rank));
  t.shape_value(n);
  const std::size_t outer = extent(n.shape, 0, ax), inner = extent(n.shape, ax + 1, rank);
  const std::size_t width = total * inner;  // one outer row of the result
  std::size_t offset = 0;
  for (std::uint32_t in : n.in) {
    const std::size_t block = t.shape(in)[ax] * inner;
    const T* src = t.value(in).data();
    for (std::size_t o = 0; block > 0 && o < outer; ++o) {
      std::copy(src + o * block, src + (o + 1) * block, n.value.data() + o * width + offset);
    }
    offset += block;
  }
  return t.result(n);
}

template <class T>
BasicVar<T> concat_parts(const BasicVar<T>* parts, std::size_t count, int axis) {
  if (count == 0) throw std::invalid_argument("concat: no inputs");
  for (std::size_t k = 0; k < count; ++k) {
    if (parts[k].dim() != 2) return concat_any_rank(parts, count, axis);
  }
  if (axis == -1 || axis == -2) axis += 2;  // from the end, as in any rank
  const BasicMatrix<T>& first = parts[0].value();
  const std::size_t ax = check_axis("concat", axis, first);
  const std::size_t keep = 1 - ax;  // the dimension all parts share
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const BasicMatrix<T>& v = parts[k].value();
    if (v.shape(keep) != first.shape(keep)) {
      throw std::invalid_argument("concat: along axis " + std::to_string(axis) + " input " +
                                  std::to_string(k) + " is " + shape_str(v) + ", input 0 is " +
                                  shape_str(first) + " (their " + (ax == 0 ? "column" : "row") +
                                  " counts must agree)");
    }
    total = checked_sum("concat", total, v.shape(ax));
  }
  const std::size_t rows = ax == 0 ? total : first.shape(0), cols = ax == 0 ? first.shape(1) : total;
  checked_size<T>("concat", rows, cols);
  BasicTape<T>& t = parts[0].tape();
  BasicNode<T>& n = t.record(concat_op, parts, count);
  n.attr[0] = ax;
  n.value.resize({rows, cols});
  std::size_t offset = 0;
  for (std::uint32_t in : n.in) {
    const BasicMatrix<T>& v = t.value(in);
    const std::size_t vr = v.shape(0), vc = v.shape(1);
    for (std::size_t r = 0; vc > 0 && r < vr; ++r) {
      T* out = ax == 0 ? n.value.data() + (offset + r) * cols : n.value.data() + r * cols + offset;
      std::copy(v.data() + r * vc, v.data() + (r + 1) * vc, out);
    }
    offset += ax == 0 ? vr : vc;
  }
  return t.result(n);
}

// stack: each part with a new dimension of 1 at dim, joined along it. All checked first, so that
// an error records nothing (not even the unsqueezed parts).
template <class T>
BasicVar<T> stack_parts(const BasicVar<T>* parts, std::size_t count, int dim) {
  if (count == 0) throw std::invalid_argument("stack: no inputs");
  const Shape& first = parts[0].shape();
  for (std::size_t k = 1; k < count; ++k) {
    if (parts[k].shape() != first) {
      throw std::invalid_argument("stack: input " + std::to_string(k) + " is " +
                                  shape_str(parts[k].shape()) + ", input 0 is " + shape_str(first) +
                                  " (all must have one shape)");
    }
  }
  const std::size_t rank = first.size() + 1;
  check_rank("stack", rank, [&] { return "the result of stacking " + shape_str(first) + "s"; });
  const std::size_t at = wrap_dim("stack", dim, rank, first);
  Sizes out{};
  for (std::size_t d = 0, k = 0; d < rank; ++d) out[d] = d == at ? count : first[k++];
  checked_count_of<T>("stack", out.data(), rank);
  // All on one tape (std::logic_error otherwise) before any unsqueeze records.
  for (std::size_t k = 1; k < count; ++k) (void)parts[0].tape().node(parts[k]);
  thread_local std::vector<BasicVar<T>> rows;  // keeps its capacity from call to call
  rows.clear();
  for (std::size_t k = 0; k < count; ++k) rows.push_back(unsqueeze(parts[k], static_cast<int>(at)));
  return concat_parts(rows.data(), count, static_cast<int>(at));
}

}  // namespace

template <class T>
BasicVar<T> concat(std::initializer_list<BasicVar<T>> parts, int axis) {
  return concat_parts(parts.begin(), parts.size(), axis);
}

template <class T>
BasicVar<T> concat(const std::vector<BasicVar<T>>& parts, int axis) {
  return concat_parts(parts.data(), parts.size(), axis);
}

template <class T>
BasicVar<T> cat(std::initializer_list<BasicVar<T>> parts, int dim) {
  return concat_parts(parts.begin(), parts.size(), dim);
}

template <class T>
BasicVar<T> cat(const std::vector<BasicVar<T>>& parts, int dim) {
  return concat_parts(parts.data(), parts.size(), dim);
}

template <class T>
BasicVar<T> stack(std::initializer_list<BasicVar<T>> parts, int dim) {
  return stack_parts(parts.begin(), parts.size(), dim);
}

template <class T>
BasicVar<T> stack(const std::vector<BasicVar<T>>& parts, int dim) {
  return stack_parts(parts.data(), parts.size(), dim);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// broadcast_to. d broadcast_to(a) = g summed over the dimensions a was stretched along (and over
// the leading ones it did not have).
const OpDef broadcast_to_op{"broadcast_to", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  BasicMatrix<T>* da = zeroed_grad(t, n.in[0]);
  if (da == nullptr) return;
  const T* g = n.grad.data();
  T* d = da->data();
  const Shape& in = t.shape(n.in[0]);
  detail::for_each_broadcast(n.shape, in, in,
                             [&](std::size_t o, std::size_t i, std::size_t) { d[i] += g[o]; });
}};

}  // namespace

template <class T>
BasicVar<T> broadcast_to(const BasicVar<T>& a, const Shape& shape) {
  const Shape& s = a.shape();
  check_rank("broadcast_to", shape.size(), [&] { return "the shape " + shape_str(shape); });
  if (shape.size() < s.size()) {
    throw std::invalid_argument("broadcast_to: " + shape_str(s) + " cannot be broadcast to " +
                                shape_str(shape) + ", which has fewer dimensions");
  }
  for (std::size_t d = 0; d < s.size(); ++d) {  // aligned at the last dimension
    const std::size_t from = s[s.size() - 1 - d], to = shape[shape.size() - 1 - d];
    if (from != to && from != 1) {
      throw std::invalid_argument("broadcast_to: " + shape_str(s) + " cannot be broadcast to " +
                                  shape_str(shape) + ": dim " + std::to_string(s.size() - 1 - d) +
                                  " is " + std::to_string(from) + ", neither 1 nor " +
                                  std::to_string(to));
    }
  }
  checked_count<T>("broadcast_to", shape);
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(broadcast_to_op, a);
  n.shape.assign(shape.begin(), shape.end());
  t.shape_value(n);
  const Sizes stride = broadcast_strides(t.shape(n.in[0]), n.shape);  // 0 along the stretched dims
  copy_strided<false>(t.value(n.in[0]).data(), n.shape.data(), stride.data(), n.shape.size(),
                      n.value.data());
  return t.result(n);
}

namespace {

// ---------------------------------------------------------------------------------------------------
// index_select. Seen as [outer, size, inner] around the dim, result [o, i, :] = a[o, ids[i], :], so
// d index_select = g's [o, i, :] added to a's [o, ids[i], :] (a repeated id gets every share).
// n.attr[0] = dim, n.labels = ids.
const OpDef index_select_op{"index_select", [](auto& t, const auto& n) {
  using T = value_t<decltype(n)>;
  BasicMatrix<T>* da = zeroed_grad(t, n.in[0]);
  if (da == nullptr) return;
  const Shape& in = t.shape(n.in[0]);
  const std::size_t dim = n.attr[0], count = n.labels.size();
  const std::size_t outer = extent(in, 0, dim), inner = extent(in, dim + 1, in.size());
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < count; ++i) {
      const T* g = n.grad.data() + (o * count + i) * inner;
      T* d = da->data() + (o * in[dim] + static_cast<std::size_t>(n.labels[i])) * inner;
      for (std::size_t c = 0; c < inner; ++c) d[c] += g[c];
    }
  }
}};

}  // namespace

template <class T>
BasicVar<T> index_select(const BasicVar<T>& a, int dim, const Labels& ids) {
  const Shape& s = a.shape();
  const std::size_t at = wrap_dim("index_select", dim, s.size(), s);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= s[at]) {
      throw std::invalid_argument("index_select: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is not within dim " + std::to_string(dim) +
                                  " of " + shape_str(s) + " (size " + std::to_string(s[at]) + ")");
    }
  }
  Sizes out{};
  std::copy(s.begin(), s.end(), out.begin());
  out[at] = ids.size();
  checked_count_of<T>("index_select", out.data(), s.size());
  BasicTape<T>& t = a.tape();
  BasicNode<T>& n = t.record(index_select_op, a);
  n.attr[0] = at;
  n.labels.assign(ids.begin(), ids.end());
  const Shape& in = t.shape(n.in[0]);
  n.shape.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(in.size()));
  t.shape_value(n);
  const std::size_t outer = extent(in, 0, at), inner = extent(in, at + 1, in.size());
  const T* src = t.value(n.in[0]).data();
  T* dst = n.value.data();
  for (std::size_t o = 0; inner > 0 && o < outer; ++o) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const T* from = src + (o * in[at] + static_cast<std::size_t>(ids[i])) * inner;
      std::copy(from, from + inner, dst + (o * ids.size() + i) * inner);
    }
  }
  return t.result(n);
}

// ---------------------------------------------------------------------------------------------------
// d table[ids] = g's row i added to table row ids[i] (a repeated id gets every share); n.labels = ids
namespace {
// Row ids[i] of d += row i of g, for each i: the gradient of rows gathered by id.
template <class T>
void add_rows_at(const BasicMatrix<T>& g, const Labels& ids, BasicMatrix<T>& d) {
  const std::size_t cols = g.shape(1);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T* gr = g.data() + i * cols;
    T* dr = d.data() + static_cast<std::size_t>(ids[i]) * cols;
    for (std::size_t c = 0; c < cols; ++c) dr[c] += gr[c];
  }
}

const OpDef gather_rows_op{"gather_rows", [](auto& t, const auto& n) {
  auto* dt = zeroed_grad(t, n.in[0]);
  if (dt == nullptr) return;
  add_rows_at(n.grad, n.labels, *dt);
}};
}  // namespace

template <class T>
BasicVar<T> gather_rows(const BasicVar<T>& table, const Labels& ids) {
  require_matrix("gather_rows", table, "index_select(a, 0, ids)");
  const BasicMatrix<T>& w = table.value();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= w.shape(0)) {
      throw std::invalid_argument("gather_rows: id " + std::to_string(ids[i]) + " at position " +
                                  std::to_string(i) + " is not a row of " + shape_str(w));
    }
  }
  checked_size<T>("gather_rows", ids.size(), w.shape(1));
  BasicTape<T>& t = table.tape();
  BasicNode<T>& n = t.record(gather_rows_op, table);
  n.labels.assign(ids.begin(), ids.end());
  const std::size_t cols = w.shape(1);
  n.value.resize({ids.size(), cols});
  const BasicMatrix<T>& src = t.value(n.in[0]);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T* row = src.data() + static_cast<std::size_t>(ids[i]) * cols;
    std::copy(row, row + cols, n.value.data() + i * cols);
  }
  return t.result(n);
}

// embedding = gather_rows, then a reshape: composed, no rule of its own
template <class T>
BasicVar<T> embedding(const BasicVar<T>& table, const Labels& ids, const Shape& ids_shape) {
  // gather_rows gives [ids.size() x d], whose elements are those of ids_shape + [d] in order: a
  // reshape gives them that shape. Composed, no rule of its own; checked first, naming embedding.
  const Shape& w = table.shape();
  if (w.size() != 2) {
    throw std::invalid_argument("embedding: the table must be a matrix [V x d], got " + shape_str(w));
  }
  const std::size_t rank = ids_shape.size() + 1;
  check_rank("embedding", rank, [&] { return "the result for ids of " + shape_str(ids_shape); });
  Sizes out{};
  std::copy(ids_shape.begin(), ids_shape.end(), out.begin());
  out[rank - 1] = 1;
  const std::size_t positions = checked_count_of<T>("embedding", out.data(), rank);
  if (positions != ids.size()) {
    throw std::invalid_argument("embedding: " + std::to_string(ids.size()) + " ids for ids_shape " +
                                shape_str(ids_shape) + ", which has " + std::to_string(positions) +
                                " positions");
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= w[0]) {
      std::string where = std::to_string(i);  // and as an index into ids_shape: 4 (1, 1)
      if (ids_shape.size() > 1) {
        std::string index;
        for (std::size_t d = ids_shape.size(), rest = i; d-- > 0;) {
          index = std::to_string(rest % ids_shape[d]) + (index.empty() ? "" : ", ") + index;
          rest /= ids_shape[d];
        }
        where += " (" + index + ")";
      }
      throw std::invalid_argument("embedding: id " + std::to_string(ids[i]) + " at position " +
                                  where + " of ids " +
                                  shape_str(ids_shape) + " is not a row of the table " +
                                  shape_str(w));
    }
  }
  out[rank - 1] = w[1];
  checked_count_of<T>("embedding", out.data(), rank);
  return reshape_to(gather_rows(table, ids), out.data(), rank);
}

// Every op of this file for both precisions.
#define AUTOGRAD_INSTANTIATE_SHAPE_OPS(T)                                                         \
  template BasicVar<T> reshape(const BasicVar<T>&, std::size_t, std::size_t);                     \
  template BasicVar<T> reshape(const BasicVar<T>&, const Dims&);             \
  template BasicVar<T> unsqueeze(const BasicVar<T>&, int);                                        \
  template BasicVar<T> squeeze(const BasicVar<T>&, int);                                          \
  template BasicVar<T> permute(const BasicVar<T>&, const Dims&);                      \
  template BasicVar<T> transpose(const BasicVar<T>&, int, int);                                   \
  template BasicVar<T> transpose(const BasicVar<T>&);                                             \
  template BasicVar<T> slice(const BasicVar<T>&, int, std::size_t, std::size_t);                  \
  template BasicVar<T> narrow(const BasicVar<T>&, int, std::size_t, std::size_t);                 \
  template BasicVar<T> slice(const BasicVar<T>&, std::size_t, std::size_t, std::size_t, std::size_t); \
  template BasicVar<T> slice_rows(const BasicVar<T>&, std::size_t, std::size_t);                  \
  template BasicVar<T> slice_cols(const BasicVar<T>&, std::size_t, std::size_t);                  \
  template BasicVar<T> concat(std::initializer_list<BasicVar<T>>, int);                           \
  template BasicVar<T> concat(const std::vector<BasicVar<T>>&, int);                              \
  template BasicVar<T> cat(std::initializer_list<BasicVar<T>>, int);                              \
  template BasicVar<T> cat(const std::vector<BasicVar<T>>&, int);                                 \
  template BasicVar<T> stack(std::initializer_list<BasicVar<T>>, int);                            \
  template BasicVar<T> stack(const std::vector<BasicVar<T>>&, int);                               \
  template BasicVar<T> broadcast_to(const BasicVar<T>&, const Shape&);                            \
  template BasicVar<T> index_select(const BasicVar<T>&, int, const Labels&);                      \
  template BasicVar<T> gather_rows(const BasicVar<T>&, const Labels&);                            \
  template BasicVar<T> embedding(const BasicVar<T>&, const Labels&, const Shape&);

AUTOGRAD_INSTANTIATE_SHAPE_OPS(double)
AUTOGRAD_INSTANTIATE_SHAPE_OPS(float)
#undef AUTOGRAD_INSTANTIATE_SHAPE_OPS

}  // namespace autograd
