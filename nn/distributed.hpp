#pragma once
/// @file
/// Data-parallel training: several processes each hold a part (a shard) of the rows, record their
/// own tape on it, and add their gradients together before every step, so that every process takes
/// the step one process would take on all the rows. The objective is a sum over rows, so the sum of
/// the processes' gradients is the one-process gradient up to the order of the additions.
///
/// Nothing here depends on MPI: the processes talk through a Communicator, which nn/mpi.hpp
/// implements over MPI (the optional autograd::mpi library). Every function taking a Communicator
/// is collective: every rank of the communicator must call it, in the same order.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/data.hpp"
#include "nn/layers.hpp"
#include "nn/train.hpp"

namespace nn {

/// A group of processes (ranks 0..size-1) that train one model together.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's number, 0..size()-1.
  virtual int rank() const = 0;
  /// How many processes there are.
  virtual int size() const = 0;
  /// Replaces values[0..n) on every rank by their sum over the ranks (the same result on every rank).
  virtual void allreduce_sum(double* values, std::size_t n) = 0;
  /// The float32 twin of allreduce_sum.
  virtual void allreduce_sum(float* values, std::size_t n) = 0;
  /// Copies root's values[0..n) to every rank.
  virtual void broadcast(double* values, std::size_t n, int root) = 0;
  /// The float32 twin of broadcast.
  virtual void broadcast(float* values, std::size_t n, int root) = 0;
  /// Every rank's vector (of any length), indexed by rank, on every rank.
  virtual std::vector<std::vector<std::int64_t>> allgather(const std::vector<std::int64_t>& mine) = 0;
};

/// One process on its own: rank 0 of 1; the collectives leave the values as they are.
class SingleProcess final : public Communicator {
 public:
  /// Always 0.
  int rank() const override { return 0; }
  /// Always 1.
  int size() const override { return 1; }
  /// Leaves the values as they are.
  void allreduce_sum(double*, std::size_t) override {}
  /// Leaves the values as they are.
  void allreduce_sum(float*, std::size_t) override {}
  /// Leaves the values as they are.
  void broadcast(double*, std::size_t, int) override {}
  /// Leaves the values as they are.
  void broadcast(float*, std::size_t, int) override {}
  /// {mine}.
  std::vector<std::vector<std::int64_t>> allgather(const std::vector<std::int64_t>& mine) override {
    return {mine};
  }
};

/// An error every rank raises alike, with the same message (ranks that disagree, a bad file seen
/// by some rank): a program prints it once (on rank 0) and every rank exits non-zero, without
/// aborting. Any other exception is one rank's own, which the others cannot know about: that rank
/// must abort them all (nn::run_with_mpi does both).
class DistributedError : public std::runtime_error {
 public:
  /// Constructed from the message, as std::runtime_error.
  using std::runtime_error::runtime_error;
};

namespace detail {

/// The setup steps whose all-gathers carry a tag, so that ranks that meet at different steps (a
/// program whose ranks went different ways) notice it instead of reading each other's messages.
enum class Step : std::int64_t {
  agree = 0x4e4e5401,  ///< nn::agree's error messages
  shard,               ///< the rows and columns each rank read (load_csv_shard, load_npy_shard)
  train_setup,         ///< nn::train's check that the ranks agree on model, data and options
};

/// comm.allgather(mine) with `step`'s tag in front, removed from the result. If any rank was at
/// another step (its tag differs, or its message has none), every rank sees it and throws the
/// same DistributedError: "the ranks are out of step: rank r is at …, rank 0 at …".
std::vector<std::vector<std::int64_t>> gather_step(Communicator& comm, Step step,
                                                   const std::vector<std::int64_t>& mine);

}  // namespace detail

/// Runs fn on every rank; if it throws on any, every rank throws DistributedError with the message
/// of the lowest failing rank, prefixed by "rank r: ". Makes a local failure (a file one rank
/// cannot read) a collective one instead of leaving the other ranks waiting.
void agree(Communicator& comm, const std::function<void()>& fn);

/// This rank's part of the rows: its Dataset and the global row number of each of its rows.
struct Shard {
  Dataset data;                   ///< this rank's rows (possibly none: [0 x features])
  std::vector<std::size_t> rows;  ///< the global row number of each row of data, increasing
  std::size_t total_rows = 0;     ///< rows over all ranks
};

/// The rows [first, last) of rank `rank` among `size` when total rows are split into contiguous
/// parts: the first total % size ranks get one row more than the others.
std::pair<std::size_t, std::size_t> shard_range(std::size_t total, int rank, int size);

/// This rank's contiguous part (shard_range) of a data set every rank holds in full, e.g. one
/// generated from the same seed. classes stays the full data set's.
Shard shard_of(const Dataset& data, const Communicator& comm);

/// Each rank reads only its part (shard_range) of a CSV file (load_csv_rows); classes is the
/// largest label over all ranks + 1. A file that fails on any rank throws DistributedError on all.
Shard load_csv_shard(const std::string& path, Communicator& comm);

/// Each rank reads only its part of X and y .npy files (load_npy_rows), as load_csv_shard does.
Shard load_npy_shard(const std::string& x_path, const std::string& y_path, Communicator& comm);

/// train_test_split over the global rows: the same seeded permutation of the total_rows rows on
/// every rank, so that the parts, taken together, are exactly the parts train_test_split gives
/// for all the rows in one process, in the same order (each rank keeps those of its own rows).
/// Throws std::invalid_argument as train_test_split does (the same on every rank).
std::pair<Shard, Shard> train_test_split(const Shard& data, double test_fraction,
                                         std::uint64_t seed);

/// After backward on every rank: replaces each parameter's grad by its sum over the ranks (divided
/// by the number of ranks if average, as Horovod and DistributedDataParallel do for per-rank mean
/// losses). One all-reduce of all the gradients together. Ranks must hold the same shapes.
template <class T>
void allreduce_gradients(const std::vector<BasicParameter<T>*>& parameters, Communicator& comm,
                         bool average = false);

/// Copies root's parameter values to every rank, so that all start from the same weights.
template <class T>
void broadcast_parameters(const std::vector<BasicParameter<T>*>& parameters, Communicator& comm,
                          int root = 0);

/// Trains on every rank's shard together: the same steps as nn::train on all the rows in one
/// process, the rows of each step (the whole data set, or a minibatch of the same seeded order)
/// split among the ranks that hold them. Before the first step the ranks check that they agree on
/// the model, the data's columns, classes and rows, and the options (DistributedError naming the
/// first rank that differs from rank 0), and take rank 0's weights. Each step makes one all-reduce
/// of the gradients. Reports (loss, accuracy) are over all the rows, the same on every rank; on_log
/// is called on rank 0 only. A rank may hold no rows.
template <class T>
std::vector<Progress> train(BasicMLP<T>& model, const Shard& data, const TrainOptions& options,
                            Communicator& comm,
                            const std::function<void(const Progress&)>& on_log = {});

/// The fraction of all ranks' rows the model classifies right (the same on every rank).
template <class T>
double accuracy(BasicMLP<T>& model, const Shard& data, Communicator& comm);

extern template void allreduce_gradients(const std::vector<BasicParameter<double>*>&, Communicator&, bool);
extern template void allreduce_gradients(const std::vector<BasicParameter<float>*>&, Communicator&, bool);
extern template void broadcast_parameters(const std::vector<BasicParameter<double>*>&, Communicator&, int);
extern template void broadcast_parameters(const std::vector<BasicParameter<float>*>&, Communicator&, int);
extern template double accuracy(BasicMLP<double>&, const Shard&, Communicator&);
extern template double accuracy(BasicMLP<float>&, const Shard&, Communicator&);
extern template std::vector<Progress> train(BasicMLP<double>&, const Shard&, const TrainOptions&,
                                            Communicator&, const std::function<void(const Progress&)>&);
extern template std::vector<Progress> train(BasicMLP<float>&, const Shard&, const TrainOptions&,
                                            Communicator&, const std::function<void(const Progress&)>&);

}  // namespace nn
