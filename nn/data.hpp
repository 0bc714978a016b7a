#pragma once
/// \file
/// Data sets for classification: the blog's two moons, a 3-class spiral, and loaders for CSV and
/// NumPy files (the arrays of a .npy file in any shape and dtype: nn/npy.hpp, included here). Rows
/// of X are examples; y holds one class index per row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"
#include "npy.hpp"

namespace nn {

/// The most classes a data set may have: a larger label is refused by the loaders, before a
/// model with that many outputs is allocated.
inline constexpr int max_classes = 100000;

/// A classification data set: float64 features and one class label per row.
struct Dataset {
  autograd::Matrix X;  ///< [rows x features].
  autograd::Labels y;  ///< One label per row, 0..classes-1.
  int classes = 0;     ///< The number of classes (the model's outputs).
};

/// The blog's two moons: sklearn.datasets.make_moons with n points.
///
/// n/2 points on the upper half circle around (0, 0) (label 0), the
/// rest on the lower half circle around (1, 0.5) (label 1), angles evenly spaced over [0, pi];
/// then N(0, noise^2) added to every coordinate; then rows shuffled (unless shuffle is false).
/// Same seed, same data on every platform (see random.hpp). Throws std::invalid_argument if n < 2
/// or noise is negative or not finite.
Dataset make_moons(std::size_t n, double noise, std::uint64_t seed, bool shuffle = true);

/// The cs231n spiral: `classes` arms of n_per_class points each.
///
/// Class k has n_per_class points at radius r = linspace(0, 1) and angle
/// t = linspace(4k, 4(k+1)) + noise * N(0, 1), placed at (r sin t, r cos t). Rows are grouped by
/// class, as in the original. Throws std::invalid_argument if n_per_class < 2, classes < 2, or
/// noise is negative or not finite.
Dataset make_spiral(std::size_t n_per_class, int classes, double noise, std::uint64_t seed);

/// The longest line load_csv() reads, in bytes (without its '\n'): 1 MiB.
inline constexpr std::size_t max_csv_line = std::size_t{1} << 20;

/// Loads a data set from a CSV file.
///
/// Comma-separated numbers, one example per line: every column but the last is a feature, the last
/// is an integer label in 0..max_classes-1; classes = largest label + 1. A first line without any
/// number in it is a header and skipped, and so is a first line of exactly 0,1,…,k-1 (pandas'
/// names for unnamed columns: a data row of those very values is taken for a header). If the
/// header's first name is empty or starts with "Unnamed:" (pandas' to_csv with its index), the
/// first column is the row index: it must hold whole numbers >= 0 and is dropped. Blank lines are
/// ignored. Throws std::runtime_error naming the file, the 1-based line (and column) and what was
/// expected, a bad cell quoted by nn::quote; a line longer than max_csv_line bytes is refused
/// before more of it is read.
Dataset load_csv(const std::string& path);

/// Rows first..last-1 (0-based, counting data rows only, not a header or blank lines) of a CSV
/// file in load_csv's format: one process's part of a file shared by several. Every line is still
/// read and its columns counted, so that a broken file fails alike in every part, but only the
/// part's cells are parsed. A part past the end is empty ([0 x features], classes 0); otherwise
/// classes is the part's largest label + 1. total_rows, if given, receives the file's data rows.
/// Throws as load_csv does.
Dataset load_csv_rows(const std::string& path, std::size_t first, std::size_t last,
                      std::size_t* total_rows);

/// Loads a data set from two NumPy files: X from a 2-D float64 .npy file, y from a 1-D int64 or
/// int32 .npy file (as numpy writes them on little-endian machines). Throws std::runtime_error
/// naming the file and the problem: missing or truncated file, wrong dtype or shape, row counts
/// that disagree, a label outside 0..max_classes-1 (naming its 0-based row).
Dataset load_npy(const std::string& x_path, const std::string& y_path);

/// Rows first..last-1 (0-based) of the data load_npy reads: only those rows' bytes are read (the
/// whole of X if it is stored in Fortran order). A part past the end is empty ([0 x features],
/// classes 0); otherwise classes is the part's largest label + 1. total_rows, if given, receives
/// the files' rows. Throws as load_npy does.
Dataset load_npy_rows(const std::string& x_path, const std::string& y_path, std::size_t first,
                      std::size_t last, std::size_t* total_rows);

/// Splits a data set into a training and a test part.
///
/// Seeded shuffle, then the first ceil(test_fraction * rows) shuffled rows become the test part and
/// the rest the training part (sklearn's ShuffleSplit). Returns {train, test}; both keep `classes`.
/// Throws std::invalid_argument if test_fraction is not in (0, 1) or leaves a part empty.
std::pair<Dataset, Dataset> train_test_split(const Dataset& data, double test_fraction,
                                             std::uint64_t seed);

/// The rows of a train/test split, as 0-based indices into the data set's rows.
struct SplitRows {
  std::vector<std::size_t> train;  ///< training rows, in the shuffled order train_test_split uses
  std::vector<std::size_t> test;   ///< held-out rows, in the shuffled order train_test_split uses
};

/// The rows train_test_split(data, test_fraction, seed) puts in each part, for `rows` rows: the
/// same seed gives the same rows, so that another tool can use the same split. Throws
/// std::invalid_argument as train_test_split does for test_fraction.
SplitRows train_test_rows(std::size_t rows, double test_fraction, std::uint64_t seed);

/// The given rows of data (0-based, in the order given, repeats allowed), keeping `classes`.
/// Throws std::invalid_argument naming the first row outside the data set.
Dataset take_rows(const Dataset& data, const std::vector<std::size_t>& rows);

/// Feature scaling as scikit-learn's StandardScaler: x' = (x − mean) / scale per column, with the
/// mean and the population standard deviation (ddof 0) of the rows it was fitted on; a constant
/// column gets scale 1. Fit it on the training rows only, so that held-out rows do not leak into
/// the scaling.
struct Standardizer {
  autograd::Matrix mean;   ///< [1 x features]
  autograd::Matrix scale;  ///< [1 x features], every entry > 0

  /// The mean and deviation of each column of X. Throws std::invalid_argument if X has no rows or
  /// no columns, or a column's mean or deviation is not finite.
  static Standardizer fit(const autograd::Matrix& X);
  /// (X − mean) / scale, row by row. Throws std::invalid_argument if X's column count differs.
  autograd::Matrix transform(const autograd::Matrix& X) const;
  /// The number of feature columns it was fitted on.
  std::size_t features() const { return mean.shape(1); }
};

/// Checks that a data set is usable.
///
/// Throws std::invalid_argument, starting with `what`, if it is empty, has no feature
/// columns, a non-finite feature, X rows != y size, classes < 1, or a label outside
/// 0..classes-1. Row numbers in the messages are 0-based indices.
void check_dataset(const Dataset& data, const std::string& what);

}  // namespace nn
