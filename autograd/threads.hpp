#pragma once
/// @file
/// How many threads the engine's own work uses. The elementwise ops, their backward rules, the
/// reductions and the fused softmax cross-entropy split arrays of more than
/// autograd::parallel_threshold elements into fixed blocks and share them among that many threads
/// (matrix products are BLAS's: OpenBLAS threads them itself). Smaller arrays stay on the calling
/// thread. Results do not depend on the thread count: the blocks, and the order in which partial
/// sums are combined, depend only on the array's shape.
#include <cstddef>

namespace autograd {

/// Arrays with more elements than this are split into blocks of this many elements (or of whole
/// rows of about this many) for the engine's threads; chosen by measurement (tests/bench/RESULTS.md).
inline constexpr std::size_t parallel_threshold = 16384;

/// The most threads the engine uses, whatever count it is given. A fixed number rather than the
/// machine's cores, so that a count means the same on every machine (a test at 2 or 3 threads
/// tests them on a 1-core runner too); above the hardware threads of common machines, and low
/// enough that a mistaken count (10000) starts at most 255 pool threads instead of one per block.
inline constexpr int max_threads = 256;

/// The number of threads the engine uses: the count given to set_num_threads() if it was called,
/// else the one OpenBLAS uses (its `OPENBLAS_NUM_THREADS` variable or `openblas_set_num_threads`,
/// read at each op), else 1 when the program's BLAS is not OpenBLAS; at most max_threads.
int num_threads();

/// Sets the thread count of the engine and of OpenBLAS (`openblas_set_num_threads`, when the BLAS
/// is OpenBLAS) together, capped at max_threads. n must be at least 1 (std::invalid_argument
/// otherwise). Not while other threads are running ops.
void set_num_threads(int n);

}  // namespace autograd
