// nn::load_npy_matrix, nn::load_npy_array and nn::load_npy on arbitrary bytes. The input is split
// before the second "\x93NUMPY" magic into the features file and the labels file, so that a seed is
// simply two real .npy files one after the other. Bad input must give a std::exception naming a
// file; an accepted file must give an array of the size its header promised, whatever the header
// claims.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nn/data.hpp"

namespace {

volatile double sink;  // keeps the reads below from being optimised away

// An accepted array must fit in the file it came from: a shape whose element count wraps around
// 2^64, or that promises more elements than the file has bytes for, means memory that is not there.
void check_fits(const autograd::Matrix& m, std::size_t file_bytes, const char* who) {
  std::size_t elements = 0;
  if (__builtin_mul_overflow(m.shape(0), m.shape(1), &elements) || m.size() != elements ||
      elements > file_bytes / sizeof(double)) {
    fuzz::finding(std::string(who) + " returned shape " + autograd::shape_str(m) +
                  " from a file of " + std::to_string(file_bytes) + " bytes");
  }
  // Every element is read, so that a buffer smaller than the shape shows up under ASan.
  double sum = 0.0;
  for (double v : m) sum += v;
  sink = sum;
}

void matrix(const std::string& path, std::size_t file_bytes) {
  autograd::Matrix m;
  try {
    m = nn::load_npy_matrix(path);
  } catch (const std::exception& e) {
    fuzz::check_error(e, path);
    return;
  }
  check_fits(m, file_bytes, "load_npy_matrix");
}

// An accepted array of any rank and dtype: its shape's product is its size (no wrap-around), and
// each element took at least one byte of the file.
template <class T>
void array(const std::string& path, std::size_t file_bytes) {
  xt::xarray<T> a;
  try {
    a = nn::load_npy_array<T>(path);
  } catch (const std::exception& e) {
    fuzz::check_error(e, path);
    return;
  }
  std::size_t elements = 1;
  bool wrapped = false;
  for (std::size_t d : a.shape()) {
    wrapped = wrapped || __builtin_mul_overflow(elements, d, &elements);
  }
  if (wrapped || a.size() != elements || elements > file_bytes) {
    fuzz::finding("load_npy_array returned " + std::to_string(a.size()) + " elements of rank " +
                  std::to_string(a.dimension()) + " from a file of " + std::to_string(file_bytes) +
                  " bytes");
  }
  double sum = 0.0;
  for (T v : a) sum += static_cast<double>(v);
  sink = sum;
}

void dataset(const std::string& x_path, std::size_t x_bytes, const std::string& y_path,
             std::size_t y_bytes) {
  nn::Dataset d;
  try {
    d = nn::load_npy(x_path, y_path);
  } catch (const std::exception& e) {
    // Either file may be the one at fault; the message must name at least one of them.
    const std::string message = e.what();
    fuzz::check_error(e, message.find(y_path) != std::string::npos ? y_path : x_path);
    return;
  }
  check_fits(d.X, x_bytes, "load_npy");
  if (d.y.size() > y_bytes / sizeof(std::int32_t)) {
    fuzz::finding("load_npy returned " + std::to_string(d.y.size()) + " labels from a file of " +
                  std::to_string(y_bytes) + " bytes");
  }
  try {
    nn::check_dataset(d, x_path);
  } catch (const std::exception& e) {
    fuzz::finding(std::string("load_npy accepted a data set that check_dataset rejects: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t second = bytes.empty() ? std::string_view::npos : bytes.find("\x93NUMPY", 1);
  const std::string_view x = bytes.substr(0, second);
  const std::string_view y = second == std::string_view::npos ? std::string_view() : bytes.substr(second);
  const std::string x_path = fuzz::write_file(fuzz::scratch() / "X.npy", x);
  const std::string y_path = fuzz::write_file(fuzz::scratch() / "y.npy", y);
  matrix(x_path, x.size());
  matrix(y_path, y.size());
  array<double>(x_path, x.size());
  array<std::int64_t>(y_path, y.size());
  dataset(x_path, x.size(), y_path, y.size());
  return 0;
}
