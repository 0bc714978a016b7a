#pragma once
// The ops. Each takes handles on one tape and returns the handle of its result; ops.cpp holds each
// op's forward value and backward rule side by side. Shapes are [rows x cols]; a scalar is [1 x 1].
// Every op exists for both precisions (T = double or float, BasicVar<T> = Var or f32::Var); the
// inputs of one op share a tape and so a precision. Numbers given as double (a scale factor, a
// constant) are rounded to T.
#include <initializer_list>
#include <vector>

#include "autograd/tape.hpp"

namespace autograd {

// [n x k] · [k x m] -> [n x m]
template <class T>
BasicVar<T> matmul(const BasicVar<T>& a, const BasicVar<T>& b);

// Elementwise with broadcasting: each dimension must match or be 1 on one side ([n x k] + [1 x k]
// adds a bias row to every row). The backward sums the gradient over the broadcast rows/columns.
template <class T>
BasicVar<T> add(const BasicVar<T>& a, const BasicVar<T>& b);
template <class T>
BasicVar<T> sub(const BasicVar<T>& a, const BasicVar<T>& b);
template <class T>
BasicVar<T> mul(const BasicVar<T>& a, const BasicVar<T>& b);

template <class T>
BasicVar<T> div(const BasicVar<T>& a, const BasicVar<T>& b);  // a / b elementwise, broadcasting like add

template <class T>
BasicVar<T> scale(const BasicVar<T>& a, double c);  // c · a
template <class T>
BasicVar<T> sum(const BasicVar<T>& a);              // sum of all elements -> [1 x 1]
template <class T>
BasicVar<T> mean(const BasicVar<T>& a);             // mean of all elements -> [1 x 1]
template <class T>
BasicVar<T> sum(const std::vector<BasicVar<T>>& terms);  // t0 + t1 + …, all of one shape (a running loss)

// Reductions along one axis, kept 2-D so that they broadcast back (numpy's keepdims=True):
// axis 0 reduces over rows -> [1 x C], axis 1 over columns -> [R x 1].
template <class T>
BasicVar<T> sum(const BasicVar<T>& a, int axis);
template <class T>
BasicVar<T> mean(const BasicVar<T>& a, int axis);
// The gradient goes to the arg-max; of equal maxima, the first (lowest index) gets all of it.
template <class T>
BasicVar<T> max(const BasicVar<T>& a, int axis);

template <class T>
BasicVar<T> tanh(const BasicVar<T>& a);
template <class T>
BasicVar<T> sigmoid(const BasicVar<T>& a);
template <class T>
BasicVar<T> relu(const BasicVar<T>& a);
template <class T>
BasicVar<T> exp(const BasicVar<T>& a);
template <class T>
BasicVar<T> log(const BasicVar<T>& a);
template <class T>
BasicVar<T> sqrt(const BasicVar<T>& a);
template <class T>
BasicVar<T> square(const BasicVar<T>& a);  // a ∘ a
template <class T>
BasicVar<T> softmax(const BasicVar<T>& a);  // row-wise: each row becomes a probability distribution
// Row-wise log softmax(a), stable for any magnitude (each row's max is subtracted before exp).
template <class T>
BasicVar<T> log_softmax(const BasicVar<T>& a);

// Shapes.
template <class T>
BasicVar<T> transpose(const BasicVar<T>& a);                              // [R x C] -> [C x R]
template <class T>
BasicVar<T> reshape(const BasicVar<T>& a, std::size_t rows, std::size_t cols);  // row-major, same element count
// Rows [row_begin, row_end) and columns [col_begin, col_end) of a (half-open, as Python's a[r0:r1, c0:c1]).
template <class T>
BasicVar<T> slice(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end);
template <class T>
BasicVar<T> slice_rows(const BasicVar<T>& a, std::size_t row_begin, std::size_t row_end);  // all columns
template <class T>
BasicVar<T> slice_cols(const BasicVar<T>& a, std::size_t col_begin, std::size_t col_end);  // all rows
// Joins any number of inputs along rows (axis 0: same column count) or columns (axis 1).
// concat({a, b, c}, 1) allocates nothing; a std::vector of parts works too.
template <class T>
BasicVar<T> concat(std::initializer_list<BasicVar<T>> parts, int axis);
template <class T>
BasicVar<T> concat(const std::vector<BasicVar<T>>& parts, int axis);
// Row ids[i] of table for each i -> [ids.size() x table.cols]: an embedding lookup. The backward
// scatter-adds, so a row picked several times gets every share.
template <class T>
BasicVar<T> gather_rows(const BasicVar<T>& table, const Labels& ids);

enum class Reduction { sum, mean };
// -Σ_rows log softmax(logits)[row, label[row]], summed or averaged over rows -> [1 x 1].
// Fused and numerically stable (each row's max is subtracted before exp).
template <class T>
BasicVar<T> softmax_cross_entropy(const BasicVar<T>& logits, const Labels& labels,
                          Reduction reduction = Reduction::mean);

// ½ · Σ w², so that d/dw = w.
template <class T>
BasicVar<T> l2_penalty(const BasicVar<T>& w);

// The column index of each row's largest value (the first of equal ones): predictions. Not an op:
// nothing is recorded and there is no gradient.
template <class T>
Labels argmax(const BasicVar<T>& a);

// a + c and c − a elementwise: the number joins the tape as a 1 x 1 constant and broadcasts.
template <class T>
BasicVar<T> add(const BasicVar<T>& a, double c);
template <class T>
BasicVar<T> rsub(double c, const BasicVar<T>& a);

// An empty Var (default-constructed) is the zero of +, so a running sum can start from nothing:
// `Var loss; for (…) loss = loss + step_loss;` (or `loss += step_loss`).
template <class T>
BasicVar<T> operator+(const BasicVar<T>& a, const BasicVar<T>& b);
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a, const BasicVar<T>& b) { return sub(a, b); }
template <class T>
inline BasicVar<T> operator*(const BasicVar<T>& a, const BasicVar<T>& b) { return mul(a, b); }  // elementwise
template <class T>
inline BasicVar<T> operator/(const BasicVar<T>& a, const BasicVar<T>& b) { return div(a, b); }  // elementwise
template <class T>
inline BasicVar<T>& operator+=(BasicVar<T>& a, const BasicVar<T>& b) { return a = a + b; }
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a) { return scale(a, -1.0); }

template <class T>
inline BasicVar<T> operator*(double c, const BasicVar<T>& a) { return scale(a, c); }
template <class T>
inline BasicVar<T> operator*(const BasicVar<T>& a, double c) { return scale(a, c); }
template <class T>
inline BasicVar<T> operator/(const BasicVar<T>& a, double c) { return scale(a, 1.0 / c); }
template <class T>
BasicVar<T> operator/(double c, const BasicVar<T>& a);
template <class T>
inline BasicVar<T> operator+(const BasicVar<T>& a, double c) { return add(a, c); }
template <class T>
inline BasicVar<T> operator+(double c, const BasicVar<T>& a) { return add(a, c); }
template <class T>
inline BasicVar<T> operator-(const BasicVar<T>& a, double c) { return add(a, -c); }
template <class T>
inline BasicVar<T> operator-(double c, const BasicVar<T>& a) { return rsub(c, a); }

}  // namespace autograd
