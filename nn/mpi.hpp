#pragma once
/// @file
/// nn::Communicator over MPI, and a main() wrapper that turns errors into one message and a
/// non-zero exit on every rank. Part of the optional autograd::mpi library (built when CMake finds
/// MPI); nothing else in the project depends on it.
#include <functional>

// MPI's C interface only: not the C++ bindings that Open MPI and MPICH would otherwise declare
// (removed from the MPI standard, and a library of their own to link).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include "nn/distributed.hpp"

namespace nn {

/// The processes of an MPI communicator (MPI_COMM_WORLD by default). MPI must be initialised
/// (MPI_Init or run_with_mpi) for as long as the object is used. Reductions of float64 and float32
/// use MPI_SUM, which gives every rank the same result.
class MpiCommunicator final : public Communicator {
 public:
  /// Wraps comm (not duplicated, not freed).
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  /// MPI_Comm_rank.
  int rank() const override { return rank_; }
  /// MPI_Comm_size.
  int size() const override { return size_; }
  /// MPI_Allreduce with MPI_SUM, in place.
  void allreduce_sum(double* values, std::size_t n) override;
  /// MPI_Allreduce with MPI_SUM, in place.
  void allreduce_sum(float* values, std::size_t n) override;
  /// MPI_Bcast.
  void broadcast(double* values, std::size_t n, int root) override;
  /// MPI_Bcast.
  void broadcast(float* values, std::size_t n, int root) override;
  /// MPI_Allgather of the lengths, then MPI_Allgatherv.
  std::vector<std::vector<std::int64_t>> allgather(const std::vector<std::int64_t>& mine) override;
  /// The wrapped MPI communicator.
  MPI_Comm handle() const { return comm_; }

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

/// True if this process was started by mpirun/mpiexec (Open MPI, MPICH or a PMI launcher), so that
/// a program can train alone when run on its own without initialising MPI at all.
bool launched_by_mpi();

/// MPI_Init, body(world), MPI_Finalize; returns body's exit code. If body throws
/// nn::DistributedError (raised on every rank alike), rank 0 prints "<program>: error: <what>" to
/// standard error and every rank returns 1. Any other exception is one rank's own: that rank prints
/// "<program>: error: rank r: <what>" and calls MPI_Abort(1), which ends every rank with a non-zero
/// exit instead of leaving them waiting.
int run_with_mpi(int& argc, char**& argv, const char* program,
                 const std::function<int(MpiCommunicator&)>& body);

}  // namespace nn
