// The moons program under mpirun: one model trained by every rank on its part of the data (see
// the README's "Training on several processes (MPI)"). Rank 0 prints and writes; the lines printed
// are those a single process prints for the same flags.
#include "distributed.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/distributed.hpp"
#include "nn/mpi.hpp"
#include "nn/serialize.hpp"
#include "options.hpp"
#include "text.hpp"
#include "plot.hpp"

namespace moons {

namespace {

template <class T>
int train_together(const Options& o, nn::MpiCommunicator& comm) {
  const bool root = comm.rank() == 0;
  if (!o.load.empty()) {
    throw nn::DistributedError("--load: under mpirun the moons program only trains; evaluate a "
                               "saved model in one process");
  }
  if (o.standardize) {
    throw nn::DistributedError("--standardize: not available under mpirun (the scaling would need "
                               "every rank's rows); standardize the file first, or train in one "
                               "process");
  }
  if (!o.write_split.empty()) {
    throw nn::DistributedError("--write-split: not available under mpirun; write the split from one "
                               "process (the same --test-fraction and --split-seed give the same rows)");
  }
  const std::string data_name = o.data.empty() ? "the generated data" : "'" + o.data + "'";
  nn::Shard data;
  if (!o.labels.empty()) {
    data = nn::load_npy_shard(o.data, o.labels, comm);
  } else if (!o.data.empty()) {
    data = nn::load_csv_shard(o.data, comm);
  } else {  // every rank generates the same points and keeps its part
    nn::agree(comm, [&] {
      data = nn::shard_of(o.classes == 3 ? nn::make_spiral(o.samples / 3, 3, 0.2, o.seed)
                                         : nn::make_moons(o.samples, o.noise, o.seed),
                          comm);
    });
  }
  if (data.data.classes < 2) {
    throw nn::DistributedError(data_name + ": every row has label 0; a classifier needs at "
                               "least 2 classes");
  }
  std::vector<std::size_t> sizes{data.data.X.shape(1)};
  sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
  sizes.push_back(static_cast<std::size_t>(data.data.classes));
  nn::BasicMLP<T> model = [&] {
    try {
      if (nn::parameter_count(sizes) > nn::max_parameters) {
        throw std::runtime_error("--hidden " + join(o.hidden, ",") + ": a " + join(sizes, "-") +
                                 " network for " + data_name + " has more than the " +
                                 std::to_string(nn::max_parameters) + " parameters allowed");
      }
      return nn::BasicMLP<T>(sizes, nn::parse_activation(o.activation), o.seed);
    } catch (const std::exception& e) {  // the same on every rank
      throw nn::DistributedError(e.what());
    }
  }();
  std::pair<nn::Shard, nn::Shard> parts;
  try {
    parts = nn::train_test_split(data, o.test_fraction, o.split_seed);
  } catch (const std::exception& e) {
    throw nn::DistributedError(data_name + ": " + e.what());
  }
  const auto& [train_set, test_set] = parts;
  nn::agree(comm, [&] {
    if (!root) return;
    if (!o.save.empty()) nn::check_save_target(o.save);
    std::filesystem::create_directories(o.out);
  });

  const std::string name = join(model.sizes(), "-") + " " + nn::to_string(model.activation());
  nn::TrainOptions t = training_options(o);
  t.log_every = o.log_every == 0 ? 0 : std::min<std::size_t>(100, o.log_every);
  t.log_last = true;  // the final loss is always printed, as in one process
  const auto rows = comm.allgather({static_cast<std::int64_t>(train_set.data.y.size())});
  if (root) {
    std::cout << "Training " << name << " on " << train_set.total_rows << " points ("
              << o.optimizer << ", batch "
              << (o.batch_size == 0 ? std::string("all") : std::to_string(o.batch_size))
              << ", rate " << o.rate << " " << o.schedule
              << (o.loss_reduction == "mean" ? ", mean loss" : "")
              << (std::is_same_v<T, float> ? ", float32" : "") << ")\n";
    std::cout << "  on " << comm.size() << " processes, holding";
    for (const auto& r : rows) std::cout << " " << r[0];
    std::cout << " of them\n";
    std::cout.flush();
  }
  std::vector<nn::Progress> log;
  try {
    log = nn::train(model, train_set, t, comm, [&](const nn::Progress& p) {
      if (o.log_every == 0 || (p.pass % o.log_every != 0 && p.pass + 1 != o.passes)) return;
      std::printf("Loss after iteration %zu: %f   accuracy %s   rate %.4g   %.2f s\n", p.pass,
                  p.loss, percent(p.accuracy).c_str(), p.rate, p.seconds);
      std::fflush(stdout);
    });
  } catch (const nn::DistributedError& e) {
    char flags[160];
    std::snprintf(flags, sizeof flags, "--rate %g --reg %g", o.rate, o.reg);
    throw nn::DistributedError(std::string(flags) + ": " + e.what());
  }
  const double train_acc = nn::accuracy(model, train_set, comm);
  const double test_acc = nn::accuracy(model, test_set, comm);
  nn::agree(comm, [&] {
    if (!root) return;
    std::cout << "training accuracy " << percent(train_acc) << ", held-out accuracy "
              << percent(test_acc) << "\n";
    if (!log.empty()) {
      std::vector<double> xs, ys;
      for (const auto& p : log) {
        xs.push_back(static_cast<double>(p.pass));
        ys.push_back(p.loss);
      }
      const std::string path = (std::filesystem::path(o.out) / "loss.png").string();
      plot::write_png(plot::line_plot(xs, ys, "Loss, " + name, "pass", "loss"), path);
      std::cout << "  wrote " << path << "\n";
    }
    if (!o.save.empty()) {
      nn::save_model(model, o.save);
      std::cout << "saved the model to " << o.save << "\n";
    }
  });
  return 0;
}

}  // namespace

bool under_mpirun() { return nn::launched_by_mpi(); }

int run_under_mpirun(int argc, char** argv) {
  return nn::run_with_mpi(argc, argv, "moons", [&](nn::MpiCommunicator& comm) {
    Options o;
    try {
      o = parse(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {  // the same on every rank
      throw nn::DistributedError(e.what());
    }
    if (o.help) {
      if (comm.rank() == 0) std::cout << usage();
      return 0;
    }
    if (o.walkthrough) {
      throw nn::DistributedError(
          "under mpirun the moons program trains one model: give model flags (--data FILE, "
          "--hidden, --passes, ...); the walkthrough runs in one process");
    }
    if (o.dtype == "float32") return train_together<float>(o, comm);
    return train_together<double>(o, comm);
  });
}

}  // namespace moons
