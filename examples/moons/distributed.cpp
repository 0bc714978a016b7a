// The moons program under mpirun: one model trained by every rank on its part of the data (see
// the README's "Training on several processes (MPI)"). Rank 0 prints and writes; the lines printed
// are those a single process prints for the same flags.
#include "distributed.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/distributed.hpp"
#include "nn/mpi.hpp"
#include "nn/serialize.hpp"
#include "checks.hpp"
#include "options.hpp"
#include "output.hpp"
#include "text.hpp"
#include "plot.hpp"

namespace moons {

namespace {

// Strings as one message of int64 codes: each string's length, then its characters.
std::vector<std::int64_t> pack(const std::vector<std::string>& texts) {
  std::vector<std::int64_t> codes;
  for (const std::string& t : texts) {
    codes.push_back(static_cast<std::int64_t>(t.size()));
    for (char c : t) codes.push_back(static_cast<unsigned char>(c));
  }
  return codes;
}

std::vector<std::string> unpack(const std::vector<std::int64_t>& codes) {
  std::vector<std::string> texts;
  for (std::size_t at = 0; at < codes.size();) {
    const auto length = static_cast<std::size_t>(codes[at++]);
    std::string t;
    for (std::size_t i = 0; i < length && at < codes.size(); ++i) t += static_cast<char>(codes[at++]);
    texts.push_back(std::move(t));
  }
  return texts;
}

// "--seed '2'", or "--standardize" for a switch.
std::string flag_text(const std::string& flag, const std::string& value) {
  return value.empty() ? flag : flag + " '" + value + "'";
}

// The first flag that rank r was given otherwise than rank 0, as "rank 1 has …, rank 0 has …";
// "" if they were given the same. Flags of rank r first, so that a rank given --help alone is
// named for its --help.
std::string first_difference(const std::vector<std::string>& mine, const std::vector<std::string>& root,
                             int r) {
  auto value_of = [](const std::vector<std::string>& flags, const std::string& flag) {
    for (std::size_t i = 0; i + 1 < flags.size(); i += 2) {
      if (flags[i] == flag) return &flags[i + 1];
    }
    return static_cast<const std::string*>(nullptr);
  };
  const std::string rank = "rank " + std::to_string(r);
  for (std::size_t i = 0; i + 1 < mine.size(); i += 2) {
    const std::string* other = value_of(root, mine[i]);
    if (other != nullptr && *other == mine[i + 1]) continue;
    return rank + " has " + flag_text(mine[i], mine[i + 1]) + ", rank 0 has " +
           (other == nullptr ? "no " + mine[i] : flag_text(mine[i], *other));
  }
  for (std::size_t i = 0; i + 1 < root.size(); i += 2) {
    if (value_of(mine, root[i]) == nullptr) {
      return rank + " has no " + root[i] + ", rank 0 has " + flag_text(root[i], root[i + 1]);
    }
  }
  return {};
}

// Runs fn on every rank; if it throws on any, every rank throws the same DistributedError: the
// message alone when every rank failed with it (flags or data that are the same everywhere, said
// as one process says them), else, as nn::agree, the lowest failing rank's, naming that rank.
void agree_alike(nn::Communicator& comm, const std::function<void()>& fn) {
  std::string mine;
  try {
    fn();
  } catch (const nn::DistributedError&) {
    throw;  // raised on every rank alike
  } catch (const std::exception& e) {
    mine = e.what();
    if (mine.empty()) mine = "an error without a message";
  }
  std::vector<std::string> all;
  for (const auto& codes : comm.allgather(pack({mine}))) all.push_back(unpack(codes).at(0));
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    bool everywhere = true;
    for (const std::string& other : all) everywhere = everywhere && other == all[r];
    throw nn::DistributedError(everywhere ? all[r] : "rank " + std::to_string(r) + ": " + all[r]);
  }
}

// Every rank's flags, parsed and compared before anything else, in collectives that every rank
// reaches whatever its flags: ranks started with different flags would otherwise go different
// ways (one reading a file, one generating points; one printing --help and leaving) and wait for
// each other at different steps. Flags that do not parse on some rank, or differ, end every rank
// with the same DistributedError naming the rank and the flag.
Options agreed_options(const std::vector<std::string>& args, nn::Communicator& comm) {
  Options o;
  agree_alike(comm, [&] { o = parse(args); });
  std::vector<std::string> mine;  // flag and value pairs
  for (const auto& [flag, value] : o.given) {
    mine.push_back(flag);
    mine.push_back(value);
  }
  const auto all = comm.allgather(pack(mine));
  const std::vector<std::string> root = unpack(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    const std::string difference = first_difference(unpack(all[r]), root, static_cast<int>(r));
    if (!difference.empty()) {
      throw nn::DistributedError("the ranks were given different flags: " + difference +
                                 "; give every rank the same flags");
    }
  }
  return o;
}

// The labels present on any rank.
std::set<int> labels_present(const nn::Shard& data, nn::Communicator& comm) {
  const std::set<int> mine(data.data.y.begin(), data.data.y.end());
  std::set<int> all;
  for (const auto& codes : comm.allgather({mine.begin(), mine.end()})) {
    for (std::int64_t label : codes) all.insert(static_cast<int>(label));
  }
  return all;
}

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
  const DataFacts facts{data_name, data.total_rows, data.data.X.shape(1), data.data.classes, labels_present(data, comm)};
  std::vector<std::size_t> sizes;
  agree_alike(comm, [&] { sizes = check_run(o, autograd::dtype_name<T>(), facts); });
  nn::BasicMLP<T> model(sizes, nn::parse_activation(o.activation), o.seed);
  std::pair<nn::Shard, nn::Shard> parts;
  try {
    parts = nn::train_test_split(data, o.test_fraction, o.split_seed);
  } catch (const std::exception& e) {
    throw nn::DistributedError(data_name + ": " + e.what());
  }
  const auto& [train_set, test_set] = parts;
  std::optional<Output> out;  // rank 0's
  nn::agree(comm, [&] {
    if (!root) return;
    if (!o.save.empty()) {
      const std::string recovered = nn::recover_model_folder(o.save);
      if (!recovered.empty()) std::cerr << "moons: " << recovered << "\n";
      nn::check_save_target(o.save);
    }
    out.emplace(o.out);
    out->check("loss.png");
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
    // The trained model first, then the picture, as in one process.
    if (!o.save.empty()) {
      nn::save_model(model, o.save);
      std::cout << "saved the model to " << o.save << "\n";
    }
    if (!log.empty()) {
      std::vector<double> xs, ys;
      for (const auto& p : log) {
        xs.push_back(static_cast<double>(p.pass));
        ys.push_back(p.loss);
      }
      out->write(plot::line_plot(xs, ys, "Loss, " + name, "pass", "loss"), "loss.png");
    }
  });
  return 0;
}

}  // namespace

bool under_mpirun() { return nn::launched_by_mpi(); }

int run_under_mpirun(int argc, char** argv) {
  return nn::run_with_mpi(argc, argv, "moons", [&](nn::MpiCommunicator& comm) {
    const Options o = agreed_options(std::vector<std::string>(argv + 1, argv + argc), comm);
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
