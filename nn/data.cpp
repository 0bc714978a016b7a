#include "data.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "random.hpp"
#include "text.hpp"

namespace nn {

namespace {

using autograd::Labels;
using autograd::Matrix;

// Short human form of a number for messages ("0.5", "1e+12", "nan").
std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// numpy.linspace with endpoint: start + i * step, and the last value exactly `stop`.
std::vector<double> linspace(double start, double stop, std::size_t n) {
  std::vector<double> v(n, start);
  if (n < 2) {
    return v;
  }
  const double step = (stop - start) / static_cast<double>(n - 1);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = start + static_cast<double>(i) * step;
  }
  v[n - 1] = stop;
  return v;
}

void check_noise(const char* who, double noise) {
  if (!(noise >= 0.0) || !std::isfinite(noise)) {
    throw std::invalid_argument(std::string(who) + ": noise must be a finite number >= 0, got " +
                                fmt(noise));
  }
}

Dataset rows_of(const Dataset& data, const std::vector<std::size_t>& rows) {
  const std::size_t cols = data.X.shape(1);
  Dataset out;
  out.X = Matrix::from_shape({rows.size(), cols});
  out.y.resize(rows.size());
  out.classes = data.classes;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      out.X(i, j) = data.X(rows[i], j);
    }
    out.y[i] = data.y[rows[i]];
  }
  return out;
}

int max_label(const Labels& y) { return y.empty() ? -1 : *std::max_element(y.begin(), y.end()); }

// A folder opens as a stream on Linux and then fails to read; say what it is instead.
void check_not_folder(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("cannot open '" + path + "': it is a folder, not a file");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Generated data sets

Dataset make_moons(std::size_t n, double noise, std::uint64_t seed, bool shuffle) {
  if (n < 2) {
    throw std::invalid_argument("make_moons: need n >= 2 points (one per moon at least), got " +
                                std::to_string(n));
  }
  check_noise("make_moons", noise);
  const double pi = std::acos(-1.0);
  const std::size_t n_out = n / 2;
  const std::size_t n_in = n - n_out;
  const std::vector<double> t_out = linspace(0.0, pi, n_out);
  const std::vector<double> t_in = linspace(0.0, pi, n_in);

  Dataset data;
  data.X = Matrix::from_shape({n, 2});
  data.y.resize(n);
  data.classes = 2;
  for (std::size_t i = 0; i < n_out; ++i) {
    data.X(i, 0) = std::cos(t_out[i]);
    data.X(i, 1) = std::sin(t_out[i]);
    data.y[i] = 0;
  }
  for (std::size_t i = 0; i < n_in; ++i) {
    data.X(n_out + i, 0) = 1.0 - std::cos(t_in[i]);
    data.X(n_out + i, 1) = 1.0 - std::sin(t_in[i]) - 0.5;
    data.y[n_out + i] = 1;
  }

  // Noise is drawn even when it is 0 so that the shuffle below is the same for every noise level.
  Rng rng(seed);
  for (double& x : data.X) {
    x += noise * rng.normal();
  }
  if (!shuffle) {
    return data;
  }
  return rows_of(data, rng.permutation(n));
}

Dataset make_spiral(std::size_t n_per_class, int classes, double noise, std::uint64_t seed) {
  if (n_per_class < 2) {
    throw std::invalid_argument("make_spiral: need n_per_class >= 2, got " +
                                std::to_string(n_per_class));
  }
  if (classes < 2) {
    throw std::invalid_argument("make_spiral: need classes >= 2, got " + std::to_string(classes));
  }
  check_noise("make_spiral", noise);
  const std::size_t k_count = static_cast<std::size_t>(classes);
  const std::vector<double> radius = linspace(0.0, 1.0, n_per_class);

  Dataset data;
  data.X = Matrix::from_shape({n_per_class * k_count, 2});
  data.y.resize(n_per_class * k_count);
  data.classes = classes;
  Rng rng(seed);
  for (std::size_t k = 0; k < k_count; ++k) {
    const double kd = static_cast<double>(k);
    const std::vector<double> angle = linspace(4.0 * kd, 4.0 * (kd + 1.0), n_per_class);
    for (std::size_t i = 0; i < n_per_class; ++i) {
      const std::size_t row = k * n_per_class + i;
      const double t = angle[i] + noise * rng.normal();
      data.X(row, 0) = radius[i] * std::sin(t);
      data.X(row, 1) = radius[i] * std::cos(t);
      data.y[row] = static_cast<int>(k);
    }
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// CSV

namespace {

std::string_view trim(std::string_view s) {
  const char* space = " \t\r";
  const std::size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(trim(line.substr(start)));
      return cells;
    }
    cells.push_back(trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}


enum class Cell { number, not_a_number, not_finite };

// strtod must consume the whole cell: "1.5x" or "" are not numbers. "inf" and "nan" parse but are
// rejected, since no data set needs them and they poison training silently.
Cell parse_cell(std::string_view cell, double& value) {
  if (cell.empty()) {
    return Cell::not_a_number;
  }
  const std::string text(cell);
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) {
    return Cell::not_a_number;
  }
  return std::isfinite(value) ? Cell::number : Cell::not_finite;
}

// pandas' DataFrame.to_csv names unnamed columns 0, 1, 2, … and writes an unnamed index as a
// first column with an empty name ("Unnamed: 0" once read back and written again).
bool is_index_name(std::string_view cell) {
  return cell.empty() || cell.substr(0, 8) == "Unnamed:";
}

bool default_column_names(const std::vector<std::string_view>& cells) {
  const std::size_t first = !cells.empty() && is_index_name(cells.front()) ? 1 : 0;
  if (cells.size() - first < 2) {
    return false;
  }
  for (std::size_t c = first; c < cells.size(); ++c) {
    if (cells[c] != std::to_string(c - first)) {
      return false;
    }
  }
  return true;
}

class CsvError {
 public:
  CsvError(const std::string& path, std::size_t line)
      : where_(path + ": line " + std::to_string(line)) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(where_ + ": " + what);
  }
  [[noreturn]] void fail_cell(std::size_t column, std::string_view cell, Cell kind) const {
    const std::string at = where_ + ", column " + std::to_string(column) + ": ";
    if (cell.empty()) {
      throw std::runtime_error(at + "empty cell, expected a number");
    }
    const std::string problem =
        kind == Cell::not_finite ? " is not a finite number" : " is not a number";
    throw std::runtime_error(at + quote(cell) + problem);
  }

 private:
  std::string where_;
};

}  // namespace

Dataset load_csv(const std::string& path) {
  return load_csv_rows(path, 0, std::numeric_limits<std::size_t>::max(), nullptr);
}

Dataset load_csv_rows(const std::string& path, std::size_t first, std::size_t last,
                      std::size_t* total_rows) {
  check_not_folder(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  }

  std::vector<double> features;
  Labels labels;
  std::size_t columns = 0;  // fixed by the first non-blank line
  std::size_t data_rows = 0;
  bool index_column = false;  // the header names column 1 as pandas names its index: skip it
  std::string header_first;   // that name, for messages
  std::size_t line_no = 0;
  LineReader lines(in, max_csv_line);
  std::string_view text;
  for (LineReader::Result got; (got = lines.next(text)) != LineReader::Result::end;) {
    line_no = lines.lines();
    if (got == LineReader::Result::too_long) {
      throw std::runtime_error(path + ": line " + std::to_string(line_no) + " is longer than " +
                               std::to_string(max_csv_line) + " bytes (1 MiB): not a CSV file of rows");
    }
    if (line_no == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") {
      text.remove_prefix(3);  // UTF-8 byte order mark written by some spreadsheet programs
    }
    if (trim(text).empty()) {
      continue;
    }
    const CsvError error(path, line_no);
    const std::vector<std::string_view> cells = split_cells(text);

    const bool first_row = columns == 0;
    if (first_row) {
      if (cells.size() < 2) {
        error.fail("expected at least 2 columns (features, then a label), got " +
                   std::to_string(cells.size()));
      }
      columns = cells.size();
      // A header has no numbers at all, or is pandas' default names 0, 1, 2, … (after an empty
      // index name); a first row mixing numbers and text is a broken data row and is reported as
      // such below rather than silently dropped.
      double ignored = 0.0;
      const bool header = std::none_of(cells.begin(), cells.end(), [&](std::string_view c) {
        return parse_cell(c, ignored) != Cell::not_a_number;
      }) || default_column_names(cells);
      if (header) {
        header_first = std::string(cells.front());
        index_column = is_index_name(cells.front());
        if (index_column && columns < 3) {
          error.fail("the header " + quote(text) + " starts with an index column (an empty or "
                     "'Unnamed: …' name, as pandas writes its index), which leaves fewer than 2 "
                     "columns for features and a label");
        }
        continue;
      }
    }
    if (cells.size() != columns) {
      error.fail("expected " + std::to_string(columns) + " columns, got " +
                 std::to_string(cells.size()));
    }
    const std::size_t row = data_rows++;
    if (row < first || row >= last) {
      continue;  // another part's row: counted and its columns checked, its cells left unparsed
    }
    if (index_column) {
      double index = 0.0;
      if (parse_cell(cells.front(), index) != Cell::number || index < 0.0 ||
          index != std::floor(index)) {
        error.fail("column 1 is an index column (the header names it " + quote(header_first) +
                   ", as pandas names its index), but holds " + quote(cells.front()) +
                   ", not a whole number >= 0");
      }
    }
    for (std::size_t c = index_column ? 1 : 0; c < columns; ++c) {
      double value = 0.0;
      const Cell kind = parse_cell(cells[c], value);
      if (kind != Cell::number) {
        error.fail_cell(c + 1, cells[c], kind);
      }
      if (c + 1 < columns) {
        features.push_back(value);
        continue;
      }
      if (value < 0.0 || value != std::floor(value)) {
        error.fail("label " + quote(cells[c]) + " is not a non-negative integer");
      }
      if (value > static_cast<double>(max_classes - 1)) {
        error.fail("label " + quote(cells[c]) + " is above the largest allowed, " +
                   std::to_string(max_classes - 1) + " (at most " + std::to_string(max_classes) +
                   " classes)");
      }
      labels.push_back(static_cast<int>(value));
    }
  }
  if (in.bad()) {
    throw std::runtime_error(path + ": read error after line " + std::to_string(line_no));
  }
  if (data_rows == 0) {
    throw std::runtime_error(path + ": no data rows");
  }
  if (total_rows != nullptr) *total_rows = data_rows;

  Dataset data;
  data.X = Matrix::from_shape({labels.size(), columns - 1 - (index_column ? 1 : 0)});
  std::copy(features.begin(), features.end(), data.X.begin());
  data.y = std::move(labels);
  data.classes = max_label(data.y) + 1;
  return data;
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy

namespace {

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
// Splitting and checking

SplitRows train_test_rows(std::size_t rows, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
    throw std::invalid_argument("train_test_split: test_fraction must be in (0, 1), got " +
                                fmt(test_fraction));
  }
  const std::size_t n = rows;
  // Round up like sklearn, except that a product within 1e-9 of a whole number counts as that
  // number: 0.3 * 10 is 3.0000000000000004 in doubles and should mean 3 rows, not 4.
  const double exact = test_fraction * static_cast<double>(n);
  const double nearest = std::round(exact);
  const std::size_t n_test =
      static_cast<std::size_t>(std::abs(exact - nearest) < 1e-9 ? nearest : std::ceil(exact));
  if (n_test == 0 || n_test >= n) {
    throw std::invalid_argument("train_test_split: test_fraction " + fmt(test_fraction) + " of " +
                                std::to_string(n) + " rows leaves " +
                                (n_test == 0 ? "an empty test part" : "an empty training part"));
  }
  Rng rng(seed);
  const std::vector<std::size_t> order = rng.permutation(n);
  SplitRows split;
  split.test.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_test));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_test), order.end());
  return split;
}

std::pair<Dataset, Dataset> train_test_split(const Dataset& data, double test_fraction,
                                             std::uint64_t seed) {
  check_dataset(data, "train_test_split");
  const SplitRows split = train_test_rows(data.y.size(), test_fraction, seed);
  return {rows_of(data, split.train), rows_of(data, split.test)};
}

Dataset take_rows(const Dataset& data, const std::vector<std::size_t>& rows) {
  for (std::size_t r : rows) {
    if (r >= data.y.size() || r >= data.X.shape(0)) {
      throw std::invalid_argument("take_rows: row " + std::to_string(r) + " of a data set of " +
                                  std::to_string(data.y.size()) + " rows");
    }
  }
  return rows_of(data, rows);
}

Standardizer Standardizer::fit(const Matrix& X) {
  if (X.shape(0) == 0 || X.shape(1) == 0) {
    throw std::invalid_argument("Standardizer::fit: no rows or no columns (" +
                                std::to_string(X.shape(0)) + " x " + std::to_string(X.shape(1)) +
                                ")");
  }
  const std::size_t rows = X.shape(0), cols = X.shape(1);
  Standardizer s;
  s.mean = xt::zeros<double>({std::size_t{1}, cols});
  s.scale = xt::ones<double>({std::size_t{1}, cols});
  for (std::size_t c = 0; c < cols; ++c) {
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) sum += X(r, c);
    const double mean = sum / static_cast<double>(rows);
    double squares = 0.0;  // two passes: no cancellation for columns far from 0
    for (std::size_t r = 0; r < rows; ++r) squares += (X(r, c) - mean) * (X(r, c) - mean);
    const double deviation = std::sqrt(squares / static_cast<double>(rows));
    if (!std::isfinite(mean) || !std::isfinite(deviation)) {
      throw std::invalid_argument("Standardizer::fit: column " + std::to_string(c) +
                                  " has a mean or deviation that is not finite");
    }
    s.mean(0, c) = mean;
    s.scale(0, c) = deviation > 0.0 ? deviation : 1.0;
  }
  return s;
}

Matrix Standardizer::transform(const Matrix& X) const {
  if (X.shape(1) != features()) {
    throw std::invalid_argument("Standardizer::transform: " + std::to_string(X.shape(1)) +
                                " columns, but the scaling was fitted on " +
                                std::to_string(features()));
  }
  Matrix out = Matrix::from_shape({X.shape(0), X.shape(1)});
  for (std::size_t r = 0; r < X.shape(0); ++r) {
    for (std::size_t c = 0; c < X.shape(1); ++c) out(r, c) = (X(r, c) - mean(0, c)) / scale(0, c);
  }
  return out;
}

void check_dataset(const Dataset& data, const std::string& what) {
  const std::size_t rows = data.X.shape(0);
  if (rows != data.y.size()) {
    throw std::invalid_argument(what + ": X has " + std::to_string(rows) + " rows but y has " +
                                std::to_string(data.y.size()) + " labels");
  }
  if (rows == 0) {
    throw std::invalid_argument(what + ": empty data set (0 rows)");
  }
  if (data.X.shape(1) == 0) {
    throw std::invalid_argument(what + ": X " + autograd::shape_str(data.X) +
                                " has no feature columns");
  }
  if (data.classes < 1) {
    throw std::invalid_argument(what + ": classes must be at least 1, got " +
                                std::to_string(data.classes));
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const int label = data.y[i];
    if (label < 0 || label >= data.classes) {
      throw std::invalid_argument(what + ": row " + std::to_string(i) + ": label " +
                                  std::to_string(label) + " is outside 0.." +
                                  std::to_string(data.classes - 1));
    }
    for (std::size_t j = 0; j < data.X.shape(1); ++j) {
      if (!std::isfinite(data.X(i, j))) {
        throw std::invalid_argument(what + ": row " + std::to_string(i) + ", column " +
                                    std::to_string(j) + ": feature is " + fmt(data.X(i, j)));
      }
    }
  }
}

}  // namespace nn
