#pragma once
// The ops. Each takes handles on one tape and returns the handle of its result; ops.cpp holds each
// op's forward value and backward rule side by side. Shapes are [rows x cols]; a scalar is [1 x 1].
#include <initializer_list>
#include <vector>

#include "autograd/tape.hpp"

namespace autograd {

// [n x k] · [k x m] -> [n x m]
Var matmul(const Var& a, const Var& b);

// Elementwise with broadcasting: each dimension must match or be 1 on one side ([n x k] + [1 x k]
// adds a bias row to every row). The backward sums the gradient over the broadcast rows/columns.
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);

Var div(const Var& a, const Var& b);  // a / b elementwise, broadcasting like add

Var scale(const Var& a, double c);  // c · a
Var sum(const Var& a);              // sum of all elements -> [1 x 1]
Var mean(const Var& a);             // mean of all elements -> [1 x 1]
Var sum(const std::vector<Var>& terms);  // t0 + t1 + …, all of one shape (a running loss)

// Reductions along one axis, kept 2-D so that they broadcast back (numpy's keepdims=True):
// axis 0 reduces over rows -> [1 x C], axis 1 over columns -> [R x 1].
Var sum(const Var& a, int axis);
Var mean(const Var& a, int axis);
// The gradient goes to the arg-max; of equal maxima, the first (lowest index) gets all of it.
Var max(const Var& a, int axis);

Var tanh(const Var& a);
Var sigmoid(const Var& a);
Var relu(const Var& a);
Var exp(const Var& a);
Var log(const Var& a);
Var sqrt(const Var& a);
Var square(const Var& a);  // a ∘ a
Var softmax(const Var& a);  // row-wise: each row becomes a probability distribution
// Row-wise log softmax(a), stable for any magnitude (each row's max is subtracted before exp).
Var log_softmax(const Var& a);

// Shapes.
Var transpose(const Var& a);                              // [R x C] -> [C x R]
Var reshape(const Var& a, std::size_t rows, std::size_t cols);  // row-major, same element count
// Rows [row_begin, row_end) and columns [col_begin, col_end) of a (half-open, as Python's a[r0:r1, c0:c1]).
Var slice(const Var& a, std::size_t row_begin, std::size_t row_end, std::size_t col_begin,
          std::size_t col_end);
Var slice_rows(const Var& a, std::size_t row_begin, std::size_t row_end);  // all columns
Var slice_cols(const Var& a, std::size_t col_begin, std::size_t col_end);  // all rows
// Joins any number of inputs along rows (axis 0: same column count) or columns (axis 1).
// concat({a, b, c}, 1) allocates nothing; a std::vector of parts works too.
Var concat(std::initializer_list<Var> parts, int axis);
Var concat(const std::vector<Var>& parts, int axis);
// Row ids[i] of table for each i -> [ids.size() x table.cols]: an embedding lookup. The backward
// scatter-adds, so a row picked several times gets every share.
Var gather_rows(const Var& table, const Labels& ids);

enum class Reduction { sum, mean };
// -Σ_rows log softmax(logits)[row, label[row]], summed or averaged over rows -> [1 x 1].
// Fused and numerically stable (each row's max is subtracted before exp).
Var softmax_cross_entropy(const Var& logits, const Labels& labels,
                          Reduction reduction = Reduction::mean);

// ½ · Σ w², so that d/dw = w.
Var l2_penalty(const Var& w);

// The column index of each row's largest value (the first of equal ones): predictions. Not an op:
// nothing is recorded and there is no gradient.
Labels argmax(const Var& a);

// a + c and c − a elementwise: the number joins the tape as a 1 x 1 constant and broadcasts.
Var add(const Var& a, double c);
Var rsub(double c, const Var& a);

// An empty Var (default-constructed) is the zero of +, so a running sum can start from nothing:
// `Var loss; for (…) loss = loss + step_loss;` (or `loss += step_loss`).
Var operator+(const Var& a, const Var& b);
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }  // elementwise
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }  // elementwise
inline Var& operator+=(Var& a, const Var& b) { return a = a + b; }
inline Var operator-(const Var& a) { return scale(a, -1.0); }

inline Var operator*(double c, const Var& a) { return scale(a, c); }
inline Var operator*(const Var& a, double c) { return scale(a, c); }
inline Var operator/(const Var& a, double c) { return scale(a, 1.0 / c); }
Var operator/(double c, const Var& a);
inline Var operator+(const Var& a, double c) { return add(a, c); }
inline Var operator+(double c, const Var& a) { return add(a, c); }
inline Var operator-(const Var& a, double c) { return add(a, -c); }
inline Var operator-(double c, const Var& a) { return rsub(c, a); }

}  // namespace autograd
