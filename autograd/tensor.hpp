#pragma once
/// \file
/// The matrix types of the engine: row-major, rows = examples; a scalar is 1x1. float64 (Matrix) is
/// the default and what the proofs use; float32 (Matrix32) is for speed. Everything in the engine is
/// written once for both (templates on the element type T).
#include <cstddef>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

/// The engine: tapes, handles, parameters, ops and the gradient checker.
///
/// Everything is a template on the element type T (double or float). The plain names (Tape, Var,
/// Parameter, Matrix) are float64; autograd::f32 holds the float32 ones and autograd::f64 the
/// float64 ones under the same names.
namespace autograd {

/// A matrix of T: row-major, rows = examples, a scalar is [1 x 1].
template <class T>
using BasicMatrix = xt::xtensor<T, 2>;
using Matrix = BasicMatrix<double>;  ///< A float64 matrix: the default precision.
using Matrix32 = BasicMatrix<float>;  ///< A float32 matrix.
using Labels = std::vector<int>;  ///< Class index per row, 0..C-1 (also ids of an embedding lookup).

/// The shape of a value of any rank, outermost dimension first: {} is a scalar, {B, T, d} a batch of
/// sequences. A Matrix is the rank-2 case {rows, cols}.
using Shape = std::vector<std::size_t>;
/// A tensor of T of any rank, row-major (numpy's C order): what Tape::tensor() records and
/// Var::tensor() returns.
template <class T>
using BasicTensor = xt::xarray<T, xt::layout_type::row_major>;
using Tensor = BasicTensor<double>;  ///< A float64 tensor.
using Tensor32 = BasicTensor<float>;  ///< A float32 tensor.

/// The highest rank a value may have (an [N, C, H, W] batch of images is rank 4).
constexpr std::size_t max_rank = 8;

/// A short list of dimensions or sizes as the ops of any rank take them: `{0, 2, 1, 3}` (a
/// permutation), `{B, T, -1}` (a shape with one size inferred), `{-1}` (the last dimension). Holds
/// up to max_rank integers without allocating, so that a training step allocates nothing for them.
/// Built from a braced list or from a std::vector of int or std::int64_t. A list longer than
/// max_rank is held (up to 2 · max_rank entries, so that an error can show it) and refused, by
/// name, by the op it is given to.
class Dims {
 public:
  /// The entries of a braced list: `{0, 2, 1, 3}`.
  Dims(std::initializer_list<std::int64_t> list) { assign(list.begin(), list.size()); }  // NOLINT
  /// The entries of a vector, as the braced list.
  Dims(const std::vector<std::int64_t>& list) { assign(list.data(), list.size()); }  // NOLINT
  /// The entries of a vector of int, as the braced list.
  Dims(const std::vector<int>& list) {  // NOLINT: implicit, as a braced list is
    n_ = list.size();
    for (std::size_t k = 0; k < n_ && k < held; ++k) d_[k] = list[k];
  }
  std::size_t size() const { return n_; }  ///< How many were given (may exceed max_rank).
  bool empty() const { return n_ == 0; }  ///< None.
  /// Entry k, for k < 2 · max_rank.
  std::int64_t operator[](std::size_t k) const { return d_[k]; }
  const std::int64_t* begin() const { return d_.data(); }  ///< The first entry.
  /// Past the last entry held (at most 2 · max_rank).
  const std::int64_t* end() const { return d_.data() + (n_ < held ? n_ : held); }

 private:
  void assign(const std::int64_t* p, std::size_t n) {
    n_ = n;
    for (std::size_t k = 0; k < n && k < held; ++k) d_[k] = p[k];
  }
  static constexpr std::size_t held = 2 * max_rank;
  std::array<std::int64_t, held> d_{};
  std::size_t n_ = 0;
};

/// Throws std::invalid_argument naming op if dims holds more entries than a value has dimensions.
inline void check_dims(const char* op, const Dims& dims, const char* what) {
  if (dims.size() > max_rank) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(dims.size()) + " " + what +
                                " given, more than the " + std::to_string(max_rank) +
                                " dimensions a value may have");
  }
}

/// "[2, 3, 4]", the form errors use for the shape of a value of any rank ("[]" for a scalar).
inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t d = 0; d < s.size(); ++d) out += (d ? ", " : "") + std::to_string(s[d]);
  return out + "]";
}

/// How the engine stores a value of shape s: as a matrix whose columns are the last dimension and
/// whose rows are all the others, multiplied out (row-major, so the elements are in the same
/// order). A scalar is [1 x 1], a vector of n is [1 x n]. Every op on the last axis (softmax, a
/// bias row, a matrix product with a 2-D weight) is then the 2-D op on this matrix.
inline std::array<std::size_t, 2> matrix_shape(const Shape& s) {
  if (s.empty()) return {1, 1};
  std::size_t rows = 1;
  for (std::size_t d = 0; d + 1 < s.size(); ++d) rows *= s[d];
  return {rows, s.back()};
}

/// "[rows x cols]", the form every error message uses for a shape.
template <class T>
std::string shape_str(const BasicMatrix<T>& m) {
  return "[" + std::to_string(m.shape(0)) + " x " + std::to_string(m.shape(1)) + "]";
}

/// "float64" or "float32" for T = double or float: the names numpy and PyTorch give the two
/// precisions.
template <class T>
constexpr const char* dtype_name() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  return std::is_same_v<T, float> ? "float32" : "float64";
}

namespace detail {
[[noreturn]] inline void size_error(const char* op, std::size_t rows, std::size_t cols,
                                    const char* dtype, bool overflows) {
  throw std::invalid_argument(std::string(op) + ": a [" + std::to_string(rows) + " x " +
                              std::to_string(cols) + "] " + dtype + " matrix " +
                              (overflows ? "has more elements than 64 bits can count"
                                         : "takes more bytes than one allocation can ask for"));
}
}  // namespace detail

/// The element count rows · cols of a [rows x cols] matrix of T, checked: throws
/// std::invalid_argument naming op and the shape if the product overflows, or if the matrix would
/// take more than PTRDIFF_MAX bytes. Every shape the engine and nn/ build from sizes they are given
/// goes through here before anything is allocated for it.
template <class T>
std::size_t checked_size(const char* op, std::size_t rows, std::size_t cols) {
  std::size_t n = 0;
  if (__builtin_mul_overflow(rows, cols, &n)) detail::size_error(op, rows, cols, dtype_name<T>(), true);
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) {
    detail::size_error(op, rows, cols, dtype_name<T>(), false);
  }
  return n;
}

/// The element count of a value of shape s, checked as checked_size() is: throws
/// std::invalid_argument naming op and the shape if the product overflows or the bytes could not
/// be one allocation.
template <class T>
std::size_t checked_count(const char* op, const Shape& s) {
  std::size_t n = 1;
  for (std::size_t d : s) {
    if (__builtin_mul_overflow(n, d, &n)) {
      throw std::invalid_argument(std::string(op) + ": a " + shape_str(s) + " " + dtype_name<T>() +
                                  " tensor has more elements than 64 bits can count");
    }
  }
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) {
    throw std::invalid_argument(std::string(op) + ": a " + shape_str(s) + " " + dtype_name<T>() +
                                " tensor takes more bytes than one allocation can ask for");
  }
  return n;
}

/// a + b for sizes added up (rows of parts, lengths of sequences), checked: throws
/// std::invalid_argument naming op if the sum overflows.
inline std::size_t checked_sum(const char* op, std::size_t a, std::size_t b) {
  std::size_t n = 0;
  if (__builtin_add_overflow(a, b, &n)) {
    throw std::invalid_argument(std::string(op) + ": sizes " + std::to_string(a) + " and " +
                                std::to_string(b) + " add up to more than 64 bits can count");
  }
  return n;
}

/// An uninitialised [rows x cols] matrix of T for sizes a caller was given: checked_size(), then
/// the allocation, whose failure is refused as std::invalid_argument naming op, the shape and the
/// bytes (instead of a bare std::bad_alloc).
template <class T>
BasicMatrix<T> allocate_matrix(const char* op, std::size_t rows, std::size_t cols) {
  const std::size_t n = checked_size<T>(op, rows, cols);
  try {
    return BasicMatrix<T>::from_shape({rows, cols});
  } catch (const std::bad_alloc&) {
    throw std::invalid_argument(std::string(op) + ": a [" + std::to_string(rows) + " x " +
                                std::to_string(cols) + "] " + dtype_name<T>() + " matrix (" +
                                std::to_string(n * sizeof(T)) + " bytes) cannot be allocated");
  }
}

}  // namespace autograd
