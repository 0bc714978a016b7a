#pragma once
/// \file
/// The matrix types of the engine: row-major, rows = examples; a scalar is 1x1. float64 (Matrix) is
/// the default and what the proofs use; float32 (Matrix32) is for speed. Everything in the engine is
/// written once for both (templates on the element type T).
#include <string>
#include <vector>

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

}  // namespace autograd
