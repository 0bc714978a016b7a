#pragma once
/// @file
/// The engine's internal thread pool (not a public interface; see autograd/threads.hpp). Work is
/// cut into blocks that depend only on the array's size, never on the thread count, so every
/// block computes the same numbers whichever thread runs it.
#include <cstddef>
#include <type_traits>
#include <vector>

#include "autograd/threads.hpp"

namespace autograd::detail {

/// Calls body(context, b) once for every block b in [0, blocks), on up to num_threads() threads
/// (the caller's among them), and returns when all are done. Allocates nothing once the pool's
/// threads exist. While another dispatch is under way (from another thread, or from inside a
/// block), the blocks run one after another on the calling thread.
void run_blocks(std::size_t blocks, void (*body)(void*, std::size_t), void* context);

/// run_blocks with any callable taking the block index.
template <class F>
void for_blocks(std::size_t blocks, F&& f) {
  if (blocks == 1) {
    f(std::size_t{0});
    return;
  }
  using Fn = std::remove_reference_t<F>;
  run_blocks(blocks, [](void* c, std::size_t b) { (*static_cast<Fn*>(c))(b); },
             const_cast<void*>(static_cast<const void*>(&f)));
}

/// The number of blocks of parallel_threshold elements that n elements are cut into (at least 1).
inline std::size_t element_blocks(std::size_t n) {
  return n <= parallel_threshold ? 1 : (n + parallel_threshold - 1) / parallel_threshold;
}

/// f(begin, end) over consecutive ranges of at most parallel_threshold elements covering [0, n).
template <class F>
void for_ranges(std::size_t n, F&& f) {
  if (n <= parallel_threshold) {
    f(std::size_t{0}, n);
    return;
  }
  for_blocks(element_blocks(n), [&](std::size_t b) {
    const std::size_t begin = b * parallel_threshold;
    f(begin, begin + parallel_threshold < n ? begin + parallel_threshold : n);
  });
}

/// Rows per block for a [rows x cols] array: whole rows, about parallel_threshold elements.
inline std::size_t rows_per_block(std::size_t rows, std::size_t cols) {
  if (rows * cols <= parallel_threshold) return rows > 0 ? rows : 1;  // one block
  return cols >= parallel_threshold ? 1 : parallel_threshold / cols;
}

/// The number of row blocks of a [rows x cols] array (at least 1).
inline std::size_t row_blocks(std::size_t rows, std::size_t cols) {
  const std::size_t per = rows_per_block(rows, cols);
  return rows == 0 ? 1 : (rows + per - 1) / per;
}

/// f(block, row_begin, row_end) over the row blocks of a [rows x cols] array.
template <class F>
void for_rows(std::size_t rows, std::size_t cols, F&& f) {
  const std::size_t per = rows_per_block(rows, cols), blocks = row_blocks(rows, cols);
  if (blocks == 1) {
    f(std::size_t{0}, std::size_t{0}, rows);
    return;
  }
  for_blocks(blocks, [&](std::size_t b) {
    const std::size_t begin = b * per;
    f(b, begin, begin + per < rows ? begin + per : rows);
  });
}

/// A buffer of at least n (uninitialised) values of type T for partial sums, owned by the calling
/// thread and kept: it grows to the largest size asked for and is then reused without allocating.
template <class T>
T* scratch(std::size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

/// The sum of f(begin, end) (a partial sum as double) over the ranges of for_ranges(n): each
/// block's partial is kept and they are added in block order, whatever thread computed them.
template <class F>
double sum_ranges(std::size_t n, F&& f) {
  const std::size_t blocks = element_blocks(n);
  if (blocks == 1) return f(std::size_t{0}, n);
  double* partial = scratch<double>(blocks);
  for_blocks(blocks, [&](std::size_t b) {
    const std::size_t begin = b * parallel_threshold;
    partial[b] = f(begin, begin + parallel_threshold < n ? begin + parallel_threshold : n);
  });
  double total = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) total += partial[b];
  return total;
}

/// out[c] += Σ_r e[r, c] over the rows of a row-major [rows x cols] array e. Over several row
/// blocks, each block's column sums are kept and added to out in block order.
template <class T>
void add_column_sums(const T* e, std::size_t rows, std::size_t cols, T* out) {
  if (cols == 0) return;  // nothing to add, however many (empty) rows
  const std::size_t blocks = row_blocks(rows, cols);
  if (blocks == 1) {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cols; ++c) out[c] += e[r * cols + c];
    }
    return;
  }
  T* partial = scratch<T>(blocks * cols);
  for_rows(rows, cols, [&](std::size_t b, std::size_t r0, std::size_t r1) {
    T* p = partial + b * cols;
    for (std::size_t c = 0; c < cols; ++c) p[c] = T(0);
    for (std::size_t r = r0; r < r1; ++r) {
      for (std::size_t c = 0; c < cols; ++c) p[c] += e[r * cols + c];
    }
  });
  for (std::size_t b = 0; b < blocks; ++b) {
    for (std::size_t c = 0; c < cols; ++c) out[c] += partial[b * cols + c];
  }
}

}  // namespace autograd::detail
