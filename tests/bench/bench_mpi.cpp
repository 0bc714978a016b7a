// Data-parallel training against one process, on workload B (tests/bench/workloads.hpp):
// nn::train on all 4096 rows in one process with 1 and with 2 OpenBLAS threads, and nn::train over
// N ranks of 1 thread each (mpiexec -n N, started by this program), interleaved, each repeat in one
// run. Also the all-reduce of one step's gradients on its own, timed among the ranks.
// Results and how to run it: RESULTS.md, "Several processes (MPI)".
//   autograd_bench_mpi [--repeats 5] [--b-passes 50] [--b-rows 4096] [--ranks 2]
//                      [--mpiexec "mpiexec --oversubscribe"]
// Exits non-zero if a run's final loss differs from the one-process run's by more than 1e-9
// relative (the runs differ only in the order of additions).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/distributed.hpp"
#include "nn/mpi.hpp"
#include "workloads.hpp"

extern "C" void openblas_set_num_threads(int n);

namespace {

struct Flags {
  int repeats = 5;
  int passes = 50;
  std::size_t rows = 4096;
  int ranks = 2;
  std::string mpiexec = AUTOGRAD_MPIEXEC;
  bool worker = false;
};

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--worker") {
      f.worker = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: autograd_bench_mpi [--repeats N] [--b-passes N] [--b-rows N] [--ranks N]\n"
          "                          [--mpiexec \"COMMAND\"]\n"
          "Workload B trained by one process at 1 and 2 threads and by N ranks of 1 thread each\n"
          "(started with COMMAND -n N), interleaved; defaults: --repeats 5 --b-passes 50\n"
          "--b-rows 4096 --ranks 2 --mpiexec \"%s\".\n",
          AUTOGRAD_MPIEXEC);
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + ": needs a value");
    const std::string value = argv[++i];
    auto number = [&](long low) {
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || value.empty() || v < low || v > 1000000) {
        throw std::invalid_argument(flag + " " + value + ": expected a whole number >= " +
                                    std::to_string(low));
      }
      return v;
    };
    if (flag == "--repeats") {
      f.repeats = static_cast<int>(number(1));
    } else if (flag == "--b-passes") {
      f.passes = static_cast<int>(number(2));
    } else if (flag == "--b-rows") {
      f.rows = static_cast<std::size_t>(number(2));
    } else if (flag == "--ranks") {
      f.ranks = static_cast<int>(number(1));
    } else if (flag == "--mpiexec") {
      f.mpiexec = value;
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  return f;
}

nn::MLP model_of(const bench::Problem& p) {
  std::vector<nn::Dense> layers;
  for (const auto& W : p.W0) layers.emplace_back(W, xt::zeros<double>({std::size_t{1}, W.shape(1)}));
  return nn::MLP(std::move(layers), nn::Activation::tanh);
}

nn::TrainOptions options_of(const bench::Problem& p) {
  nn::TrainOptions o;
  o.passes = static_cast<std::size_t>(p.passes);
  o.schedule.base = p.rate;
  o.loss.reg = bench::reg;
  o.log_every = o.passes - 1;  // the first and the last pass: the same small cost in every run
  return o;
}

nn::Dataset dataset_of(const bench::Problem& p) {
  nn::Dataset d;
  d.X = p.X;
  d.y = p.y;
  d.classes = 10;
  return d;
}

struct Run {
  double seconds = 0.0;
  double loss = 0.0;
  double allreduce_ms = 0.0;  // ranks only: one step's all-reduce on its own
};

Run one_process(const bench::Problem& p, int threads) {
  openblas_set_num_threads(threads);
  nn::MLP model = model_of(p);
  const auto start = std::chrono::steady_clock::now();
  const auto log = nn::train(model, dataset_of(p), options_of(p));
  Run r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.loss = log.back().loss;
  return r;
}

// Under mpiexec: train over the ranks, then time the gradient all-reduce alone; rank 0 prints
// "seconds <s> loss <l> allreduce_ms <ms>".
int worker(nn::MpiCommunicator& comm, const Flags& f) {
  openblas_set_num_threads(1);
  const bench::Problem p = bench::blas_problem(f.rows, f.passes);
  const nn::Shard shard = nn::shard_of(dataset_of(p), comm);
  nn::MLP model = model_of(p);
  MPI_Barrier(comm.handle());
  const auto start = std::chrono::steady_clock::now();
  const auto log = nn::train(model, shard, options_of(p), comm);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The step's message: every gradient and the loss, as nn::train sends it.
  std::size_t n = 1;
  for (const auto* q : model.parameters()) n += q->grad.size();
  std::vector<double> buffer(n, 1.0);
  const int reps = 200;
  MPI_Barrier(comm.handle());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) comm.allreduce_sum(buffer.data(), n);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  comm.allreduce_sum(&ms, 1);  // the mean over the ranks
  ms /= comm.size();
  if (comm.rank() == 0) std::printf("seconds %.6f loss %.17g allreduce_ms %.6f\n", seconds, log.back().loss, ms);
  return 0;
}

Run ranks(const Flags& f, const std::string& self) {
  const std::string command = f.mpiexec + " -n " + std::to_string(f.ranks) + " '" + self +
                              "' --worker --b-passes " + std::to_string(f.passes) + " --b-rows " +
                              std::to_string(f.rows);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot start: " + command);
  Run r;
  char line[512];
  bool found = false;
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    if (std::sscanf(line, "seconds %lf loss %lf allreduce_ms %lf", &r.seconds, &r.loss, &r.allreduce_ms) == 3) found = true;
  }
  const int status = ::pclose(pipe);
  if (status != 0 || !found) throw std::runtime_error("failed (status " + std::to_string(status) + "): " + command);
  return r;
}

struct Stats {
  double median, min, max;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v.front(), v.back()};
}

int driver(const Flags& f, const std::string& self) {
  if (::geteuid() == 0) {  // Open MPI refuses to start as root unless told
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  const bench::Problem p = bench::blas_problem(f.rows, f.passes);
  std::size_t parameters = 0;
  for (const auto& W : p.W0) parameters += W.size() + W.shape(1);
  std::printf("B: %zu rows, %d passes, %zu parameters (%.2f MB in float64); %d repeats, interleaved\n",
              f.rows, f.passes, parameters, parameters * 8 / 1e6, f.repeats);
  const std::vector<std::string> names = {"1 process x 1 thread", "1 process x 2 threads",
                                          std::to_string(f.ranks) + " ranks x 1 thread"};
  std::vector<std::vector<double>> seconds(3);
  std::vector<double> allreduce_ms;
  double reference = NAN;
  int bad = 0;
  for (int rep = 0; rep < f.repeats; ++rep) {
    for (int k = 0; k < 3; ++k) {
      const int which = (k + rep) % 3;  // the order rotates each repeat
      const Run r = which == 0 ? one_process(p, 1) : which == 1 ? one_process(p, 2) : ranks(f, self);
      seconds[which].push_back(r.seconds);
      if (which == 2) allreduce_ms.push_back(r.allreduce_ms);
      if (std::isnan(reference)) reference = r.loss;
      if (std::abs(r.loss - reference) > 1e-9 * std::abs(reference)) {
        std::fprintf(stderr, "%s: final loss %.17g, another run %.17g\n", names[which].c_str(), r.loss, reference);
        ++bad;
      }
    }
  }
  const double base = stats(seconds[0]).median;
  std::printf("\n| run | median s | min–max s | s per pass | speed-up over 1 x 1 |\n|---|---|---|---|---|\n");
  for (int k = 0; k < 3; ++k) {
    const Stats s = stats(seconds[k]);
    std::printf("| %s | %.3f | %.3f–%.3f | %.4f | %.2f |\n", names[k].c_str(), s.median, s.min, s.max,
                s.median / f.passes, base / s.median);
  }
  const Stats a = stats(allreduce_ms);
  std::printf("\nall-reduce of one step's gradients (%zu float64 + the loss) among %d ranks: median %.3f ms "
              "(%.3f–%.3f)\nfinal loss %.10g in every run\n",
              parameters, f.ranks, a.median, a.min, a.max, reference);
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Flags f = parse(argc, argv);
    if (f.worker) {
      return nn::run_with_mpi(argc, argv, "autograd_bench_mpi",
                              [&](nn::MpiCommunicator& comm) { return worker(comm, f); });
    }
    return driver(f, std::filesystem::read_symlink("/proc/self/exe").string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autograd_bench_mpi: error: %s\n", e.what());
    return 1;
  }
}
