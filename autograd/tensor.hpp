#pragma once
// The matrix types of the engine: row-major, rows = examples; a scalar is 1x1. float64 (Matrix) is
// the default and what the proofs use; float32 (Matrix32) is for speed. Everything in the engine is
// written once for both (templates on the element type T).
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace autograd {

template <class T>
using BasicMatrix = xt::xtensor<T, 2>;
using Matrix = BasicMatrix<double>;
using Matrix32 = BasicMatrix<float>;
using Labels = std::vector<int>;  // class index per row, 0..C-1

// "[rows x cols]", the form every error message uses for a shape.
template <class T>
std::string shape_str(const BasicMatrix<T>& m) {
  return "[" + std::to_string(m.shape(0)) + " x " + std::to_string(m.shape(1)) + "]";
}

// "float64" or "float32": the names numpy and PyTorch give the two precisions.
template <class T>
constexpr const char* dtype_name() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  return std::is_same_v<T, float> ? "float32" : "float64";
}

}  // namespace autograd
