#include "nn/mpi.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace nn {

namespace {

// MPI counts are int: a larger message is sent in parts.
constexpr std::size_t max_count = INT_MAX / 2;

template <class T>
void allreduce_in_parts(T* values, std::size_t n, MPI_Datatype type, MPI_Comm comm) {
  for (std::size_t at = 0; at < n; at += max_count) {
    const int count = static_cast<int>(std::min(max_count, n - at));
    MPI_Allreduce(MPI_IN_PLACE, values + at, count, type, MPI_SUM, comm);
  }
}

template <class T>
void broadcast_in_parts(T* values, std::size_t n, MPI_Datatype type, int root, MPI_Comm comm) {
  for (std::size_t at = 0; at < n; at += max_count) {
    const int count = static_cast<int>(std::min(max_count, n - at));
    MPI_Bcast(values + at, count, type, root, comm);
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

void MpiCommunicator::allreduce_sum(double* values, std::size_t n) {
  allreduce_in_parts(values, n, MPI_DOUBLE, comm_);
}

void MpiCommunicator::allreduce_sum(float* values, std::size_t n) {
  allreduce_in_parts(values, n, MPI_FLOAT, comm_);
}

void MpiCommunicator::broadcast(double* values, std::size_t n, int root) {
  broadcast_in_parts(values, n, MPI_DOUBLE, root, comm_);
}

void MpiCommunicator::broadcast(float* values, std::size_t n, int root) {
  broadcast_in_parts(values, n, MPI_FLOAT, root, comm_);
}

std::vector<std::vector<std::int64_t>> MpiCommunicator::allgather(
    const std::vector<std::int64_t>& mine) {
  if (mine.size() > max_count) {
    throw std::length_error("MpiCommunicator::allgather: " + std::to_string(mine.size()) +
                            " values, more than one message holds");
  }
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_));
  MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm_);
  std::vector<int> offsets(lengths.size());
  long long total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += lengths[r];
  }
  if (total > static_cast<long long>(max_count)) {
    throw std::length_error("MpiCommunicator::allgather: " + std::to_string(total) +
                            " values in all, more than one message holds");
  }
  std::vector<std::int64_t> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(mine.data(), length, MPI_INT64_T, all.data(), lengths.data(), offsets.data(),
                 MPI_INT64_T, comm_);
  std::vector<std::vector<std::int64_t>> out(lengths.size());
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    out[r].assign(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
  }
  return out;
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

int run_with_mpi(int& argc, char**& argv, const char* program,
                 const std::function<int(MpiCommunicator&)>& body) {
  MPI_Init(&argc, &argv);
  int code = 1;
  {
    MpiCommunicator world(MPI_COMM_WORLD);
    try {
      code = body(world);
    } catch (const DistributedError& e) {
      if (world.rank() == 0) std::fprintf(stderr, "%s: error: %s\n", program, e.what());
      code = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: rank %d: %s\n", program, world.rank(), e.what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  MPI_Finalize();
  return code;
}

}  // namespace nn
