// NumPy .npy files: a checked header reader, and the loaders built on it.
#include "npy.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xnpy.hpp>

#include "autograd/durable.hpp"
#include "data.hpp"
#include "loader_support.hpp"
#include "text.hpp"

namespace nn {

namespace {

using autograd::Labels;
using autograd::Matrix;
using detail::check_not_folder;
using detail::max_label;
using detail::trim;

struct NpyHeader {
  std::string descr;  // e.g. "<f8"; a structured dtype's list text as it stands
  std::vector<std::size_t> shape;
  bool fortran_order = false;
  std::size_t count = 0;        // elements: the product of shape
  std::size_t data_offset = 0;  // where the elements start in the file
};

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The dtype string numpy writes for a native type of this kind and size on this machine.
std::string native_descr(char kind, std::size_t size) {
  const std::uint16_t probe = 1;
  unsigned char first_byte = 0;
  std::memcpy(&first_byte, &probe, 1);
  return std::string(1, first_byte == 1 ? '<' : '>') + kind + std::to_string(size);
}

// The value text after "'key':" in the header dictionary, up to the next top-level comma or '}'.
std::string header_value(const std::string& header, const std::string& key) {
  const std::size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) {
    return {};
  }
  std::size_t pos = header.find(':', at);
  if (pos == std::string::npos) {
    return {};
  }
  ++pos;
  int depth = 0;  // nesting inside the value: the shape tuple has commas of its own
  std::string value;
  for (; pos < header.size(); ++pos) {
    const char c = header[pos];
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) {
      break;
    }
    value += c;
  }
  return std::string(trim(value));
}

// A header quoted in a message: a broken file can have a header of any length and any bytes.
// Long enough for the whole of a header numpy writes for a 2-D array.
std::string header_excerpt(std::string_view header) {
  return quote(trim(header.substr(0, header.find_last_not_of('\n') + 1)), 128);
}

// Reads and checks the header; read_npy_data then reads the elements it describes. xt::load_npy is
// not used: it names no file in its errors, returns uninitialised memory for a truncated file,
// misreads 1.0 header lengths whose low byte is 0x80 or more (sign extension), and allocates
// whatever size a header claims before looking at the file. Here every size a header claims is
// checked against the file's size before anything is allocated for it.
NpyHeader read_npy_header(const std::string& path) {
  check_not_folder(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0);
  if (!in || end < 0) {
    throw std::runtime_error("cannot read '" + path + "'");
  }
  const auto file_size = static_cast<std::size_t>(end);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    throw std::runtime_error(path + ": not a .npy file (no \\x93NUMPY magic at the start)");
  }
  const int major = static_cast<unsigned char>(magic[6]);
  const int minor = static_cast<unsigned char>(magic[7]);
  std::size_t header_len = 0;
  std::size_t prefix = 0;
  unsigned char len_bytes[4] = {};
  if (major == 1 && minor == 0) {
    in.read(reinterpret_cast<char*>(len_bytes), 2);
    header_len = len_bytes[0] | (std::size_t{len_bytes[1]} << 8);
    prefix = 10;
  } else if (major == 2 && minor == 0) {
    in.read(reinterpret_cast<char*>(len_bytes), 4);
    header_len = len_bytes[0] | (std::size_t{len_bytes[1]} << 8) |
                 (std::size_t{len_bytes[2]} << 16) | (std::size_t{len_bytes[3]} << 24);
    prefix = 12;
  } else {
    throw std::runtime_error(path + ": .npy format version " + std::to_string(major) + "." +
                             std::to_string(minor) + " is not supported (only 1.0 and 2.0)");
  }
  if (!in || file_size < prefix || header_len > file_size - prefix) {
    throw std::runtime_error(path + ": truncated .npy header");
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) {
    throw std::runtime_error(path + ": truncated .npy header");
  }
  const std::string_view dict =
      trim(std::string_view(header).substr(0, header.find_last_not_of('\n') + 1));
  if (dict.size() < 2 || dict.front() != '{' || dict.back() != '}') {
    throw std::runtime_error(path + ": .npy header is not a dictionary: " + header_excerpt(header));
  }

  NpyHeader h;
  h.data_offset = prefix + header_len;
  const std::string descr = header_value(header, "descr");
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"') &&
      descr.back() == descr.front()) {
    h.descr = descr.substr(1, descr.size() - 2);
  } else {
    h.descr = descr;  // a structured dtype: reported as is, never accepted
  }
  const std::string order = header_value(header, "fortran_order");
  if (order != "True" && order != "False") {
    throw std::runtime_error(path + ": .npy header has no readable 'fortran_order': " +
                             header_excerpt(header));
  }
  h.fortran_order = order == "True";
  const std::string shape = header_value(header, "shape");
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    throw std::runtime_error(path + ": .npy header has no readable 'shape': " + header_excerpt(header));
  }
  for (std::string_view rest = std::string_view(shape).substr(1, shape.size() - 2);
       !trim(rest).empty();) {
    const std::size_t comma = rest.find(',');
    const std::string dim(trim(rest.substr(0, comma)));
    // Digits only: strtoull alone would take "-1" for 2^64 - 1.
    errno = 0;
    const unsigned long long d = std::strtoull(dim.c_str(), nullptr, 10);
    if (dim.empty() || dim.find_first_not_of("0123456789") != std::string::npos || errno != 0 ||
        d > std::numeric_limits<std::size_t>::max()) {
      throw std::runtime_error(path + ": .npy header has a bad 'shape': " + header_excerpt(shape));
    }
    h.shape.push_back(static_cast<std::size_t>(d));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }

  // Item size is the number after the kind letter ("<f8" -> 8); the elements' bytes are checked
  // against the file size, without overflow, before any caller allocates for them.
  const std::size_t item = h.descr.size() >= 3 ? std::strtoul(h.descr.c_str() + 2, nullptr, 10) : 0;
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  const bool empty = std::find(h.shape.begin(), h.shape.end(), std::size_t{0}) != h.shape.end();
  bool overflow = false;
  h.count = empty ? 0 : 1;
  for (std::size_t d : h.shape) {
    if (!empty) {
      overflow = overflow || h.count > max / d;
      h.count *= d;
    }
  }
  overflow = overflow || (item != 0 && h.count > max / item);
  const std::size_t have = file_size - h.data_offset;
  if (item != 0 && overflow) {
    throw std::runtime_error(path + ": shape " + shape_text(h.shape) + " of " + quote(h.descr) +
                             " is too large for any file; the file has " + std::to_string(have) +
                             " data bytes");
  }
  const std::size_t data_bytes = h.count * item;
  if (item != 0 && have < data_bytes) {
    throw std::runtime_error(path + ": truncated: shape " + shape_text(h.shape) + " of " +
                             quote(h.descr) + " needs " + std::to_string(data_bytes) +
                             " data bytes, the file has " + std::to_string(have));
  }
  return h;
}

// The header's h.count elements of type T, in file order; the header's dtype must be T's.
template <class T>
void read_npy_data(const std::string& path, const NpyHeader& h, T* out) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h.data_offset));
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(h.count * sizeof(T)));
  if (!in) {
    throw std::runtime_error(path + ": cannot read its " + std::to_string(h.count * sizeof(T)) +
                             " data bytes");
  }
}

// count elements of type T from element `start` on, in file order.
template <class T>
void read_npy_range(const std::string& path, const NpyHeader& h, std::size_t start,
                    std::size_t count, T* out) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h.data_offset + start * sizeof(T)));
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count * sizeof(T)));
  if (!in) {
    throw std::runtime_error(path + ": cannot read " + std::to_string(count * sizeof(T)) +
                             " data bytes at element " + std::to_string(start));
  }
}

// Labels first..first+count-1 (0-based rows; the whole file by default).
template <class Int>
void copy_labels(const std::string& path, const NpyHeader& h, Labels& y, std::size_t first = 0,
                 std::size_t count = std::numeric_limits<std::size_t>::max()) {
  count = std::min(count, h.count - first);
  std::vector<Int> raw(count);
  read_npy_range(path, h, first, count, raw.data());
  y.resize(raw.size());
  for (std::size_t r = 0; r < raw.size(); ++r) {
    const std::size_t i = first + r;
    const Int v = raw[r];
    if (v < 0) {
      throw std::runtime_error(path + ": row " + std::to_string(i) + ": label " +
                               std::to_string(v) + " is negative");
    }
    if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(max_classes - 1)) {
      throw std::runtime_error(path + ": row " + std::to_string(i) + ": label " +
                               std::to_string(v) + " is above the largest allowed, " +
                               std::to_string(max_classes - 1) + " (at most " +
                               std::to_string(max_classes) + " classes)");
    }
    y[r] = static_cast<int>(v);
  }
}

}  // namespace

namespace {

// The file's rows x cols elements of type File (in file order), as a row-major [rows x cols] matrix
// of T: transposed if the file is in Fortran order, rounded if T is narrower than File.
template <class T, class File>
autograd::BasicMatrix<T> read_matrix_as(const std::string& path, const NpyHeader& h) {
  const std::size_t rows = h.shape[0];
  const std::size_t cols = h.shape[1];
  autograd::BasicMatrix<T> m = autograd::BasicMatrix<T>::from_shape({rows, cols});
  if constexpr (std::is_same_v<T, File>) {
    if (!h.fortran_order) {
      read_npy_data(path, h, m.data());
      return m;
    }
  }
  std::vector<File> raw(h.count);
  read_npy_data(path, h, raw.data());
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      // Fortran order: the file holds the transpose, row-major.
      m(i, j) = static_cast<T>(h.fortran_order ? raw[j * rows + i] : raw[i * cols + j]);
    }
  }
  return m;
}

}  // namespace

template <class T>
autograd::BasicMatrix<T> load_npy_matrix(const std::string& path, std::string* dtype) {
  const NpyHeader h = read_npy_header(path);
  const bool f8 = h.descr == native_descr('f', 8);
  const bool f4 = h.descr == native_descr('f', 4);
  if (!(f8 || f4) || h.shape.size() != 2) {
    throw std::runtime_error(path + ": expected a 2-D float64 or float32 array, got dtype " +
                             quote(h.descr) + " and shape " + shape_text(h.shape));
  }
  if (dtype != nullptr) *dtype = f8 ? "float64" : "float32";
  return f8 ? read_matrix_as<T, double>(path, h) : read_matrix_as<T, float>(path, h);
}

template autograd::BasicMatrix<double> load_npy_matrix(const std::string&, std::string*);
template autograd::BasicMatrix<float> load_npy_matrix(const std::string&, std::string*);

Dataset load_npy(const std::string& x_path, const std::string& y_path) {
  return load_npy_rows(x_path, y_path, 0, std::numeric_limits<std::size_t>::max(), nullptr);
}

Dataset load_npy_rows(const std::string& x_path, const std::string& y_path, std::size_t first,
                      std::size_t last, std::size_t* total_rows) {
  const NpyHeader xh = read_npy_header(x_path);
  if (xh.descr != native_descr('f', 8) || xh.shape.size() != 2) {
    throw std::runtime_error(x_path + ": expected 2-D float64 features, got dtype " + quote(xh.descr) +
                             " and shape " + shape_text(xh.shape));
  }
  const NpyHeader yh = read_npy_header(y_path);
  const bool is_i8 = yh.descr == native_descr('i', 8);
  const bool is_i4 = yh.descr == native_descr('i', 4);
  if (!(is_i8 || is_i4) || yh.shape.size() != 1) {
    throw std::runtime_error(y_path +
                             ": expected 1-D integer labels (int64 or int32), got dtype " +
                             quote(yh.descr) + " and shape " + shape_text(yh.shape));
  }
  if (xh.shape[0] != yh.shape[0]) {
    throw std::runtime_error("X and y disagree: '" + x_path + "' has " +
                             std::to_string(xh.shape[0]) + " rows, '" + y_path + "' has " +
                             std::to_string(yh.shape[0]) + " labels");
  }
  if (xh.shape[0] == 0) {
    throw std::runtime_error(x_path + ": no data rows");
  }

  const std::size_t rows = xh.shape[0];
  const std::size_t cols = xh.shape[1];
  if (total_rows != nullptr) *total_rows = rows;
  first = std::min(first, rows);
  const std::size_t count = std::min(last, rows) - std::min(first, std::min(last, rows));

  Dataset data;
  if (first == 0 && count == rows) {
    data.X = load_npy_matrix(x_path);
  } else if (!xh.fortran_order) {  // only this part's bytes
    data.X = Matrix::from_shape({count, cols});
    read_npy_range(x_path, xh, first * cols, count * cols, data.X.data());
  } else {  // the file holds the transpose: read it all, keep the part
    const Matrix all = load_npy_matrix(x_path);
    data.X = Matrix::from_shape({count, cols});
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t j = 0; j < cols; ++j) data.X(i, j) = all(first + i, j);
    }
  }
  if (is_i8) {
    copy_labels<std::int64_t>(y_path, yh, data.y, first, count);
  } else {
    copy_labels<std::int32_t>(y_path, yh, data.y, first, count);
  }
  data.classes = max_label(data.y) + 1;
  if (count == 0) return data;
  try {
    check_dataset(data, x_path);
  } catch (const std::invalid_argument& e) {
    if (first == 0) throw;
    // Row numbers in the file, not in the part.
    throw std::invalid_argument(std::string(e.what()) + " (of rows " + std::to_string(first) +
                                ".." + std::to_string(first + count - 1) + " of the file)");
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Arrays of any rank and dtype

namespace {

// A dtype load_npy_array reads: numpy's name, the kind letter and the item size of its descr.
struct Dtype {
  const char* name;
  char kind;  // f: float, i: signed, u: unsigned, b: bool
  std::size_t size;
};

constexpr Dtype dtypes[] = {{"float64", 'f', 8}, {"float32", 'f', 4}, {"int8", 'i', 1},
                            {"int16", 'i', 2},   {"int32", 'i', 4},   {"int64", 'i', 8},
                            {"uint8", 'u', 1},   {"uint16", 'u', 2},  {"uint32", 'u', 4},
                            {"uint64", 'u', 8},  {"bool", 'b', 1}};

// The dtype a descr such as "<f8" names. One-byte types have no byte order ('|', or any); the
// others must be in this machine's byte order, and the other order is refused by name.
const Dtype& find_dtype(const std::string& path, const std::string& descr) {
  const char native = native_descr('f', 8)[0];
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|')) {
    for (const Dtype& d : dtypes) {
      if (descr[1] != d.kind || static_cast<std::size_t>(descr[2] - '0') != d.size) continue;
      if (d.size == 1 || descr[0] == native) return d;
      if (descr[0] == '|') break;
      const auto order = [](char c) { return c == '<' ? "little-endian" : "big-endian"; };
      throw std::runtime_error(path + ": dtype " + quote(descr) + " is " + order(descr[0]) +
                               ": only " + order(native) + " files are read (numpy: a.astype('" +
                               native + descr.substr(1) + "'))");
    }
  }
  std::string expected;
  for (const Dtype& d : dtypes) {
    expected += std::string(expected.empty() ? "" : ", ") + d.name + " '" +
                (d.size == 1 ? '|' : native) + d.kind + std::to_string(d.size) + "'";
  }
  throw std::runtime_error(path + ": dtype " + quote(descr) + " is not supported: expected one of " +
                           expected);
}

template <class T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
}

// A value as a message shows it: integers in full, floats in the shortest text that reads back as
// the same value (as numpy prints them).
template <class V>
std::string value_text(V v) {
  if constexpr (std::is_integral_v<V>) {
    return std::to_string(v);
  } else {
    char buf[64];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  }
}

// Why a value cannot arrive exactly in T (none: it can).
enum class Loss {
  none,
  out_of_range,
  inexact_integer,
  not_whole,
  not_finite,
  beyond_float,
  not_bool,
};

// |v| for an integer of any type, without overflow.
template <class V>
std::uint64_t magnitude(V v) {
  if constexpr (std::is_signed_v<V>) {
    return v < 0 ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v);
  } else {
    return v;
  }
}

// Whether the integer v lies in the integer type T's range.
template <class T, class V>
bool in_range(V v) {
  if constexpr (std::is_signed_v<V> && !std::is_signed_v<T>) {
    return v >= 0 && static_cast<std::uint64_t>(v) <= std::numeric_limits<T>::max();
  } else if constexpr (!std::is_signed_v<V> && std::is_signed_v<T>) {
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    return static_cast<std::uint64_t>(v) <= max;
  } else {
    return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
  }
}

// v as a T in `out`, if T holds it exactly (float64 to float32: rounded, as documented).
template <class T, class V>
Loss convert(V v, T& out) {
  if constexpr (std::is_integral_v<V> && std::is_integral_v<T>) {
    if (!in_range<T>(v)) return Loss::out_of_range;
  } else if constexpr (std::is_integral_v<V>) {
    // Every integer up to 2^digits is a float of type T; beyond, some are not.
    if (magnitude(v) > std::uint64_t{1} << std::numeric_limits<T>::digits) {
      return Loss::inexact_integer;
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (!std::isfinite(v)) return Loss::not_finite;
    if (v != std::trunc(v)) return Loss::not_whole;
    const double bound = std::ldexp(1.0, std::numeric_limits<T>::digits);  // 2^31, 2^63
    const double d = v;
    if (!(d < bound && d >= (std::is_signed_v<T> ? -bound : 0.0))) return Loss::out_of_range;
  } else if constexpr (sizeof(T) < sizeof(V)) {
    // Values from max + half an ulp on round to inf; the cast is only made below that.
    using L = std::numeric_limits<T>;
    const V overflow =
        std::ldexp(V{1}, L::max_exponent) - std::ldexp(V{1}, L::max_exponent - L::digits - 1);
    if (std::isfinite(v) && std::fabs(v) >= overflow) return Loss::beyond_float;
  }
  out = static_cast<T>(v);
  return Loss::none;
}

// The message for a value of the file that T cannot hold.
template <class T, class V>
std::string loss_text(Loss loss, V v, const Dtype& dtype) {
  if (loss == Loss::not_bool) {
    return "byte " + std::to_string(static_cast<unsigned>(v)) + " is not a bool (0 or 1)";
  }
  const std::string value = value_text(v) + " (" + dtype.name + ") ";
  const std::string t = type_name<T>();
  switch (loss) {
    case Loss::out_of_range:
      if constexpr (std::is_integral_v<T>) {
        return value + "is outside " + t + "'s range " +
               std::to_string(std::numeric_limits<T>::min()) + ".." +
               std::to_string(std::numeric_limits<T>::max());
      }
      break;
    case Loss::inexact_integer:
      return value + "is beyond 2^" + std::to_string(std::numeric_limits<T>::digits) +
             " in magnitude, where " + t + " does not hold every integer";
    case Loss::not_whole:
      return value + "is not a whole number, which " + t + " needs";
    case Loss::not_finite:
      return value + "is not a finite number, which " + t + " needs";
    case Loss::beyond_float:
      return value + "is beyond " + t + "'s range (its largest value is " +
             value_text(std::numeric_limits<T>::max()) + ")";
    default:
      break;
  }
  return value + "cannot be read as " + t;
}

// The array index of each element of the file in turn, and its place in the row-major result:
// in a Fortran-order file the first index varies fastest, in a C-order file the last.
class FileOrder {
 public:
  FileOrder(const std::vector<std::size_t>& shape, bool fortran)
      : shape_(shape), index_(shape.size(), 0), stride_(shape.size(), 0), fortran_(fortran) {
    std::size_t stride = 1;
    for (std::size_t k = shape.size(); k-- > 0;) {
      stride_[k] = stride;
      stride *= shape[k];
    }
  }
  const std::vector<std::size_t>& index() const { return index_; }
  std::size_t offset() const { return offset_; }
  void next() {
    const std::size_t rank = shape_.size();
    for (std::size_t n = 0; n < rank; ++n) {
      const std::size_t k = fortran_ ? n : rank - 1 - n;
      if (++index_[k] < shape_[k]) {
        offset_ += stride_[k];
        return;
      }
      offset_ -= (shape_[k] - 1) * stride_[k];
      index_[k] = 0;
    }
  }

 private:
  std::vector<std::size_t> shape_, index_, stride_;
  std::size_t offset_ = 0;
  bool fortran_;
};

// The file's elements, stored as File (bool as std::uint8_t), as a row-major array of T, each
// converted exactly or refused. Read in blocks, so that no second copy of a large array is made.
template <class T, class File>
xt::xarray<T> read_array_as(const std::string& path, const NpyHeader& h, const Dtype& dtype) {
  xt::xarray<T> out = xt::xarray<T>::from_shape(h.shape);
  const bool is_bool = dtype.kind == 'b';
  if constexpr (std::is_same_v<T, File>) {
    if (!is_bool && (!h.fortran_order || h.shape.size() < 2)) {
      read_npy_data(path, h, out.data());
      return out;
    }
  }
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h.data_offset));
  std::vector<File> block(std::min<std::size_t>(h.count, 65536));
  FileOrder order(h.shape, h.fortran_order);
  for (std::size_t done = 0; done < h.count;) {
    const std::size_t n = std::min(block.size(), h.count - done);
    in.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(n * sizeof(File)));
    if (!in) {
      throw std::runtime_error(path + ": cannot read its " +
                               std::to_string(h.count * sizeof(File)) + " data bytes");
    }
    for (std::size_t i = 0; i < n; ++i, order.next()) {
      const File v = block[i];
      const Loss loss = is_bool && v > 1 ? Loss::not_bool : convert(v, out.data()[order.offset()]);
      if (loss != Loss::none) {
        throw std::runtime_error(path + ": element " + shape_text(order.index()) + ": " +
                                 loss_text<T>(loss, v, dtype));
      }
    }
    done += n;
  }
  return out;
}

// read_npy_header checks the element count, which a 0 makes 0 whatever the other dimensions are;
// numpy also refuses a shape whose other dimensions multiply past the largest size (the strides of
// such an array overflow), and so does load_npy_array.
void check_strides(const std::string& path, const NpyHeader& h, const Dtype& d) {
  std::size_t product = d.size;
  for (std::size_t dim : h.shape) {
    if (dim != 0 && product > std::numeric_limits<std::size_t>::max() / dim) {
      throw std::runtime_error(path + ": shape " + shape_text(h.shape) + " of " + quote(h.descr) +
                               " is too large: its dimensions other than 0 multiply past the "
                               "largest size");
    }
    if (dim != 0) product *= dim;
  }
}

}  // namespace

template <class T>
xt::xarray<T> load_npy_array(const std::string& path, std::string* dtype) {
  const NpyHeader h = read_npy_header(path);
  const Dtype& d = find_dtype(path, h.descr);
  check_strides(path, h, d);
  if (dtype != nullptr) *dtype = d.name;
  switch (d.kind) {
    case 'f':
      return d.size == 8 ? read_array_as<T, double>(path, h, d)
                         : read_array_as<T, float>(path, h, d);
    case 'i':
      switch (d.size) {
        case 1: return read_array_as<T, std::int8_t>(path, h, d);
        case 2: return read_array_as<T, std::int16_t>(path, h, d);
        case 4: return read_array_as<T, std::int32_t>(path, h, d);
        default: return read_array_as<T, std::int64_t>(path, h, d);
      }
    case 'u':
      switch (d.size) {
        case 1: return read_array_as<T, std::uint8_t>(path, h, d);
        case 2: return read_array_as<T, std::uint16_t>(path, h, d);
        case 4: return read_array_as<T, std::uint32_t>(path, h, d);
        default: return read_array_as<T, std::uint64_t>(path, h, d);
      }
    default:
      return read_array_as<T, std::uint8_t>(path, h, d);
  }
}

// The bytes are xt::dump_npy's, as nn::save_model's; xt::xarray is row-major.
template <class T>
void save_npy(const std::string& path, const xt::xarray<T>& a) {
  autograd::write_file(path, xt::dump_npy(a));
}

template xt::xarray<double> load_npy_array(const std::string&, std::string*);
template xt::xarray<float> load_npy_array(const std::string&, std::string*);
template xt::xarray<std::int64_t> load_npy_array(const std::string&, std::string*);
template xt::xarray<std::int32_t> load_npy_array(const std::string&, std::string*);
template void save_npy(const std::string&, const xt::xarray<double>&);
template void save_npy(const std::string&, const xt::xarray<float>&);
template void save_npy(const std::string&, const xt::xarray<std::int64_t>&);
template void save_npy(const std::string&, const xt::xarray<std::int32_t>&);

}  // namespace nn
