// Performance benchmark: the engine against the same model written by hand in xtensor +
// xtensor-blas, against libtorch (when built with it), and on B against the time of its matrix
// products alone. Everything runs in one process, interleaved, so that the ratios compare like with
// like on a noisy machine. Exits non-zero if the implementations do not reach the same objective.
// R (an RNN) is compared with libtorch only: it has no hand-written version.
//
//   autograd_bench [--repeats N] [--blog-passes N] [--b-passes N] [--b-rows N] [--r-steps N]
//                  [--r-hidden N] [--r-batch N] [--r-bptt N] [--threads 1,2]
//                  [--workloads S,W,B,R] [--dtype float32|float64|both] [--peak-memory yes|no]
//                  [--kernels avx512|avx2+fma|scalar] [--data DIR]
// float64 and float32 (the engine and libtorch in each, the GEMM floor as DGEMM and SGEMM) run
// interleaved in one table; B's peak resident memory is measured per implementation in child
// processes.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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
  std::vector<std::string> dtypes = {"float64", "float32"};
  bool peak_memory = true;  // the peak-memory table of B (one child process per implementation)
  std::string peak_child;   // internal: this process is such a child and runs only this on B
};

// Every implementation: train p's model from p.W0 for p.passes steps, put the training loop's time
// in seconds, return the objective of the last two passes.
using Trainer = std::function<bench::LastTwo(const Problem&, double& seconds)>;

template <class T>
bench::LastTwo engine_train(const Problem& p, double& seconds) {
  bench::BasicEngineNet<T> net(bench::initial_weights<T>(p));
  autograd::BasicTape<T> tape;
  const autograd::BasicMatrix<T>& X = bench::features<T>(p);
  bench::LastTwo objective;
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) objective.record(net.train_step(tape, X, p.y, p.rate));
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return objective;
}

template <class T>
bench::LastTwo engine_rnn_train(const Problem& p, double& seconds) {
  bench::BasicEngineRnn<T> net(bench::initial_weights<T>(p));
  autograd::BasicTape<T> tape;
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

// C = op(A)·op(B) + beta·C through cblas_dgemm (float64) or cblas_sgemm (float32), row-major.
void gemm(bool ta, bool tb, const Matrix& A, const Matrix& B, double beta, Matrix& C) {
  const auto m = static_cast<int>(C.shape(0)), n = static_cast<int>(C.shape(1));
  const auto k = static_cast<int>(ta ? A.shape(0) : A.shape(1));
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
              1.0, A.data(), static_cast<int>(A.shape(1)), B.data(), static_cast<int>(B.shape(1)),
              beta, C.data(), n);
}
void gemm(bool ta, bool tb, const bench::Matrix32& A, const bench::Matrix32& B, float beta,
          bench::Matrix32& C) {
  const auto m = static_cast<int>(C.shape(0)), n = static_cast<int>(C.shape(1));
  const auto k = static_cast<int>(ta ? A.shape(0) : A.shape(1));
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
              1.0f, A.data(), static_cast<int>(A.shape(1)), B.data(), static_cast<int>(B.shape(1)),
              beta, C.data(), n);
}

// The floor of a pass: its matrix products alone, with the shapes and transposes the engine uses.
// Forward Z[l] = in[l]·W[l]; backward dW[l] += in[l]ᵀ·G[l] and, below the first layer,
// G[l−1] = G[l]·W[l]ᵀ (the input X needs no gradient). Computes no objective (an empty LastTwo).
template <class T>
bench::LastTwo gemm_floor(const Problem& p, double& seconds) {
  using M = autograd::BasicMatrix<T>;
  const std::size_t L = p.W0.size(), N = p.X.shape(0);
  const M& X = bench::features<T>(p);
  std::vector<M> W = bench::initial_weights<T>(p), dW, Z, G;
  for (const M& w : W) {
    dW.push_back(xt::zeros<T>(w.shape()));
    Z.push_back(xt::zeros<T>({N, w.shape(1)}));
    G.push_back(xt::zeros<T>({N, w.shape(1)}));
  }
  G.back().fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t l = 0; l < L; ++l) gemm(false, false, l == 0 ? X : Z[l - 1], W[l], T(0), Z[l]);
    for (std::size_t l = L; l-- > 0;) {
      gemm(true, false, l == 0 ? X : Z[l - 1], G[l], T(1), dW[l]);
      if (l > 0) gemm(false, true, G[l], W[l], T(0), G[l - 1]);
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {};
}

// R's floor: its matrix products alone, with the engine's shapes, transposes and betas. Per time
// step k forward Z = s_{k−1}·W (k > 0) and L = s_k·V; backward dV += s_kᵀ·G_L, G_s = G_L·Vᵀ, and for
// k > 0 dW += s_{k−1}ᵀ·G_h, G_{s_{k−1}} = G_h·Wᵀ. Computes no objective (an empty LastTwo).
template <class E>
bench::LastTwo rnn_gemm_floor(const Problem& p, double& seconds) {
  using M = autograd::BasicMatrix<E>;
  const std::size_t T = p.bptt, N = p.symbols.at(0).size(), H = p.W0.at(1).shape(0);
  const std::size_t C = p.W0.at(2).shape(1);
  const M& W = bench::initial_weights<E>(p)[1];
  const M& V = bench::initial_weights<E>(p)[2];
  M dW = xt::zeros<E>({H, H}), dV = xt::zeros<E>({H, C});
  std::vector<M> S(T, M(xt::zeros<E>({N, H}))), Z = S, GS = S, GH = S;
  std::vector<M> L(T, M(xt::zeros<E>({N, C}))), GL = L;
  for (std::size_t k = 0; k < T; ++k) S[k].fill(0.5), GL[k].fill(1e-3), GH[k].fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t k = 0; k < T; ++k) {
      if (k > 0) gemm(false, false, S[k - 1], W, E(0), Z[k]);
      gemm(false, false, S[k], V, E(0), L[k]);
    }
    for (std::size_t k = T; k-- > 0;) {
      gemm(true, false, S[k], GL[k], E(1), dV);
      gemm(false, true, GL[k], V, E(0), GS[k]);
      if (k > 0) {
        gemm(true, false, S[k - 1], GH[k], E(1), dW);
        gemm(false, true, GH[k], W, E(0), GS[k - 1]);
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
template <class E>
bench::LastTwo rnn_gemm_floor_batched(const Problem& p, double& seconds) {
  using M = autograd::BasicMatrix<E>;
  const std::size_t T = p.bptt, N = p.symbols.at(0).size(), H = p.W0.at(1).shape(0);
  const std::size_t C = p.W0.at(2).shape(1);
  const M& W = bench::initial_weights<E>(p)[1];
  const M& V = bench::initial_weights<E>(p)[2];
  M dW = xt::zeros<E>({H, H}), dV = xt::zeros<E>({H, C});
  std::vector<M> S(T, M(xt::zeros<E>({N, H}))), Z = S, GS = S;
  M S_all = xt::zeros<E>({T * N, H}), GH_all = S_all, GS_all = S_all;
  M L_all = xt::zeros<E>({T * N, C}), GL_all = L_all;
  S_all.fill(0.5), GL_all.fill(1e-3), GH_all.fill(1e-3);
  for (std::size_t k = 0; k < T; ++k) S[k].fill(0.5);
  M GH = xt::zeros<E>({N, H});
  GH.fill(1e-3);
  const auto start = Clock::now();
  for (int pass = 0; pass < p.passes; ++pass) {
    for (std::size_t k = 1; k < T; ++k) gemm(false, false, S[k - 1], W, E(0), Z[k]);
    gemm(false, false, S_all, V, E(0), L_all);
    gemm(true, false, S_all, GL_all, E(1), dV);
    gemm(false, true, GL_all, V, E(0), GS_all);
    for (std::size_t k = T; k-- > 1;) gemm(false, true, GH, W, E(0), GS[k - 1]);
    gemm(true, false, S_all, GH_all, E(1), dW);  // (T−1 steps of it in the model; T here)
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {};
}

// One implementation of one workload: its row name, its precision, how to train.
struct Impl {
  std::string name;
  std::string dtype;  // "float64" or "float32"
  Trainer train;
  bool floor = false;  // a GEMM floor: computes no objective
};

// The implementations of workload w in the given precisions, in table order.
std::vector<Impl> implementations(const std::string& w, const std::vector<std::string>& dtypes) {
  const bool f64 = std::count(dtypes.begin(), dtypes.end(), "float64") > 0;
  const bool f32 = std::count(dtypes.begin(), dtypes.end(), "float32") > 0;
  std::vector<Impl> out;
  if (w == "R") {  // no hand-written RNN
    if (f64) {
      out.push_back({"engine", "float64", engine_rnn_train<double>});
#ifdef AUTOGRAD_BENCH_TORCH
      out.push_back({"libtorch", "float64", bench::torch_rnn_train});
#endif
      out.push_back({"GEMM floor", "float64", rnn_gemm_floor<double>, true});
      out.push_back({"GEMM floor, batched", "float64", rnn_gemm_floor_batched<double>, true});
    }
    if (f32) {
      out.push_back({"engine float32", "float32", engine_rnn_train<float>});
#ifdef AUTOGRAD_BENCH_TORCH
      out.push_back({"libtorch float32", "float32", bench::torch_rnn_train_f32});
#endif
      out.push_back({"SGEMM floor", "float32", rnn_gemm_floor<float>, true});
      out.push_back({"SGEMM floor, batched", "float32", rnn_gemm_floor_batched<float>, true});
    }
    return out;
  }
  if (f64) {
    out.push_back({"engine", "float64", engine_train<double>});
    out.push_back({"hand-written", "float64", hand_train});
#ifdef AUTOGRAD_BENCH_TORCH
    out.push_back({"libtorch", "float64", bench::torch_train});
#endif
    if (w == "B") out.push_back({"GEMM floor", "float64", gemm_floor<double>, true});
  }
  if (f32) {
    out.push_back({"engine float32", "float32", engine_train<float>});
#ifdef AUTOGRAD_BENCH_TORCH
    out.push_back({"libtorch float32", "float32", bench::torch_train_f32});
#endif
    if (w == "B") out.push_back({"SGEMM floor", "float32", gemm_floor<float>, true});
  }
  return out;
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
  } else if (flag == "--dtype") {
    if (value == "both") {
      o.dtypes = {"float64", "float32"};
    } else if (value == "float64" || value == "float32") {
      o.dtypes = {value};
    } else {
      throw std::invalid_argument("float32, float64 or both, not '" + value + "'");
    }
  } else if (flag == "--peak-memory") {
    if (value != "yes" && value != "no") throw std::invalid_argument("yes or no, not '" + value + "'");
    o.peak_memory = value == "yes";
  } else if (flag == "--peak-memory-child") {
    o.peak_child = value;
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

// Peak memory. Each implementation runs B once in a process of its own: this program executed again
// with --peak-memory-child NAME, which builds B, trains with NAME (or, for "baseline", does nothing
// more) and exits. Its peak resident set is wait4()'s ru_maxrss. These children are started before
// this process allocates anything large, because a child's ru_maxrss starts from the resident set of
// the process it was forked from (Linux carries it over exec).
long peak_rss_kib(const Options& o, const std::string& impl) {
  std::vector<std::string> args = {"autograd_bench", "--peak-memory-child", impl,
                                   "--b-rows", std::to_string(o.b_rows),
                                   "--b-passes", std::to_string(o.b_passes), "--peak-memory", "no"};
  if (!o.kernels.empty()) args.insert(args.end(), {"--kernels", o.kernels});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "autograd_bench: the peak-memory run of %s failed\n", impl.c_str());
    return -1;
  }
  return usage.ru_maxrss;
}

// The child's side: B once with implementation impl at one thread; exit status 0 if it ran.
int peak_memory_child(const Options& o) {
  set_threads(1);
  const Problem p = bench::blas_problem(o.b_rows, o.b_passes);
  if (o.peak_child == "baseline") return 0;
  for (const Impl& impl : implementations("B", {"float64", "float32"})) {
    if (impl.name != o.peak_child) continue;
    double seconds = 0.0;
    impl.train(p, seconds);
    return 0;
  }
  std::fprintf(stderr, "autograd_bench: no implementation '%s' of B\n", o.peak_child.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: autograd_bench [--repeats N] [--blog-passes N] [--b-passes N] [--b-rows N]\n"
      "                      [--r-steps N] [--r-hidden N] [--r-batch N] [--r-bptt N]\n"
      "                      [--threads 1,2] [--workloads S,W,B,R] [--dtype float32|float64|both]\n"
      "                      [--peak-memory yes|no] [--kernels avx512|avx2+fma|scalar] [--data DIR]\n"
      "--dtype (default both): float64 rows (engine, hand-written, libtorch, GEMM floor) and/or\n"
      "float32 rows (engine float32, libtorch float32, SGEMM floor); the same data and initial\n"
      "weights, converted to float once. Implementations of one precision must agree on the\n"
      "objective (float64 to 1e-6, float32 to 1e-4 relative), or the exit status is 1.\n"
      "--peak-memory (default yes): peak resident memory of each implementation on B, each in a\n"
      "process of its own (one thread, one run).\n"
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
  if (!opt.peak_child.empty()) return peak_memory_child(opt);

  // Peak memory first, while this process is still small (see peak_rss_kib).
  struct PeakRow {
    std::string f64, f32;  // the implementation's name in each precision ("": none)
    long f64_kib = -1, f32_kib = -1;
  };
  std::vector<PeakRow> peaks;
  long baseline_kib = -1;
  const bool has_f64 = std::count(opt.dtypes.begin(), opt.dtypes.end(), "float64") > 0;
  const bool has_f32 = std::count(opt.dtypes.begin(), opt.dtypes.end(), "float32") > 0;
  bool peak_failed = false;
  if (opt.peak_memory) {
    baseline_kib = peak_rss_kib(opt, "baseline");
    peaks = {{"engine", "engine float32"}, {"hand-written", ""}, {"GEMM floor", "SGEMM floor"}};
#ifdef AUTOGRAD_BENCH_TORCH
    peaks.insert(peaks.begin() + 2, PeakRow{"libtorch", "libtorch float32"});
#endif
    for (PeakRow& row : peaks) {
      if (has_f64 && !row.f64.empty()) row.f64_kib = peak_rss_kib(opt, row.f64);
      if (has_f32 && !row.f32.empty()) row.f32_kib = peak_rss_kib(opt, row.f32);
      peak_failed = peak_failed || (has_f64 && !row.f64.empty() && row.f64_kib < 0) ||
                    (has_f32 && !row.f32.empty() && row.f32_kib < 0);
    }
    peak_failed = peak_failed || baseline_kib < 0;
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
              "BPTT %zu (R: no hand-written version); precision:",
              opt.repeats, opt.blog_passes, opt.b_rows, opt.b_passes, opt.r_steps, opt.r_hidden,
              opt.r_batch, opt.r_bptt);
  for (const std::string& d : opt.dtypes) std::printf(" %s", d.c_str());
  std::printf("\n\n");

  // seconds[{threads, workload, implementation}]
  std::map<std::tuple<int, std::string, std::string>, std::vector<double>> seconds;
  bool agree = true;
  // All implementations of one precision compute the same objective and gradients; they differ
  // only in summation order and in the last bits of tanh/exp, ~1e-15 relative per step in float64,
  // ~1e-7 in float32. Where descent converges that is not amplified. S passes an unstable stretch
  // (passes ~1000-2000) and ends in a period-2 oscillation whose phase those last bits decide, so
  // the pair of values is compared (LastTwo). A wrong gradient term (the penalty alone is ~1e-2 of
  // the objective) moves it far more than the limits.
  const std::map<std::string, double> rtol = {{"float64", 1e-6}, {"float32", 1e-4}};
  // Keyed by {workload, precision}: the first run of each, and the largest relative difference
  // of any run of that precision from it.
  std::map<std::pair<std::string, std::string>, bench::LastTwo> reference;
  std::map<std::pair<std::string, std::string>, double> spread;
  const auto relative = [](double a, double b) { return std::abs(a - b) / std::abs(b); };

  std::printf("| threads | workload | implementation | median s | min–max s | "
              "objective, last two passes |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (int threads : opt.threads) {
    set_threads(threads);
    for (const Problem& p : problems) {
      const std::vector<Impl> runs = implementations(p.name, opt.dtypes);
      std::map<std::string, bench::LastTwo> final_objective;
      for (int rep = 0; rep < opt.repeats; ++rep) {
        for (std::size_t k = 0; k < runs.size(); ++k) {
          // Rotated order: no implementation always runs first (or right after the same other).
          const Impl& impl = runs[(k + static_cast<std::size_t>(rep)) % runs.size()];
          double s = 0.0;
          const bench::LastTwo objective = impl.train(p, s);
          seconds[{threads, p.name, impl.name}].push_back(s);
          if (impl.floor) continue;
          final_objective[impl.name] = objective;
          const auto key = std::make_pair(p.name, impl.dtype);
          const bench::LastTwo& ref = reference.emplace(key, objective).first->second;
          const double d = std::max(relative(objective.low(), ref.low()),
                                    relative(objective.high(), ref.high()));
          spread[key] = std::max(spread[key], d);
          if (!(d <= rtol.at(impl.dtype))) {
            std::fprintf(stderr,
                         "autograd_bench: %s with %s at %d thread(s), repeat %d: objective of the last two "
                         "passes %.12g / %.12g differs from the first %s run's %.12g / %.12g by more "
                         "than %g relative\n",
                         p.name.c_str(), impl.name.c_str(), threads, rep + 1, objective.low(),
                         objective.high(), impl.dtype.c_str(), ref.low(), ref.high(),
                         rtol.at(impl.dtype));
            agree = false;
          }
        }
      }
      for (const Impl& impl : runs) {
        const Stats st = stats(seconds[{threads, p.name, impl.name}]);
        char objective[64] = "—";
        if (final_objective.count(impl.name)) {
          std::snprintf(objective, sizeof objective, "%.10g / %.10g", final_objective[impl.name].low(),
                        final_objective[impl.name].high());
        }
        std::printf("| %d | %s | %s | %.3f | %.3f–%.3f | %s |\n", threads, p.name.c_str(),
                    impl.name.c_str(), st.median, st.min, st.max, objective);
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
  if (has_f64) {
    std::printf("\nRatios of medians, float64 (below 1: the engine is faster)\n\n");
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
  }
  if (has_f32) {
    std::printf("\nRatios of medians, float32 (below 1: the engine float32 is faster)\n\n");
    std::printf("| threads | workload | engine float32 / engine float64 | engine float32 / libtorch float32 "
                "| engine float32 / SGEMM floor | libtorch float32 / libtorch float64 |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (int threads : opt.threads) {
      for (const Problem& p : problems) {
        const double e = median(threads, p.name, "engine float32");
        std::printf("| %d | %s | %s | %s | %s | %s |\n", threads, p.name.c_str(),
                    ratio(e, median(threads, p.name, "engine")).c_str(),
                    ratio(e, median(threads, p.name, "libtorch float32")).c_str(),
                    ratio(e, median(threads, p.name, "SGEMM floor")).c_str(),
                    ratio(median(threads, p.name, "libtorch float32"),
                          median(threads, p.name, "libtorch")).c_str());
      }
    }
  }
  if (std::count(opt.threads.begin(), opt.threads.end(), 1) && std::count(opt.threads.begin(), opt.threads.end(), 2)) {
    std::printf("\nEngine, 1 thread / 2 threads (above 1: 2 threads are faster)\n\n");
    for (const Problem& p : problems) {
      std::printf("- %s:", p.name.c_str());
      for (const char* e : {"engine", "engine float32"}) {
        if (!std::isnan(median(1, p.name, e))) {
          std::printf(" %s %s", e, ratio(median(1, p.name, e), median(2, p.name, e)).c_str());
        }
      }
      std::printf("\n");
    }
  }

  std::printf("\nLargest relative difference of any run's last-two objectives from the first run's of "
              "the same precision (limits: float64 %g, float32 %g):\n\n",
              rtol.at("float64"), rtol.at("float32"));
  for (const Problem& p : problems) {
    std::printf("- %s:", p.name.c_str());
    for (const std::string& d : opt.dtypes) {
      if (spread.count({p.name, d})) std::printf(" %s %.1e", d.c_str(), spread[{p.name, d}]);
    }
    if (reference.count({p.name, "float64"}) && reference.count({p.name, "float32"})) {
      const bench::LastTwo &a = reference[{p.name, "float32"}], &b = reference[{p.name, "float64"}];
      std::printf("; float32 from float64 (not checked) %.1e",
                  std::max(relative(a.low(), b.low()), relative(a.high(), b.high())));
    }
    std::printf("\n");
  }

  if (opt.peak_memory) {
    constexpr long missing = LONG_MIN;  // (a difference from the baseline can be negative)
    const auto mib = [](long kib) {
      char text[24] = "—";
      if (kib != missing) std::snprintf(text, sizeof text, "%.1f", double(kib) / 1024.0);
      return std::string(text);
    };
    const auto above = [&](long kib) { return kib < 0 || baseline_kib < 0 ? missing : kib - baseline_kib; };
    std::printf("\nPeak resident memory on B (%zu rows, %d passes), each implementation alone in a "
                "process of its own, one thread; baseline: the same process building B's data and "
                "training nothing: %s MiB\n\n",
                opt.b_rows, opt.b_passes, mib(baseline_kib < 0 ? missing : baseline_kib).c_str());
    std::printf("| implementation | float64 peak MiB | float32 peak MiB | float64 above baseline | "
                "float32 above baseline | float32 / float64 above baseline |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const PeakRow& row : peaks) {
      const long a64 = above(row.f64_kib), a32 = above(row.f32_kib);
      const auto peak = [&](long kib) { return mib(kib < 0 ? missing : kib); };
      std::printf("| %s%s%s | %s | %s | %s | %s | %s |\n", row.f64.c_str(),
                  row.f32.empty() ? "" : " / ", row.f32.c_str(), peak(row.f64_kib).c_str(),
                  peak(row.f32_kib).c_str(), mib(a64).c_str(), mib(a32).c_str(),
                  a64 != missing && a64 > 0 && a32 != missing ? ratio(double(a32), double(a64)).c_str()
                                                              : "—");
    }
  }

  if (!agree) {
    std::fprintf(stderr, "autograd_bench: the implementations do not reach the same objective\n");
    return 1;
  }
  if (peak_failed) return 1;
  return 0;
}
