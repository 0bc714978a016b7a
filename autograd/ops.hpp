#pragma once
// The ops. Each takes handles on one tape and returns the handle of its result; ops.cpp holds each
// op's forward value and backward rule side by side. Shapes are [rows x cols]; a scalar is [1 x 1].
#include "autograd/tape.hpp"

namespace autograd {

// [n x k] · [k x m] -> [n x m]
Var matmul(const Var& a, const Var& b);

// Elementwise with broadcasting: each dimension must match or be 1 on one side ([n x k] + [1 x k]
// adds a bias row to every row). The backward sums the gradient over the broadcast rows/columns.
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);

Var scale(const Var& a, double c);  // c · a
Var sum(const Var& a);              // sum of all elements -> [1 x 1]
Var mean(const Var& a);             // mean of all elements -> [1 x 1]

Var tanh(const Var& a);
Var sigmoid(const Var& a);
Var relu(const Var& a);
Var exp(const Var& a);
Var log(const Var& a);
Var softmax(const Var& a);  // row-wise: each row becomes a probability distribution

enum class Reduction { sum, mean };
// -Σ_rows log softmax(logits)[row, label[row]], summed or averaged over rows -> [1 x 1].
// Fused and numerically stable (each row's max is subtracted before exp).
Var softmax_cross_entropy(const Var& logits, const Labels& labels,
                          Reduction reduction = Reduction::mean);

// ½ · Σ w², so that d/dw = w.
Var l2_penalty(const Var& w);

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }  // elementwise
inline Var operator*(double c, const Var& a) { return scale(a, c); }
inline Var operator-(const Var& a) { return scale(a, -1.0); }

}  // namespace autograd
