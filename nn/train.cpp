#include "nn/train.hpp"

#include <algorithm>
#include <sstream>

#include "nn/distributed.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

#include "nn/random.hpp"

namespace nn {

namespace {

// Diverged training: stop at once, before the weights and the reports fill with NaN.
// Under several processes the loss checked is the sum over all of them, so every rank throws
// alike: a DistributedError (a std::runtime_error).
void check_finite(double loss, std::size_t pass, double rate, bool every_rank = false) {
  if (std::isfinite(loss)) return;
  char text[160];
  std::snprintf(text, sizeof text,
                "train: the loss is not finite (%g) at pass %zu with rate %g: training diverged; "
                "try a smaller rate",
                loss, pass, rate);
  if (every_rank) throw DistributedError(text);
  throw std::runtime_error(text);
}

// A rate, or a schedule's decay, is a finite number ≥ 0 (a rate of 0 leaves the weights as they
// are): a negative rate climbs the loss, and NaN or inf fill the weights with NaN.
bool finite_non_negative(double x) { return std::isfinite(x) && x >= 0.0; }

// Before the first step: the schedule's base and, where it is used, its decay give valid rates.
void check_schedule(const Schedule& s) {
  char text[200];
  if (!finite_non_negative(s.base)) {
    std::snprintf(text, sizeof text, "train: the learning rate must be a finite number >= 0, got rate %g",
                  s.base);
    throw std::invalid_argument(text);
  }
  if (s.kind != Schedule::Kind::constant && !finite_non_negative(s.decay)) {
    std::snprintf(text, sizeof text,
                  "train: the %s schedule's decay must be a finite number >= 0, got decay %g",
                  to_string(s.kind).c_str(), s.decay);
    throw std::invalid_argument(text);
  }
}

// At each step: a valid schedule can still overflow (an exponential one with a large decay).
void check_rate(double rate, std::size_t step) {
  if (finite_non_negative(rate)) return;
  char text[160];
  std::snprintf(text, sizeof text,
                "train: the schedule gives rate %g at step %zu; a rate must be a finite number >= 0",
                rate, step);
  throw std::invalid_argument(text);
}

}  // namespace

namespace {

// The loss reported for X (already in the model's precision).
template <class T>
double reported_loss_of(BasicMLP<T>& model, const BasicMatrix<T>& X, const Labels& y, double reg) {
  BasicTape<T> tape;
  typename BasicTape<T>::NoGrad no_grad(tape);
  const LossOptions sum_loss{reg, autograd::Reduction::sum};
  const BasicVar<T> loss =
      classification_loss(model(tape, tape.constant(X)), y, model.weights(), sum_loss);
  return static_cast<double>(loss.value()(0, 0)) / static_cast<double>(y.size());
}

// X in precision T: the data themselves for float64, a rounded copy (made here, once) for float32.
template <class T>
struct DataIn {
  explicit DataIn(const Matrix& X) {
    if constexpr (std::is_same_v<T, double>) {
      matrix = &X;
    } else {
      copy = xt::cast<T>(X);
      matrix = &copy;
    }
  }
  DataIn(const DataIn&) = delete;
  DataIn& operator=(const DataIn&) = delete;
  BasicMatrix<T> copy;
  const BasicMatrix<T>* matrix = nullptr;
};

}  // namespace

template <class T>
double reported_loss(BasicMLP<T>& model, const Dataset& data, double reg) {
  const DataIn<T> X(data.X);
  return reported_loss_of(model, *X.matrix, data.y, reg);
}

template <class T>
std::vector<Progress> train(BasicMLP<T>& model, const Dataset& data, const TrainOptions& options,
                            const std::function<void(const Progress&)>& on_log) {
  using M = BasicMatrix<T>;
  check_dataset(data, "train");
  check_schedule(options.schedule);
  const std::size_t n = data.y.size();
  const std::size_t batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const auto start = std::chrono::steady_clock::now();
  auto optimizer = make_optimizer(options.optimizer, model.parameters());
  const std::vector<BasicParameter<T>*> weights = model.weights();  // once: a step allocates nothing
  const DataIn<T> data_X(data.X);  // float32: rounded once, not per step
  const M& X_all = *data_X.matrix;
  Rng rng(options.seed);
  BasicTape<T> tape;
  M Xb = M::from_shape({batch, X_all.shape(1)});
  Labels yb(batch);
  std::vector<Progress> reports;
  std::size_t step = 0;
  double rate = options.schedule.rate(0);

  for (std::size_t pass = 0; pass < options.passes; ++pass) {
    std::vector<std::size_t> order;
    if (batch < n) order = rng.permutation(n);
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      const M* X = &X_all;
      const Labels* y = &data.y;
      if (batch < n) {  // gather this minibatch's rows
        Xb.resize({rows, X_all.shape(1)});
        yb.resize(rows);
        for (std::size_t r = 0; r < rows; ++r) {
          const std::size_t src = order[first + r];
          for (std::size_t c = 0; c < X_all.shape(1); ++c) Xb(r, c) = X_all(src, c);
          yb[r] = data.y[src];
        }
        X = &Xb;
        y = &yb;
      }
      tape.clear();
      model.zero_grad();
      const BasicVar<T> loss =
          classification_loss(model(tape, tape.constant(*X)), *y, weights, options.loss);
      check_finite(static_cast<double>(loss.value()(0, 0)), pass, rate);
      tape.backward(loss);
      rate = options.schedule.rate(step);
      check_rate(rate, step++);
      optimizer->step(rate);
    }
    const bool last = options.log_last && pass + 1 == options.passes;
    if (options.log_every != 0 && (pass % options.log_every == 0 || last)) {
      Progress p;
      p.pass = pass;
      p.loss = reported_loss_of(model, X_all, data.y, options.loss.reg);
      check_finite(p.loss, pass, rate);
      p.accuracy = accuracy(model.predict(data.X), data.y);
      p.rate = rate;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      reports.push_back(p);
      if (on_log) on_log(p);
    }
  }
  return reports;
}

namespace {

std::string sizes_text(const std::vector<std::size_t>& sizes) {
  std::string s;
  for (std::size_t x : sizes) s += (s.empty() ? "" : "-") + std::to_string(x);
  return s;
}

// Everything the ranks must agree on before training together, one "what: value" per line: a
// rank that differed would record a different number of gradients or steps and leave the others
// waiting in an all-reduce.
template <class T>
std::vector<std::string> training_setup(BasicMLP<T>& model, const Shard& data,
                                        const TrainOptions& o) {
  std::ostringstream schedule;
  schedule.precision(17);
  schedule << to_string(o.schedule.kind) << " base " << o.schedule.base << " decay "
           << o.schedule.decay << " every " << o.schedule.every;
  std::ostringstream reg;
  reg.precision(17);
  reg << o.loss.reg << (o.loss.reduction == autograd::Reduction::sum ? " (sum)" : " (mean)");
  return {"precision: " + std::string(autograd::dtype_name<T>()),
          "model: " + sizes_text(model.sizes()) + " " + to_string(model.activation()),
          "data rows: " + std::to_string(data.total_rows),
          "feature columns: " + std::to_string(data.data.X.shape(1)),
          "classes: " + std::to_string(data.data.classes),
          "passes: " + std::to_string(o.passes),
          "batch size: " + std::to_string(o.batch_size),
          "optimizer: " + o.optimizer,
          "schedule: " + schedule.str(),
          "reg: " + reg.str(),
          "seed: " + std::to_string(o.seed),
          "log every: " + std::to_string(o.log_every) + (o.log_last ? " and the last pass" : "")};
}

template <class T>
void check_agreement(BasicMLP<T>& model, const Shard& data, const TrainOptions& o,
                     Communicator& comm) {
  const std::vector<std::string> mine = training_setup(model, data, o);
  std::string text;
  for (const auto& line : mine) text += line + "\n";
  const auto all = detail::gather_step(comm, detail::Step::train_setup, {text.begin(), text.end()});
  auto split = [](const std::vector<std::int64_t>& codes) {
    std::vector<std::string> lines(1);
    for (std::int64_t c : codes) {
      if (c == '\n') {
        lines.emplace_back();
      } else {
        lines.back() += static_cast<char>(c);
      }
    }
    lines.pop_back();
    return lines;
  };
  const std::vector<std::string> lines0 = split(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    const std::vector<std::string> lines = split(all[r]);
    for (std::size_t i = 0; i < std::min(lines.size(), lines0.size()); ++i) {
      if (lines[i] == lines0[i]) continue;
      const std::string what = lines0[i].substr(0, lines0[i].find(':'));
      throw DistributedError("train: rank " + std::to_string(r) + " disagrees with rank 0 on the " +
                             what + ": rank " + std::to_string(r) + " has" +
                             lines[i].substr(lines[i].find(':') + 1) + ", rank 0 has" +
                             lines0[i].substr(lines0[i].find(':') + 1));
    }
  }
  // The ranks agree; what follows is then the same on all of them.
  if (data.total_rows == 0) throw DistributedError("train: no data rows on any rank");
  const std::vector<std::size_t> sizes = model.sizes();
  if (sizes.front() != data.data.X.shape(1) ||
      sizes.back() < static_cast<std::size_t>(data.data.classes)) {
    throw DistributedError("train: the model " + sizes_text(sizes) + " takes " +
                           std::to_string(sizes.front()) + " features and gives " +
                           std::to_string(sizes.back()) + " classes, but the data have " +
                           std::to_string(data.data.X.shape(1)) + " features and " +
                           std::to_string(data.data.classes) + " classes");
  }
}

}  // namespace

template <class T>
std::vector<Progress> train(BasicMLP<T>& model, const Shard& shard, const TrainOptions& options,
                            Communicator& comm, const std::function<void(const Progress&)>& on_log) {
  using M = BasicMatrix<T>;
  const Dataset& data = shard.data;
  check_agreement(model, shard, options, comm);
  check_schedule(options.schedule);  // the ranks agree on it: all refuse alike
  agree(comm, [&] {
    if (shard.rows.size() != data.y.size()) {
      throw std::invalid_argument("train: the shard has " + std::to_string(data.y.size()) +
                                  " rows but " + std::to_string(shard.rows.size()) +
                                  " global row numbers");
    }
    for (std::size_t i = 0; i < shard.rows.size(); ++i) {
      if (shard.rows[i] >= shard.total_rows || (i > 0 && shard.rows[i] <= shard.rows[i - 1])) {
        throw std::invalid_argument("train: the shard's global row numbers must increase and stay "
                                    "below its " + std::to_string(shard.total_rows) +
                                    " rows; entry " + std::to_string(i) + " is " +
                                    std::to_string(shard.rows[i]));
      }
    }
    if (!data.y.empty()) check_dataset(data, "train");
  });
  const std::size_t n = shard.total_rows;
  const std::size_t local_n = data.y.size();
  double held = static_cast<double>(local_n);
  comm.allreduce_sum(&held, 1);
  if (held != static_cast<double>(n)) {
    throw DistributedError("train: the ranks hold " + std::to_string(static_cast<std::size_t>(held)) +
                           " rows in all, but their shards say there are " + std::to_string(n));
  }
  const std::size_t cols = data.X.shape(1);
  const std::size_t batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const std::vector<BasicParameter<T>*> parameters = model.parameters();
  broadcast_parameters(parameters, comm, 0);  // every rank starts from rank 0's weights
  const auto start = std::chrono::steady_clock::now();
  auto optimizer = make_optimizer(options.optimizer, parameters);
  const std::vector<BasicParameter<T>*> weights = model.weights();
  const DataIn<T> data_X(data.X);
  const M& X_all = *data_X.matrix;
  Rng rng(options.seed);
  BasicTape<T> tape;
  M Xb = M::from_shape({std::min(batch, local_n), cols});
  Labels yb;
  yb.reserve(std::min(batch, local_n));
  std::size_t grad_count = 0;
  for (const auto* p : parameters) grad_count += p->grad.size();
  std::vector<T> buffer(grad_count + 1);  // every gradient, then the rank's loss: one all-reduce
  const LossOptions data_loss{0.0, autograd::Reduction::sum};  // the penalty is added once, below
  const bool mean = options.loss.reduction == autograd::Reduction::mean;
  const T reg = static_cast<T>(options.loss.reg);
  std::vector<Progress> reports;
  std::size_t step = 0;
  double rate = options.schedule.rate(0);

  for (std::size_t pass = 0; pass < options.passes; ++pass) {
    std::vector<std::size_t> order;
    if (batch < n) order = rng.permutation(n);
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);  // over all ranks
      const M* X = &X_all;
      const Labels* y = &data.y;
      if (batch < n) {  // this rank's rows of the step's minibatch, in the minibatch's order
        yb.clear();
        std::size_t count = 0;
        for (std::size_t k = first; k < first + rows; ++k) {
          const auto it = std::lower_bound(shard.rows.begin(), shard.rows.end(), order[k]);
          if (it != shard.rows.end() && *it == order[k]) ++count;
        }
        Xb.resize({count, cols});
        for (std::size_t k = first; k < first + rows; ++k) {
          const auto it = std::lower_bound(shard.rows.begin(), shard.rows.end(), order[k]);
          if (it == shard.rows.end() || *it != order[k]) continue;
          const auto src = static_cast<std::size_t>(it - shard.rows.begin());
          for (std::size_t c = 0; c < cols; ++c) Xb(yb.size(), c) = X_all(src, c);
          yb.push_back(data.y[src]);
        }
        X = &Xb;
        y = &yb;
      }
      tape.clear();
      model.zero_grad();
      T local_loss = 0;
      if (!y->empty()) {
        const BasicVar<T> loss =
            classification_loss(model(tape, tape.constant(*X)), *y, weights, data_loss);
        local_loss = loss.value()(0, 0);
        tape.backward(loss);
      }
      auto out = buffer.begin();
      for (const auto* p : parameters) out = std::copy(p->grad.begin(), p->grad.end(), out);
      buffer.back() = local_loss;
      comm.allreduce_sum(buffer.data(), buffer.size());
      check_finite(static_cast<double>(buffer.back()), pass, rate, true);
      const T scale = mean ? T(1) / static_cast<T>(rows) : T(1);
      std::size_t at = 0;
      for (auto* p : parameters) {
        for (T& g : p->grad) g = mean ? buffer[at++] * scale : buffer[at++];
      }
      for (auto* w : weights) w->grad += reg * w->value;  // d/dW of reg · ½|W|²
      rate = options.schedule.rate(step);
      check_rate(rate, step++);
      optimizer->step(rate);
    }
    const bool last = options.log_last && pass + 1 == options.passes;
    if (options.log_every != 0 && (pass % options.log_every == 0 || last)) {
      double sums[2] = {0.0, 0.0};  // the cross-entropy summed over this rank's rows, rows right
      if (local_n > 0) {
        sums[0] = reported_loss_of(model, X_all, data.y, 0.0) * static_cast<double>(local_n);
        const Labels predicted = model.predict(data.X);
        for (std::size_t i = 0; i < local_n; ++i) sums[1] += predicted[i] == data.y[i];
      }
      comm.allreduce_sum(sums, 2);
      double penalty = 0.0;
      for (const auto* w : weights) {
        for (T v : w->value) penalty += 0.5 * static_cast<double>(v) * static_cast<double>(v);
      }
      Progress p;
      p.pass = pass;
      p.loss = (sums[0] + options.loss.reg * penalty) / static_cast<double>(n);
      check_finite(p.loss, pass, rate, true);
      p.accuracy = sums[1] / static_cast<double>(n);
      p.rate = rate;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      reports.push_back(p);
      if (on_log && comm.rank() == 0) on_log(p);
    }
  }
  return reports;
}

template std::vector<Progress> train(BasicMLP<double>&, const Shard&, const TrainOptions&,
                                     Communicator&, const std::function<void(const Progress&)>&);
template std::vector<Progress> train(BasicMLP<float>&, const Shard&, const TrainOptions&,
                                     Communicator&, const std::function<void(const Progress&)>&);

template std::vector<Progress> train(BasicMLP<double>&, const Dataset&, const TrainOptions&,
                                     const std::function<void(const Progress&)>&);
template std::vector<Progress> train(BasicMLP<float>&, const Dataset&, const TrainOptions&,
                                     const std::function<void(const Progress&)>&);
template double reported_loss(BasicMLP<double>&, const Dataset&, double);
template double reported_loss(BasicMLP<float>&, const Dataset&, double);

}  // namespace nn
