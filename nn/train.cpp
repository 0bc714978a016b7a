#include "nn/train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

#include "nn/random.hpp"

namespace nn {

namespace {

// Diverged training: stop at once, before the weights and the reports fill with NaN.
void check_finite(double loss, std::size_t pass, double rate) {
  if (std::isfinite(loss)) return;
  char text[160];
  std::snprintf(text, sizeof text,
                "train: the loss is not finite (%g) at pass %zu with rate %g: training diverged; "
                "try a smaller rate",
                loss, pass, rate);
  throw std::runtime_error(text);
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
      rate = options.schedule.rate(step++);
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

template std::vector<Progress> train(BasicMLP<double>&, const Dataset&, const TrainOptions&,
                                     const std::function<void(const Progress&)>&);
template std::vector<Progress> train(BasicMLP<float>&, const Dataset&, const TrainOptions&,
                                     const std::function<void(const Progress&)>&);
template double reported_loss(BasicMLP<double>&, const Dataset&, double);
template double reported_loss(BasicMLP<float>&, const Dataset&, double);

}  // namespace nn
