#include "autograd/kernels.hpp"

#include <cmath>
#include <stdexcept>

namespace autograd::kernels {

// Defined in kernels_avx2.cpp / kernels_avx512.cpp, compiled for those instruction sets.
void tanh_avx2(const double* x, double* y, std::size_t n);
void exp_avx2(const double* x, double* y, std::size_t n);
void tanh_avx512(const double* x, double* y, std::size_t n);
void exp_avx512(const double* x, double* y, std::size_t n);
void tanh_avx2(const float* x, float* y, std::size_t n);
void exp_avx2(const float* x, float* y, std::size_t n);
void tanh_avx512(const float* x, float* y, std::size_t n);
void exp_avx512(const float* x, float* y, std::size_t n);

namespace {

void tanh_scalar(const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void exp_scalar(const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
void tanh_scalar(const float* x, float* y, std::size_t n) {  // tanhf
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void exp_scalar(const float* x, float* y, std::size_t n) {  // expf
  for (std::size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

using Kernel = void (*)(const double*, double*, std::size_t);
using KernelF = void (*)(const float*, float*, std::size_t);
// Both precisions of one instruction set, so that use_instruction_set switches them together.
struct Table {
  Kernel tanh, exp;
  KernelF tanh_f, exp_f;
  const char* name;
};

// Best first. __builtin_cpu_supports checks that both the CPU and the operating system support a set.
std::vector<Table> available() {
  std::vector<Table> sets;
#ifdef AUTOGRAD_X86_KERNELS
  if (__builtin_cpu_supports("avx512f")) sets.push_back({tanh_avx512, exp_avx512, tanh_avx512, exp_avx512, "avx512"});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    sets.push_back({tanh_avx2, exp_avx2, tanh_avx2, exp_avx2, "avx2+fma"});
  }
#endif
  sets.push_back({tanh_scalar, exp_scalar, tanh_scalar, exp_scalar, "scalar"});
  return sets;
}

Table& current() {
  static Table t = available().front();
  return t;
}

}  // namespace

void tanh(const double* x, double* y, std::size_t n) { current().tanh(x, y, n); }
void exp(const double* x, double* y, std::size_t n) { current().exp(x, y, n); }
void tanh(const float* x, float* y, std::size_t n) { current().tanh_f(x, y, n); }
void exp(const float* x, float* y, std::size_t n) { current().exp_f(x, y, n); }
const char* instruction_set() { return current().name; }

std::vector<std::string> available_instruction_sets() {
  std::vector<std::string> names;
  for (const Table& t : available()) names.push_back(t.name);
  return names;
}

void use_instruction_set(const std::string& name) {
  for (const Table& t : available()) {
    if (name == t.name) {
      current() = t;
      return;
    }
  }
  std::string known;
  for (const std::string& n : available_instruction_sets()) known += " " + n;
  throw std::invalid_argument("kernels: instruction set '" + name + "' is not available here (available:" +
                              known + ")");
}

}  // namespace autograd::kernels
