#pragma once
/// \file
/// NumPy .npy files: arrays of any rank and of numpy's number and bool dtypes, read with checks
/// (every size a header claims is checked against the file before anything is allocated for it;
/// errors name the file) and written durably. The data set loaders built on the reader,
/// nn::load_npy and nn::load_npy_rows, are declared in nn/data.hpp.
#include <cstdint>
#include <string>

#include <xtensor/xarray.hpp>

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

/// One array of any rank from a .npy file, converted to T, row-major.
///
/// Reads the dtypes numpy writes on little-endian machines: float64 `<f8`, float32 `<f4`, int8
/// `|i1`, int16 `<i2`, int32 `<i4`, int64 `<i8`, uint8 `|u1`, uint16 `<u2`, uint32 `<u4`, uint64
/// `<u8` and bool `|b1` (the one-byte ones also with `<`), of any rank: a 0-D file gives an array
/// of shape {} holding one value. A Fortran-order file is read correctly: the result has the
/// file's shape and is row-major. Token ids of shape [B, T] are `load_npy_array<std::int64_t>`.
///
/// Every value must arrive exactly; a conversion that would lose information is refused:
/// integers outside T's range; into a float type, integers beyond 2^53 (double) or 2^24 (float) in
/// magnitude, where not every integer is representable; into an integer T, floats that are not
/// whole numbers, NaN or inf; into float, finite float64 values beyond float's range. Other
/// float64 values are rounded to the nearest float for T = float, as load_npy_matrix does; bool
/// reads as 0 and 1, and a bool byte other than 0 or 1 is refused. dtype, if given, receives the
/// file's dtype ("float64", "int8", "uint16", "bool", ...).
///
/// Throws std::runtime_error naming the file: missing, a folder or not .npy; truncated; a shape
/// whose element count overflows; another dtype (big-endian ones, `>f8`, named as such); a value T
/// cannot hold, naming its index in the array as a tuple, (0, 3, 1), and the value.
template <class T>
xt::xarray<T> load_npy_array(const std::string& path, std::string* dtype = nullptr);
extern template xt::xarray<double> load_npy_array(const std::string&, std::string*);
extern template xt::xarray<float> load_npy_array(const std::string&, std::string*);
extern template xt::xarray<std::int64_t> load_npy_array(const std::string&, std::string*);
extern template xt::xarray<std::int32_t> load_npy_array(const std::string&, std::string*);

/// Writes `a` to the .npy file `path`, row-major, as float64 `<f8`, float32 `<f4`, int64 `<i8` or
/// int32 `<i4` (T = double, float, std::int64_t, std::int32_t), format 1.0: the bytes xt::dump_npy
/// makes, which nn::save_model writes too and numpy.load reads. A matrix converts:
/// `save_npy<double>(path, m)`. Written through autograd::write_file: a failure leaves the old
/// file and throws std::runtime_error "cannot write 'PATH': REASON".
template <class T>
void save_npy(const std::string& path, const xt::xarray<T>& a);
extern template void save_npy(const std::string&, const xt::xarray<double>&);
extern template void save_npy(const std::string&, const xt::xarray<float>&);
extern template void save_npy(const std::string&, const xt::xarray<std::int64_t>&);
extern template void save_npy(const std::string&, const xt::xarray<std::int32_t>&);

}  // namespace nn
