#pragma once
// numpy's broadcasting for values of any rank, kept out of the public headers. Shapes are aligned
// at their last dimension; a dimension of 1 (or a missing one) stretches to the other's size.
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "autograd/tensor.hpp"

namespace autograd::detail {

// The broadcast of shapes a and b into out (whose capacity is reused), or std::invalid_argument
// naming op and both shapes: "add: shapes [2, 3] and [4, 3] do not broadcast (dimension 0: 2
// against 4)".
inline void broadcast_shapes(const char* op, const Shape& a, const Shape& b, Shape& out) {
  const std::size_t rank = a.size() > b.size() ? a.size() : b.size();
  out.resize(rank);
  for (std::size_t d = 0; d < rank; ++d) {  // d counts from the last dimension
    const std::size_t x = d < a.size() ? a[a.size() - 1 - d] : 1;
    const std::size_t y = d < b.size() ? b[b.size() - 1 - d] : 1;
    if (x != y && x != 1 && y != 1) {
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " +
                                  shape_str(b) + " do not broadcast (their dimensions " +
                                  std::to_string(x) + " and " + std::to_string(y) +
                                  " differ and neither is 1)");
    }
    out[rank - 1 - d] = x == 1 ? y : x;
  }
}

// Strides of a value of shape `in` read as one of shape `out` (in broadcasts to out): 0 along the
// dimensions it is stretched over.
inline std::array<std::size_t, max_rank> broadcast_strides(const Shape& in, const Shape& out) {
  std::array<std::size_t, max_rank> s{};
  std::size_t stride = 1;
  for (std::size_t d = 0; d < in.size(); ++d) {
    const std::size_t i = in.size() - 1 - d, o = out.size() - 1 - d;
    s[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

// f(k, ka, kb) for every element k of a value of shape out, in row-major order, where ka and kb are
// the positions of the elements of a (shape sa) and b (shape sb) that broadcast to it.
template <class F>
void for_each_broadcast(const Shape& out, const Shape& sa, const Shape& sb, F&& f) {
  std::size_t total = 1;
  for (std::size_t d : out) total *= d;
  if (total == 0) return;
  if (out.empty()) {
    f(std::size_t{0}, std::size_t{0}, std::size_t{0});
    return;
  }
  const std::size_t rank = out.size(), inner = out[rank - 1];
  const auto as = broadcast_strides(sa, out), bs = broadcast_strides(sb, out);
  const std::size_t ai = as[rank - 1], bi = bs[rank - 1];
  std::array<std::size_t, max_rank> index{};
  std::size_t ka = 0, kb = 0;
  for (std::size_t k = 0; k < total; k += inner) {
    for (std::size_t c = 0; c < inner; ++c) f(k + c, ka + c * ai, kb + c * bi);
    for (std::size_t d = rank - 1; d-- > 0;) {  // the next row: an odometer over the outer dims
      ++index[d];
      ka += as[d];
      kb += bs[d];
      if (index[d] < out[d]) break;
      ka -= as[d] * out[d];
      kb -= bs[d] * out[d];
      index[d] = 0;
    }
  }
}

// Whether a value stored as the matrix [rows x cols] broadcasts to [R x C] as a matrix does. When
// the shapes themselves broadcast (checked first), this is exact: a bias of [d] or [1, 1, d]
// against [B, T, d] is a row against [B·T x d].
inline bool matrix_broadcasts(std::size_t rows, std::size_t cols, std::size_t R, std::size_t C) {
  return (rows == R || rows == 1) && (cols == C || cols == 1);
}

}  // namespace autograd::detail
