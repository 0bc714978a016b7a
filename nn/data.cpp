#include "data.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "loader_support.hpp"
#include "random.hpp"
#include "text.hpp"

namespace nn {

namespace {

using autograd::Labels;
using autograd::Matrix;
using detail::check_not_folder;
using detail::max_label;
using detail::trim;

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
