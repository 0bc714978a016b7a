#pragma once
// The one matrix type of the engine: row-major doubles, rows = examples. A scalar is 1x1.
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace autograd {

using Matrix = xt::xtensor<double, 2>;
using Labels = std::vector<int>;  // class index per row, 0..C-1

// "[rows x cols]", the form every error message uses for a shape.
inline std::string shape_str(const Matrix& m) {
  return "[" + std::to_string(m.shape(0)) + " x " + std::to_string(m.shape(1)) + "]";
}

}  // namespace autograd
