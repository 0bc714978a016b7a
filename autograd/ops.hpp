#pragma once
/// \file
/// The ops: each takes handles on one tape and returns the handle of its result.
///
/// Each op is one block of its file: its derivative, its backward rule, then its forward, in
/// elementwise_ops.cpp, reduce_ops.cpp, shape_ops.cpp, products.cpp and softmax_ops.cpp. Values
/// have any rank (Var::shape()); the matrix spellings (sum(a, 0), slice(a, r0, r1, c0, c1), …) take
/// [rows x cols], where a scalar is [1 x 1], and the ops of any rank follow PyTorch's names and
/// argument order (a negative dim counts from the end). Every op exists for both precisions (T = double or
/// float, `BasicVar<T>` = Var or f32::Var); the inputs of one op share a tape and so a precision.
/// Numbers given as double (a scale factor, a constant) are rounded to T. Inputs of the wrong
/// shape throw std::invalid_argument naming the op and the shapes, e.g.
/// "matmul: inner dimensions differ: [2 x 3] and [2 x 2]"; a stale or empty handle, or handles of
/// two tapes, throw std::logic_error.
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <vector>

#include "autograd/tape.hpp"

namespace autograd {

/// Matrix product: [n x k] · [k x m] -> [n x m]. Values of higher rank multiply as numpy's matmul
/// does: [..., n, k] · [..., k, m] -> [..., n, m], one product per slice of the leading (batch)
/// dimensions, which broadcast ([2, 1, n, k] · [3, k, m] -> [2, 3, n, m]). [B, T, k] · [k, m] is
/// one product on the rows of the [(B·T) x k] storage. Both inputs need rank 2 or more (unsqueeze
/// a vector first). Copies into a new value; the gradient of a slice broadcast over several
/// batches is the sum of their shares.
template <class T>
BasicVar<T> matmul(const BasicVar<T>& a, const BasicVar<T>& b);

/// a + b elementwise, with broadcasting: each dimension must match or be 1 on one side
/// ([n x k] + [1 x k] adds a bias row to every row). The backward sums the gradient over the
/// broadcast rows/columns.
template <class T>
BasicVar<T> add(const BasicVar<T>& a, const BasicVar<T>& b);
/// a − b elementwise, broadcasting like add().
template <class T>
BasicVar<T> sub(const BasicVar<T>& a, const BasicVar<T>& b);
/// a ∘ b (elementwise product), broadcasting like add().
template <class T>
BasicVar<T> mul(const BasicVar<T>& a, const BasicVar<T>& b);

/// a / b elementwise, broadcasting like add().
template <class T>
BasicVar<T> div(const BasicVar<T>& a, const BasicVar<T>& b);

/// c · a.
template <class T>
BasicVar<T> scale(const BasicVar<T>& a, double c);
/// The sum of all elements -> [1 x 1].
template <class T>
BasicVar<T> sum(const BasicVar<T>& a);
/// The mean of all elements -> [1 x 1].
template <class T>
BasicVar<T> mean(const BasicVar<T>& a);
/// t0 + t1 + …, all of one shape (a running loss); throws std::invalid_argument if there are none.
template <class T>
BasicVar<T> sum(const std::vector<BasicVar<T>>& terms);

/// The sum along one axis, kept 2-D so that it broadcasts back (numpy's keepdims=True):
/// axis 0 reduces over rows -> [1 x C], axis 1 over columns -> [R x 1].
template <class T>
BasicVar<T> sum(const BasicVar<T>& a, int axis);
/// The mean along one axis, kept 2-D as sum(a, axis) is.
template <class T>
BasicVar<T> mean(const BasicVar<T>& a, int axis);
/// The largest value along one axis, kept 2-D as sum(a, axis) is. The gradient goes to the arg-max;
/// of equal maxima, the first (lowest index) gets all of it.
template <class T>
BasicVar<T> max(const BasicVar<T>& a, int axis);

// Reductions of any rank (reduce_ops.cpp).
/// The sum over the dimensions dims of a value of any rank (torch.sum(a, dims, keepdim)); dims may
/// be negative (−1 is the last) and must each appear once. keepdim keeps them as size 1, so the
/// result broadcasts back against a; otherwise they are dropped (summing every dimension gives a
/// scalar, shape []). The gradient is g broadcast back over the summed dimensions. Copies.
/// (`sum(a, 0)` with a single int is the matrix spelling, which always keeps the dimension.)
template <class T>
BasicVar<T> sum(const BasicVar<T>& a, const Dims& dims, bool keepdim);
/// The mean over dims, as sum(a, dims, keepdim) divided by the count of elements averaged.
template <class T>
BasicVar<T> mean(const BasicVar<T>& a, const Dims& dims, bool keepdim);

/// tanh(a) elementwise (vectorised kernels, within 2 ulp of the C library).
template <class T>
BasicVar<T> tanh(const BasicVar<T>& a);
/// 1 / (1 + e^−a) elementwise.
template <class T>
BasicVar<T> sigmoid(const BasicVar<T>& a);
/// max(a, 0) elementwise; the gradient at 0 is 0.
template <class T>
BasicVar<T> relu(const BasicVar<T>& a);
/// e^a elementwise.
template <class T>
BasicVar<T> exp(const BasicVar<T>& a);
/// The natural logarithm, elementwise.
template <class T>
BasicVar<T> log(const BasicVar<T>& a);
/// √a elementwise.
template <class T>
BasicVar<T> sqrt(const BasicVar<T>& a);
/// a ∘ a.
template <class T>
BasicVar<T> square(const BasicVar<T>& a);
/// Row-wise softmax: each row becomes a probability distribution (stable: each row's max is
/// subtracted before exp).
template <class T>
BasicVar<T> softmax(const BasicVar<T>& a);
/// Row-wise log softmax(a), stable for any magnitude (each row's max is subtracted before exp).
template <class T>
BasicVar<T> log_softmax(const BasicVar<T>& a);

// Shapes.
/// [R x C] -> [C x R].
template <class T>
BasicVar<T> transpose(const BasicVar<T>& a);
/// The elements of a in row-major order as [rows x cols]; the element count must stay the same.
template <class T>
BasicVar<T> reshape(const BasicVar<T>& a, std::size_t rows, std::size_t cols);
/// Rows [row_begin, row_end) and columns [col_begin, col_end) of a (half-open, as Python's
/// a[r0:r1, c0:c1]).
template <class T>
BasicVar<T> slice(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end);
/// Rows [row_begin, row_end) of a, all columns.
template <class T>
BasicVar<T> slice_rows(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end);
/// Columns [col_begin, col_end) of a, all rows.
template <class T>
BasicVar<T> slice_cols(const BasicVar<T>& a, std::size_t col_begin, std::size_t col_end);
/// Joins any number of inputs along rows (axis 0: same column count) or columns (axis 1).
/// concat({a, b, c}, 1) allocates nothing. Inputs of any other rank (all of one rank, 1 or more)
/// join along dim axis, counted from the end when negative (-1 is the last, for matrices too),
/// all their other dimensions equal: [2, 3, 4] and [2, 5, 4] along 1 give [2, 8, 4] (torch.cat).
/// A copy; the gradient is each input's block of g.
template <class T>
BasicVar<T> concat(std::initializer_list<BasicVar<T>> parts, int axis);
/// concat() of the parts held in a std::vector.
template <class T>
BasicVar<T> concat(const std::vector<BasicVar<T>>& parts, int axis);
/// Row ids[i] of table for each i -> [ids.size() x table.cols]: an embedding lookup. The backward
/// scatter-adds, so a row picked several times gets every share.
template <class T>
BasicVar<T> gather_rows(const BasicVar<T>& table, const Labels& ids);

// Shapes of any rank.
// A dim counts from the end when negative (-1 is the last), as in PyTorch; one out of range throws
// std::invalid_argument naming the op, the dim and the shape. Every op here copies (none is a view).
/// The elements of a in row-major order in a shape of any rank (numpy's and torch.reshape): one
/// size may be -1, inferred from the element count ({2, 3, -1} of 24 elements is [2, 3, 4]; {} of
/// one element is a scalar); the element count must stay the same. reshape(a, rows, cols) is the
/// 2-D spelling. A copy; the gradient is g read in a's shape.
template <class T>
BasicVar<T> reshape(const BasicVar<T>& a, const Dims& shape);
/// a with a new dimension of size 1 at dim (-1 appends one): [2, 3] at 1 gives [2, 1, 3]. dim
/// ranges over rank + 1 places. A reshape: a copy, the gradient g read in a's shape.
template <class T>
BasicVar<T> unsqueeze(const BasicVar<T>& a, int dim);
/// a without its dimension dim, which must have size 1: [2, 1, 3] at 1 gives [2, 3]. Unlike
/// torch.squeeze, which silently leaves a dimension of another size, this throws naming the dim
/// and the shape. A reshape: a copy, the gradient g read in a's shape.
template <class T>
BasicVar<T> squeeze(const BasicVar<T>& a, int dim);
/// a with its dimensions reordered (torch.permute): result dimension i is a's dimension dims[i],
/// which must list each of a's dimensions once: [2, 3, 4] by {2, 0, 1} gives [4, 2, 3]. A copy;
/// the gradient is g permuted back (by the inverse permutation).
template <class T>
BasicVar<T> permute(const BasicVar<T>& a, const Dims& dims);
/// a with dimensions dim0 and dim1 swapped (torch.transpose), of any rank: permute() with those
/// two exchanged. A copy; the gradient is g with the two swapped back. transpose(a) is the 2-D
/// spelling.
template <class T>
BasicVar<T> transpose(const BasicVar<T>& a, int dim0, int dim1);
/// Entries [begin, end) of a along dim, all of every other dimension (half-open, as Python's
/// a[..., begin:end, ...]): [2, 3, 4] along 1 from 1 to 3 gives [2, 2, 4]. A range beyond the
/// dimension throws (where Python clamps it). A copy; the gradient is g placed back, 0 elsewhere.
/// slice(a, r0, r1, c0, c1) is the 2-D spelling of two ranges at once.
template <class T>
BasicVar<T> slice(const BasicVar<T>& a, int dim, std::size_t begin, std::size_t end);
/// torch.narrow: length entries of a along dim from start, i.e. slice(a, dim, start, start + length).
template <class T>
BasicVar<T> narrow(const BasicVar<T>& a, int dim, std::size_t start, std::size_t length);
/// torch.cat: concat() under PyTorch's name.
template <class T>
BasicVar<T> cat(std::initializer_list<BasicVar<T>> parts, int dim);
/// cat() of the parts held in a std::vector.
template <class T>
BasicVar<T> cat(const std::vector<BasicVar<T>>& parts, int dim);
/// torch.stack: inputs of one shape joined along a new dimension at dim (ranging over rank + 1
/// places): three [2, 3] along 0 give [3, 2, 3], along -1 [2, 3, 3]. unsqueeze() of each, then
/// concat(): copies; the gradient is each input's slice of g.
template <class T>
BasicVar<T> stack(std::initializer_list<BasicVar<T>> parts, int dim);
/// stack() of the parts held in a std::vector.
template <class T>
BasicVar<T> stack(const std::vector<BasicVar<T>>& parts, int dim);
/// a repeated to shape by numpy's broadcasting (torch.broadcast_to, torch.expand): the shapes are
/// aligned at their last dimension and each of a's dimensions must equal shape's or be 1 (leading
/// ones may be missing): [3] to [2, 3], [2, 1] to [4, 2, 5]. A copy (not a view of stride 0); the
/// gradient is g summed over the dimensions a was stretched along.
template <class T>
BasicVar<T> broadcast_to(const BasicVar<T>& a, const Shape& shape);
/// The entries ids[0], ids[1], … of a along dim (torch.index_select), each id in 0..size-1 (a bad
/// one is named with its position): [2, 5, 4] along 1 with 3 ids gives [2, 3, 4]. A copy; the
/// backward scatter-adds, so an entry picked several times gets every share.
template <class T>
BasicVar<T> index_select(const BasicVar<T>& a, int dim, const Labels& ids);
/// An embedding lookup for ids of any shape: table row ids[i] for each position of ids_shape,
/// giving ids_shape + [d] (ids of [B, T], row-major, give [B, T, d]). table must be a matrix
/// [V x d], ids.size() the product of ids_shape, each id in 0..V-1 (a bad one is named with its
/// position). gather_rows() then reshape(): copies; the backward scatter-adds, so a row picked
/// several times gets every share.
template <class T>
BasicVar<T> embedding(const BasicVar<T>& table, const Labels& ids, const Shape& ids_shape);

/// How a loss over rows is reduced.
enum class Reduction {
  sum,  ///< The sum over rows (the blog's objective) -> [1 x 1].
  mean,  ///< The mean over rows: the step size does not depend on the batch size -> [1 x 1].
  none  ///< No reduction: one loss per row, in the shape of the positions (PyTorch's 'none').
};
/// The ignore_index of softmax_cross_entropy() that ignores nothing (every label counts).
constexpr int no_ignore_index = std::numeric_limits<int>::min();
/// −log softmax(logits)[row, label[row]] for each row, summed or averaged over rows -> [1 x 1], or
/// per row with Reduction::none. Fused and numerically stable (each row's max is subtracted before
/// exp). There must be one label per row, each in 0..cols-1 (a bad one is named with its row).
///
/// Logits of any rank [..., C] score their last axis: the rows are all positions in row-major
/// order (the rows of the [(…) x C] storage), so [B, T, C] takes B·T labels, position (b, t) at
/// b·T + t. Reduction::none gives logits.shape[:-1] ([B, T]; [1 x C] gives [1]), its gradient
/// reaching each position's row alone.
///
/// A row whose label equals ignore_index (e.g. padding, as PyTorch's ignore_index) adds no loss
/// and gets a zero gradient; the mean divides by the rows kept. With every row ignored the mean is
/// 0, with a zero gradient (where PyTorch gives NaN). A kept row whose logits are all −inf (fully
/// masked) throws std::invalid_argument naming it; some −inf logits are fine.
template <class T>
BasicVar<T> softmax_cross_entropy(const BasicVar<T>& logits, const Labels& labels,
                          Reduction reduction = Reduction::mean, int ignore_index = no_ignore_index);

/// ½ · Σ w², so that d/dw = w.
template <class T>
BasicVar<T> l2_penalty(const BasicVar<T>& w);

// Products, softmax, masks and losses of any rank.
/// softmax along dim (negative counts from the end, −1 the last axis): every 1-D slice along dim
/// becomes a probability distribution, stable (its max is subtracted before exp). The last axis is
/// softmax(a); another axis is computed in place along its stride (no transposed copy). A copy
/// of a's shape; d softmax = out ∘ (g − Σ_dim g ∘ out). A slice that is entirely −inf (fully
/// masked) throws std::invalid_argument naming it; its −inf entries get probability 0 and
/// gradient 0 otherwise.
template <class T>
BasicVar<T> softmax(const BasicVar<T>& a, int dim);
/// log softmax along dim, as softmax(a, dim) (the last axis is log_softmax(a)); stable for any
/// magnitude. A copy of a's shape; d log_softmax = g − softmax ∘ Σ_dim g. −inf entries give −inf;
/// a fully masked slice throws.
template <class T>
BasicVar<T> log_softmax(const BasicVar<T>& a, int dim);
/// a with value wherever mask is nonzero (PyTorch's masked_fill): value may be ±inf, e.g.
/// −std::numeric_limits<double>::infinity() before a softmax. mask broadcasts to a's shape by
/// numpy's rules (a causal [T, T] mask against scores [B, H, T, T]) and is read, not
/// differentiated. A copy of a's shape; the gradient is g where the mask is 0, 0 where it is not.
template <class T>
BasicVar<T> masked_fill(const BasicVar<T>& a, const BasicVar<T>& mask, double value);

/// The column index of each row's largest value (the first of equal ones): predictions. Not an op:
/// nothing is recorded and there is no gradient.
template <class T>
Labels argmax(const BasicVar<T>& a);

/// a + c elementwise: the number joins the tape as a 1 x 1 constant and broadcasts.
template <class T>
BasicVar<T> add(const BasicVar<T>& a, double c);
/// c − a elementwise: the number joins the tape as a 1 x 1 constant and broadcasts.
template <class T>
BasicVar<T> rsub(double c, const BasicVar<T>& a);

/// add(a, b), where an empty Var (default-constructed) is the zero of +, so a running sum can start
/// from nothing: `Var loss; for (…) loss = loss + step_loss;` (or `loss += step_loss`).
template <class T>
BasicVar<T> operator+(const BasicVar<T>& a, const BasicVar<T>& b);
/// sub(a, b).
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a, const BasicVar<T>& b) { return sub(a, b); }
/// mul(a, b): elementwise, not a matrix product (that is matmul()).
template <class T>
inline BasicVar<T> operator*(const BasicVar<T>& a, const BasicVar<T>& b) { return mul(a, b); }  // elementwise
/// div(a, b), elementwise.
template <class T>
inline BasicVar<T> operator/(const BasicVar<T>& a, const BasicVar<T>& b) { return div(a, b); }  // elementwise
/// a = a + b; an empty a becomes b.
template <class T>
inline BasicVar<T>& operator+=(BasicVar<T>& a, const BasicVar<T>& b) { return a = a + b; }
/// −a.
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a) { return scale(a, -1.0); }

/// c · a.
template <class T>
inline BasicVar<T> operator*(double c, const BasicVar<T>& a) { return scale(a, c); }
/// a · c.
template <class T>
inline BasicVar<T> operator*(const BasicVar<T>& a, double c) { return scale(a, c); }
/// a / c, as a · (1 / c).
template <class T>
inline BasicVar<T> operator/(const BasicVar<T>& a, double c) { return scale(a, 1.0 / c); }
/// c / a elementwise.
template <class T>
BasicVar<T> operator/(double c, const BasicVar<T>& a);
/// a + c elementwise.
template <class T>
inline BasicVar<T> operator+(const BasicVar<T>& a, double c) { return add(a, c); }
/// c + a elementwise.
template <class T>
inline BasicVar<T> operator+(double c, const BasicVar<T>& a) { return add(a, c); }
/// a − c elementwise.
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a, double c) { return add(a, -c); }
/// c − a elementwise.
template <class T>
inline BasicVar<T> operator-(double c, const BasicVar<T>& a) { return rsub(c, a); }

}  // namespace autograd
