#pragma once
/// \file
/// NumPy .npy files: a checked reader (every size a header claims is checked against the file
/// before anything is allocated for it; errors name the file). The data set loaders built on it,
/// nn::load_npy and nn::load_npy_rows, are declared in nn/data.hpp.
#include <string>

#include "autograd/tensor.hpp"

namespace nn {

/// One 2-D float64 (`<f8`) or float32 (`<f4`) array from a .npy file, as a matrix of T.
///
/// T is double by default; float64 values are rounded to float32 for T = float. Checked first: a
/// wrong dtype or shape, a truncated file (which xt::load_npy would fill with uninitialised memory)
/// or a missing file throws std::runtime_error naming the file. dtype, if given, receives the
/// file's dtype ("float64" or "float32").
template <class T = double>
autograd::BasicMatrix<T> load_npy_matrix(const std::string& path, std::string* dtype = nullptr);
extern template autograd::BasicMatrix<double> load_npy_matrix(const std::string&, std::string*);
extern template autograd::BasicMatrix<float> load_npy_matrix(const std::string&, std::string*);

}  // namespace nn
