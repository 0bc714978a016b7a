// Performance benchmark: the engine against the same model written by hand in xtensor +
// xtensor-blas, against libtorch (when built with it), and on B against the time of its matrix
// products alone. Everything runs in one process, interleaved, so that the ratios compare like with
// like on a noisy machine. Exits non-zero if the implementations do not reach the same objective.
// R (an RNN) is compared with libtorch only: it has no hand-written version.
//
//   autograd_bench [--repeats N] [--blog-passes N] [--b-passes N] [--b-rows N] [--r-steps N]
//                  [--r-hidden N] [--r-batch N] [--r-bptt N] [--threads 1,2]
//                  [--workloads S,W,B,R] [--kernels avx512|avx2+fma|scalar] [--data DIR]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

// cblas_dgemm as xtensor-blas declares it (OpenBLAS's own cblas.h conflicts with it).
#include <xtensor-blas/xblas.hpp>

#include "autograd/kernels.hpp"
#include "hand_written.hpp"
#include "workloads.hpp"
#ifdef AUTOGRAD_BENCH_TORCH
#include "torch_net.hpp"
#endif

extern "C" void openblas_set_num_threads(int n);
extern "C" char* openblas_get_config(void);

namespace {

using bench::Matrix;
using bench::Problem;
using Clock = std::chrono::steady_clock;

struct Options {
  int repeats = 5;
  int blog_passes = 20000;
  int b_passes = 50;
  std::size_t b_rows = 4096;
  int r_steps = 200;
  std::size_t r_hidden = 128, r_batch = 32, r_bptt = 32;
  std::vector<int> threads = {1, 2};
  std::vector<std::string> workloads = {"S", "W", "B", "R"};
  std::string data = AUTOGRAD_TEST_DATA;
  std::string kernels;  // the engine's instruction set for tanh/exp; empty: the best available
};

// Every implementation: train p's model from p.W0 for p.passes steps, put the training loop's time
// in seconds, return the objective of the last two passes.
using Trainer = std::function<bench::LastTwo(const Problem&, double& seconds)>;

bench::LastTwo engine_train(const Problem& p, double& seconds) {
  bench::EngineNet net(p.W0);
  autograd::Tape tape;
  bench::LastTwo objective;
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) objective.record(net.train_step(tape, p.X, p.y, p.rate));
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return objective;
}

bench::LastTwo engine_rnn_train(const Problem& p, double& seconds) {
  bench::EngineRnn net(p.W0);
  autograd::Tape tape;
  bench::LastTwo objective;
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    const bench::Labels* symbols = p.symbols.data() + static_cast<std::size_t>(pass) * (p.bptt + 1);
    objective.record(net.train_step(tape, symbols, p.bptt, p.rate));
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return objective;
}

bench::LastTwo hand_train(const Problem& p, double& seconds) {
  bench::HandNet net(p.W0);
  bench::LastTwo objective;
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    const bool last_two = pass + 2 >= p.passes;
    const double loss = net.train_step(p.X, p.y, p.rate, last_two);
    if (last_two) objective.record(loss);
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return objective;
}

// C = op(A)·op(B) + beta·C through cblas_dgemm, row-major.
void dgemm(bool ta, bool tb, const Matrix& A, const Matrix& B, double beta, Matrix& C) {
  const auto m = static_cast<int>(C.shape(0)), n = static_cast<int>(C.shape(1));
  const auto k = static_cast<int>(ta ? A.shape(0) : A.shape(1));
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
              1.0, A.data(), static_cast<int>(A.shape(1)), B.data(), static_cast<int>(B.shape(1)),
              beta, C.data(), n);
}

// The floor of a pass: its matrix products alone, with the shapes and transposes the engine uses.
// Forward Z[l] = in[l]·W[l]; backward dW[l] += in[l]ᵀ·G[l] and, below the first layer,
// G[l−1] = G[l]·W[l]ᵀ (the input X needs no gradient). Computes no objective (an empty LastTwo).
bench::LastTwo gemm_floor(const Problem& p, double& seconds) {
  const std::size_t L = p.W0.size(), N = p.X.shape(0);
  std::vector<Matrix> W = p.W0, dW, Z, G;
  for (const Matrix& w : W) {
    dW.push_back(xt::zeros<double>(w.shape()));
    Z.push_back(xt::zeros<double>({N, w.shape(1)}));
    G.push_back(xt::zeros<double>({N, w.shape(1)}));
  }
  G.back().fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t l = 0; l < L; ++l) dgemm(false, false, l == 0 ? p.X : Z[l - 1], W[l], 0.0, Z[l]);
    for (std::size_t l = L; l-- > 0;) {
      dgemm(true, false, l == 0 ? p.X : Z[l - 1], G[l], 1.0, dW[l]);
      if (l > 0) dgemm(false, true, G[l], W[l], 0.0, G[l - 1]);
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {};
}

// R's floor: its matrix products alone, with the engine's shapes, transposes and betas. Per time
// step k forward Z = s_{k−1}·W (k > 0) and L = s_k·V; backward dV += s_kᵀ·G_L, G_s = G_L·Vᵀ, and for
// k > 0 dW += s_{k−1}ᵀ·G_h, G_{s_{k−1}} = G_h·Wᵀ. Computes no objective (an empty LastTwo).
bench::LastTwo rnn_gemm_floor(const Problem& p, double& seconds) {
  const std::size_t T = p.bptt, N = p.symbols.at(0).size(), H = p.W0.at(1).shape(0);
  const std::size_t C = p.W0.at(2).shape(1);
  const Matrix& W = p.W0[1];
  const Matrix& V = p.W0[2];
  Matrix dW = xt::zeros<double>({H, H}), dV = xt::zeros<double>({H, C});
  std::vector<Matrix> S(T, Matrix(xt::zeros<double>({N, H}))), Z = S, GS = S, GH = S;
  std::vector<Matrix> L(T, Matrix(xt::zeros<double>({N, C}))), GL = L;
  for (std::size_t k = 0; k < T; ++k) S[k].fill(0.5), GL[k].fill(1e-3), GH[k].fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t k = 0; k < T; ++k) {
      if (k > 0) dgemm(false, false, S[k - 1], W, 0.0, Z[k]);
      dgemm(false, false, S[k], V, 0.0, L[k]);
    }
    for (std::size_t k = T; k-- > 0;) {
      dgemm(true, false, S[k], GL[k], 1.0, dV);
      dgemm(false, true, GL[k], V, 0.0, GS[k]);
      if (k > 0) {
        dgemm(true, false, S[k - 1], GH[k], 1.0, dW);
        dgemm(false, true, GH[k], W, 0.0, GS[k - 1]);
      }
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {};
}

// The same products with those that do not depend on the previous step made once for all T steps
// (the states stacked into one [T·N x H] matrix): only s_{k−1}·W and G_h·Wᵀ stay per step;
// s·V, G_L·Vᵀ, Σ_k sᵀ·G_L and Σ_k s_{k−1}ᵀ·G_h become one product each. What a model written with
// the logits of all steps at once (or an engine that stacked such products) would be bound by.
bench::LastTwo rnn_gemm_floor_batched(const Problem& p, double& seconds) {
  const std::size_t T = p.bptt, N = p.symbols.at(0).size(), H = p.W0.at(1).shape(0);
  const std::size_t C = p.W0.at(2).shape(1);
  const Matrix& W = p.W0[1];
  const Matrix& V = p.W0[2];
  Matrix dW = xt::zeros<double>({H, H}), dV = xt::zeros<double>({H, C});
  std::vector<Matrix> S(T, Matrix(xt::zeros<double>({N, H}))), Z = S, GS = S;
  Matrix S_all = xt::zeros<double>({T * N, H}), GH_all = S_all, GS_all = S_all;
  Matrix L_all = xt::zeros<double>({T * N, C}), GL_all = L_all;
  S_all.fill(0.5), GL_all.fill(1e-3), GH_all.fill(1e-3);
  for (std::size_t k = 0; k < T; ++k) S[k].fill(0.5);
  Matrix GH = xt::zeros<double>({N, H});
  GH.fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t k = 1; k < T; ++k) dgemm(false, false, S[k - 1], W, 0.0, Z[k]);
    dgemm(false, false, S_all, V, 0.0, L_all);
    dgemm(true, false, S_all, GL_all, 1.0, dV);
    dgemm(false, true, GL_all, V, 0.0, GS_all);
    for (std::size_t k = T; k-- > 1;) dgemm(false, true, GH, W, 0.0, GS[k - 1]);
    dgemm(true, false, S_all, GH_all, 1.0, dW);  // (T−1 steps of it in the model; T here)
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {};
}

void set_threads(int n) {
  openblas_set_num_threads(n);
#ifdef AUTOGRAD_BENCH_TORCH
  bench::torch_set_threads(n);
#endif
}

struct Stats {
  double median, min, max;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {median, v.front(), v.back()};
}

template <class T>
std::vector<T> parse_list(const std::string& s, T (*convert)(const std::string&)) {
  std::vector<T> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(convert(item));
  return out;
}

int to_int(const std::string& s) {
  std::size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || v <= 0) {
    throw std::invalid_argument("not a positive integer: '" + s + "'");
  }
  return v;
}
std::string to_string(const std::string& s) { return s; }

void set_option(Options& o, const std::string& flag, const std::string& value) {
  if (flag == "--repeats") {
    o.repeats = to_int(value);
  } else if (flag == "--blog-passes") {
    o.blog_passes = to_int(value);
  } else if (flag == "--b-passes") {
    o.b_passes = to_int(value);
  } else if (flag == "--b-rows") {
    o.b_rows = static_cast<std::size_t>(to_int(value));
  } else if (flag == "--r-steps") {
    o.r_steps = to_int(value);
  } else if (flag == "--r-hidden") {
    o.r_hidden = static_cast<std::size_t>(to_int(value));
  } else if (flag == "--r-batch") {
    o.r_batch = static_cast<std::size_t>(to_int(value));
  } else if (flag == "--r-bptt") {
    o.r_bptt = static_cast<std::size_t>(to_int(value));
  } else if (flag == "--threads") {
    o.threads = parse_list<int>(value, to_int);
  } else if (flag == "--workloads") {
    o.workloads = parse_list<std::string>(value, to_string);
    for (const std::string& w : o.workloads) {
      if (w != "S" && w != "W" && w != "B" && w != "R") throw std::invalid_argument("unknown workload '" + w + "'");
    }
  } else if (flag == "--kernels") {
    o.kernels = value;
  } else if (flag == "--data") {
    o.data = value;
  } else {
    throw std::invalid_argument("unknown flag");
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + flag);
    const std::string value = argv[++i];
    try {
      set_option(o, flag, value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(flag + ": " + e.what());
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: autograd_bench [--repeats N] [--blog-passes N] [--b-passes N] [--b-rows N]\n"
      "                      [--r-steps N] [--r-hidden N] [--r-batch N] [--r-bptt N]\n"
      "                      [--threads 1,2] [--workloads S,W,B,R] [--kernels avx512|avx2+fma|scalar]\n"
      "                      [--data DIR]\n"
      "R (RNN, defaults: 200 steps, hidden 128, batch 32, 32 steps of BPTT) has no hand-written\n"
      "version: it compares the engine with libtorch only.\n";
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("%s", usage);
    return 0;
  }
  Options opt;
  try {
    opt = parse(argc, argv);
    if (!opt.kernels.empty()) autograd::kernels::use_instruction_set(opt.kernels);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autograd_bench: %s\n%s", e.what(), usage);
    return 2;
  }

  std::vector<Problem> problems;
  try {
    for (const std::string& w : opt.workloads) {
      if (w == "S") problems.push_back(bench::blog_problem(opt.data, 3, opt.blog_passes));
      if (w == "W") problems.push_back(bench::blog_problem(opt.data, 50, opt.blog_passes));
      if (w == "B") problems.push_back(bench::blas_problem(opt.b_rows, opt.b_passes));
      if (w == "R") {
        problems.push_back(bench::rnn_problem(opt.r_steps, opt.r_hidden, opt.r_batch, opt.r_bptt));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autograd_bench: reading the blog's data from %s (--data): %s\n",
                 opt.data.c_str(), e.what());
    return 2;
  }
  std::vector<std::pair<std::string, Trainer>> impls = {{"engine", engine_train},
                                                       {"hand-written", hand_train}};
#ifdef AUTOGRAD_BENCH_TORCH
  impls.emplace_back("libtorch", bench::torch_train);
#endif

  std::printf("OpenBLAS: %s\n", openblas_get_config());
#ifdef XTENSOR_USE_XSIMD
  std::printf("xtensor's xsimd: %s\n", xsimd::default_arch::name());
#else
  std::printf("xtensor's xsimd: off\n");
#endif
  std::printf("engine's tanh/exp kernels: %s\n", autograd::kernels::instruction_set());
#ifndef AUTOGRAD_BENCH_TORCH
  std::printf("libtorch: not found by CMake, not compared\n");
#endif
  std::printf("repeats %d, blog passes %d, B: %zu rows, %d passes; R: %d steps, hidden %zu, batch %zu, "
              "BPTT %zu (R: no hand-written version)\n\n",
              opt.repeats, opt.blog_passes, opt.b_rows, opt.b_passes, opt.r_steps, opt.r_hidden,
              opt.r_batch, opt.r_bptt);

  // seconds[{threads, workload, implementation}]
  std::map<std::tuple<int, std::string, std::string>, std::vector<double>> seconds;
  bool agree = true;
  // All implementations compute the same objective and gradients; they differ only in summation
  // order and in the last bits of tanh/exp, ~1e-15 relative per step. Where descent converges that
  // is not amplified. S passes an unstable stretch (passes ~1000-2000) and ends in a period-2
  // oscillation whose phase those last bits decide, so the pair of values is compared (LastTwo).
  // A wrong gradient term (the penalty alone is ~1e-2 of the objective) moves it far more than 1e-6.
  const double rtol = 1e-6;
  std::map<std::string, bench::LastTwo> reference;  // the first run of each workload
  std::map<std::string, double> spread;             // the largest relative difference from it
  const auto relative = [](double a, double b) { return std::abs(a - b) / std::abs(b); };
  const auto differs = [&](double a, double b) { return !(std::abs(a - b) <= rtol * std::abs(b)); };

  std::printf("| threads | workload | implementation | median s | min–max s | "
              "objective, last two passes |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (int threads : opt.threads) {
    set_threads(threads);
    for (const Problem& p : problems) {
      auto runs = impls;
      if (p.name == "B") runs.emplace_back("GEMM floor", gemm_floor);
      if (p.name == "R") {  // no hand-written RNN
        runs = {{"engine", engine_rnn_train}};
#ifdef AUTOGRAD_BENCH_TORCH
        runs.emplace_back("libtorch", bench::torch_rnn_train);
#endif
        runs.emplace_back("GEMM floor", rnn_gemm_floor);
        runs.emplace_back("GEMM floor, batched", rnn_gemm_floor_batched);
      }
      std::map<std::string, bench::LastTwo> final_objective;
      for (int rep = 0; rep < opt.repeats; ++rep) {
        for (std::size_t k = 0; k < runs.size(); ++k) {
          // Rotated order: no implementation always runs first (or right after the same other).
          const auto& [name, train] = runs[(k + static_cast<std::size_t>(rep)) % runs.size()];
          double s = 0.0;
          const bench::LastTwo objective = train(p, s);
          seconds[{threads, p.name, name}].push_back(s);
          if (name.rfind("GEMM floor", 0) == 0) continue;
          final_objective[name] = objective;
          const bench::LastTwo& ref = reference.emplace(p.name, objective).first->second;
          spread[p.name] = std::max({spread[p.name], relative(objective.low(), ref.low()),
                                     relative(objective.high(), ref.high())});
          if (differs(objective.low(), ref.low()) || differs(objective.high(), ref.high())) {
            std::fprintf(stderr,
                         "autograd_bench: %s with %s at %d thread(s), repeat %d: objective of the last two "
                         "passes %.12g / %.12g differs from the first run's %.12g / %.12g by more "
                         "than %g relative\n",
                         p.name.c_str(), name.c_str(), threads, rep + 1, objective.low(),
                         objective.high(), ref.low(), ref.high(), rtol);
            agree = false;
          }
        }
      }
      for (const auto& [name, train] : runs) {
        const Stats st = stats(seconds[{threads, p.name, name}]);
        char objective[64] = "—";
        if (final_objective.count(name)) {
          std::snprintf(objective, sizeof objective, "%.10g / %.10g", final_objective[name].low(),
                        final_objective[name].high());
        }
        std::printf("| %d | %s | %s | %.3f | %.3f–%.3f | %s |\n", threads, p.name.c_str(),
                    name.c_str(), st.median, st.min, st.max, objective);
        std::fflush(stdout);
      }
    }
  }

  const auto median = [&](int threads, const std::string& w, const std::string& impl) {
    const auto it = seconds.find({threads, w, impl});
    return it == seconds.end() ? NAN : stats(it->second).median;
  };
  const auto ratio = [](double a, double b) {  // "—" where there is nothing to compare with
    char text[16] = "—";
    if (!std::isnan(a) && !std::isnan(b)) std::snprintf(text, sizeof text, "%.2f", a / b);
    return std::string(text);
  };
  std::printf("\nRatios of medians (below 1: the engine is faster)\n\n");
  std::printf("| threads | workload | engine / hand-written | engine / libtorch | engine / GEMM floor |\n");
  std::printf("|---|---|---|---|---|\n");
  for (int threads : opt.threads) {
    for (const Problem& p : problems) {
      const double e = median(threads, p.name, "engine");
      std::printf("| %d | %s | %s | %s | %s |\n", threads, p.name.c_str(),
                  ratio(e, median(threads, p.name, "hand-written")).c_str(),
                  ratio(e, median(threads, p.name, "libtorch")).c_str(),
                  ratio(e, median(threads, p.name, "GEMM floor")).c_str());
    }
  }
  if (std::count(opt.threads.begin(), opt.threads.end(), 1) && std::count(opt.threads.begin(), opt.threads.end(), 2)) {
    std::printf("\nEngine, 1 thread / 2 threads (above 1: 2 threads are faster)\n\n");
    for (const Problem& p : problems) {
      std::printf("- %s: %s\n", p.name.c_str(), ratio(median(1, p.name, "engine"), median(2, p.name, "engine")).c_str());
    }
  }

  std::printf("\nLargest relative difference of any run's last-two objectives from the first run's "
              "(limit %g):\n\n", rtol);
  for (const Problem& p : problems) std::printf("- %s: %.1e\n", p.name.c_str(), spread[p.name]);

  if (!agree) {
    std::fprintf(stderr, "autograd_bench: the implementations do not reach the same objective\n");
    return 1;
  }
  return 0;
}
