#pragma once
/// \file
/// Seeded random numbers that are the same on every standard library.
///
//// std::mt19937_64's output sequence is fixed by the standard, but the distributions
/// (std::normal_distribution, std::uniform_real_distribution, std::shuffle, ...) are not: the same
/// seed gives other numbers on libstdc++, libc++ and MSVC. So only the engine's raw bits are used
/// and every transformation is written out here.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"

namespace nn {

/// A seeded random number generator, the same on every platform and standard library.
///
/// std::mt19937_64's bits, transformed by this class's own code (not the standard distributions).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}  ///< The generator for this seed.

  /// 64 raw bits from the engine.
  std::uint64_t bits() { return engine_(); }

  /// Uniform on [0, 1): the top 53 bits fill a double's mantissa exactly, so every value is a
  /// multiple of 2^-53 and all are equally likely.
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }

  /// Standard normal by Marsaglia's polar method: no sin/cos, whose last bits vary between
  /// maths libraries. Each accepted pair yields two values; the second is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0.0;
    double v = 0.0;
    double s = 0.0;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }

  /// Uniform integer in [0, n) without modulo bias: raw values below 2^64 mod n are rejected so
  /// that the remaining range is a whole multiple of n. Throws std::invalid_argument if n is 0.
  std::uint64_t below(std::uint64_t n) {
    if (n == 0) {
      throw std::invalid_argument("Rng::below: n must be positive, got 0");
    }
    const std::uint64_t threshold = (0 - n) % n;  // == 2^64 mod n
    for (;;) {
      const std::uint64_t r = bits();
      if (r >= threshold) {
        return r % n;
      }
    }
  }

  /// Shuffles items in place by Fisher–Yates: every permutation equally likely, and the same one for
  /// the same seed everywhere.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(below(i));
      using std::swap;
      swap(items[i - 1], items[j]);
    }
  }

  /// 0, 1, ..., n-1 in random order.
  std::vector<std::size_t> permutation(std::size_t n) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
      order[i] = i;
    }
    shuffle(order);
    return order;
  }

  /// rows x cols standard normal values, filled row by row. A shape that cannot be held is refused
  /// with std::invalid_argument naming op (autograd::allocate_matrix), the caller if it says so.
  autograd::Matrix randn(std::size_t rows, std::size_t cols, const char* op = "Rng::randn") {
    autograd::Matrix m = autograd::allocate_matrix<double>(op, rows, cols);
    for (double& x : m) {
      x = normal();
    }
    return m;
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace nn
