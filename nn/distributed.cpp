#include "nn/distributed.hpp"

#include <algorithm>
#include <limits>


namespace nn {

namespace {

std::vector<std::int64_t> pack(const std::string& text) { return {text.begin(), text.end()}; }

std::string unpack(const std::vector<std::int64_t>& codes) {
  std::string text;
  text.reserve(codes.size());
  for (std::int64_t c : codes) text += static_cast<char>(c);
  return text;
}

const char* step_name(std::int64_t tag) {
  switch (static_cast<detail::Step>(tag)) {
    case detail::Step::agree: return "nn::agree";
    case detail::Step::shard: return "reading a shard (load_csv_shard, load_npy_shard)";
    case detail::Step::train_setup: return "nn::train's check of the setup";
  }
  return "another collective step";
}

// After each rank has read its part of `what`: the ranks must have seen the same number of rows and
// feature columns; classes becomes the largest over the ranks.
void finish_shard(Shard& s, Communicator& comm, const std::string& what) {
  const auto all = detail::gather_step(comm, detail::Step::shard,
                                       {static_cast<std::int64_t>(s.total_rows),
                                        static_cast<std::int64_t>(s.data.X.shape(1)),
                                        static_cast<std::int64_t>(s.data.classes)});
  int classes = 0;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r][0] != all[0][0] || all[r][1] != all[0][1]) {
      throw DistributedError(what + ": rank " + std::to_string(r) + " read " +
                             std::to_string(all[r][0]) + " rows of " + std::to_string(all[r][1]) +
                             " feature columns, rank 0 read " + std::to_string(all[0][0]) +
                             " rows of " + std::to_string(all[0][1]));
    }
    classes = std::max(classes, static_cast<int>(all[r][2]));
  }
  s.data.classes = classes;
  const auto [first, last] = shard_range(s.total_rows, comm.rank(), comm.size());
  s.rows.resize(last - first);
  for (std::size_t i = 0; i < s.rows.size(); ++i) s.rows[i] = first + i;
}

}  // namespace

namespace detail {

std::vector<std::vector<std::int64_t>> gather_step(Communicator& comm, Step step,
                                                   const std::vector<std::int64_t>& mine) {
  std::vector<std::int64_t> tagged{static_cast<std::int64_t>(step)};
  tagged.insert(tagged.end(), mine.begin(), mine.end());
  auto all = comm.allgather(tagged);
  auto tag = [&](std::size_t r) { return all[r].empty() ? std::int64_t{0} : all[r][0]; };
  // This rank's own message is among them: when all tags are rank 0's, all are at `step`.
  for (std::size_t r = 1; r < all.size(); ++r) {
    if (tag(r) == tag(0)) continue;
    // Every rank holds the same messages, so every rank throws this same error.
    throw DistributedError("the ranks are out of step: rank " + std::to_string(r) + " is at " +
                           step_name(tag(r)) + ", rank 0 at " + step_name(tag(0)) +
                           " (were they started with the same program and flags?)");
  }
  for (auto& message : all) message.erase(message.begin());
  return all;
}

}  // namespace detail

void agree(Communicator& comm, const std::function<void()>& fn) {
  std::string error;
  try {
    fn();
  } catch (const DistributedError&) {
    throw;  // raised on every rank alike: nothing to tell the others
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "an error without a message";
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
  const auto all = detail::gather_step(comm, detail::Step::agree, pack(error));
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (!all[r].empty()) throw DistributedError("rank " + std::to_string(r) + ": " + unpack(all[r]));
  }
}

std::pair<std::size_t, std::size_t> shard_range(std::size_t total, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw std::invalid_argument("shard_range: rank " + std::to_string(rank) + " of " +
                                std::to_string(size) + " processes");
  }
  const auto r = static_cast<std::size_t>(rank);
  const auto n = static_cast<std::size_t>(size);
  const std::size_t base = total / n;
  const std::size_t extra = total % n;
  const std::size_t first = r * base + std::min(r, extra);
  return {first, first + base + (r < extra ? 1 : 0)};
}

Shard shard_of(const Dataset& data, const Communicator& comm) {
  Shard s;
  s.total_rows = data.y.size();
  const auto [first, last] = shard_range(s.total_rows, comm.rank(), comm.size());
  for (std::size_t i = first; i < last; ++i) s.rows.push_back(i);
  std::vector<std::size_t> local(s.rows);
  s.data = take_rows(data, local);
  return s;
}

Shard load_csv_shard(const std::string& path, Communicator& comm) {
  Shard s;
  agree(comm, [&] {
    load_csv_rows(path, 0, 0, &s.total_rows);  // counts the rows
    const auto [first, last] = shard_range(s.total_rows, comm.rank(), comm.size());
    s.data = load_csv_rows(path, first, last, nullptr);
  });
  finish_shard(s, comm, path);
  return s;
}

Shard load_npy_shard(const std::string& x_path, const std::string& y_path, Communicator& comm) {
  Shard s;
  agree(comm, [&] {
    load_npy_rows(x_path, y_path, 0, 0, &s.total_rows);
    const auto [first, last] = shard_range(s.total_rows, comm.rank(), comm.size());
    s.data = load_npy_rows(x_path, y_path, first, last, nullptr);
  });
  finish_shard(s, comm, x_path);
  return s;
}

std::pair<Shard, Shard> train_test_split(const Shard& data, double test_fraction,
                                         std::uint64_t seed) {
  // The rows train_test_split would put in each part; each rank keeps those it holds.
  const SplitRows split = train_test_rows(data.total_rows, test_fraction, seed);
  // Part rows are numbered by their place in the part, as train_test_split orders them.
  auto part = [&](const std::vector<std::size_t>& order) {
    Shard s;
    s.total_rows = order.size();
    std::vector<std::size_t> local;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto it = std::lower_bound(data.rows.begin(), data.rows.end(), order[k]);
      if (it == data.rows.end() || *it != order[k]) continue;
      local.push_back(static_cast<std::size_t>(it - data.rows.begin()));
      s.rows.push_back(k);
    }
    s.data = take_rows(data.data, local);
    return s;
  };
  return {part(split.train), part(split.test)};
}

template <class T>
void allreduce_gradients(const std::vector<BasicParameter<T>*>& parameters, Communicator& comm,
                         bool average) {
  std::size_t n = 0;
  for (const auto* p : parameters) n += p->grad.size();
  std::vector<T> buffer(n);
  auto out = buffer.begin();
  for (const auto* p : parameters) out = std::copy(p->grad.begin(), p->grad.end(), out);
  comm.allreduce_sum(buffer.data(), n);
  const T scale = average ? T(1) / static_cast<T>(comm.size()) : T(1);
  std::size_t at = 0;
  for (auto* p : parameters) {
    for (T& g : p->grad) g = buffer[at++] * scale;
  }
}

template <class T>
void broadcast_parameters(const std::vector<BasicParameter<T>*>& parameters, Communicator& comm,
                          int root) {
  for (auto* p : parameters) comm.broadcast(p->value.data(), p->value.size(), root);
}

template <class T>
double accuracy(BasicMLP<T>& model, const Shard& data, Communicator& comm) {
  double counts[2] = {0.0, static_cast<double>(data.data.y.size())};
  if (!data.data.y.empty()) {
    const Labels predicted = model.predict(data.data.X);
    for (std::size_t i = 0; i < predicted.size(); ++i) counts[0] += predicted[i] == data.data.y[i];
  }
  comm.allreduce_sum(counts, 2);
  return counts[1] == 0.0 ? 0.0 : counts[0] / counts[1];
}

template void allreduce_gradients(const std::vector<BasicParameter<double>*>&, Communicator&, bool);
template void allreduce_gradients(const std::vector<BasicParameter<float>*>&, Communicator&, bool);
template void broadcast_parameters(const std::vector<BasicParameter<double>*>&, Communicator&, int);
template void broadcast_parameters(const std::vector<BasicParameter<float>*>&, Communicator&, int);
template double accuracy(BasicMLP<double>&, const Shard&, Communicator&);
template double accuracy(BasicMLP<float>&, const Shard&, Communicator&);

}  // namespace nn
