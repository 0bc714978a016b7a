#pragma once
/// @file
/// A picture of a recorded pass: the tape as a Graphviz graph (the matrix version of micrograd's
/// draw_dot).
#include <string>

#include "autograd/tape.hpp"

namespace autograd {

/// The part of `tape` that `loss` depends on, as Graphviz DOT text: one box per recorded value
/// (its op name and shape; parameters filled and named, constants drawn grey) and one edge from
/// each input to the op that used it, drawn left to right. After tape.backward(loss) each value
/// that a parameter reaches also shows the Frobenius norm of its gradient ("|grad| = …"; for a
/// parameter, the norm of its grad, which backward adds to). Throws std::logic_error if `loss` is
/// not a live handle on `tape`. Render it with `dot -Tpng tape.dot -o tape.png`.
template <class T>
std::string to_dot(const BasicTape<T>& tape, const BasicVar<T>& loss);

/// Writes to_dot(tape, loss) to `path` with autograd::write_file (durable.hpp): `path` holds its
/// old contents or the whole graph, never half of it. Throws std::runtime_error naming the path on
/// failure, leaving no file behind.
template <class T>
void write_dot(const BasicTape<T>& tape, const BasicVar<T>& loss, const std::string& path);

extern template std::string to_dot(const BasicTape<double>&, const BasicVar<double>&);
extern template std::string to_dot(const BasicTape<float>&, const BasicVar<float>&);
extern template void write_dot(const BasicTape<double>&, const BasicVar<double>&,
                               const std::string&);
extern template void write_dot(const BasicTape<float>&, const BasicVar<float>&,
                               const std::string&);

}  // namespace autograd
