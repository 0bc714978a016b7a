#include "nn/train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

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

double reported_loss(MLP& model, const Dataset& data, double reg) {
  Tape tape;
  Tape::NoGrad no_grad(tape);
  const LossOptions sum_loss{reg, autograd::Reduction::sum};
  const Var loss = classification_loss(model(tape, tape.constant(data.X)), data.y, model.weights(),
                                       sum_loss);
  return loss.value()(0, 0) / static_cast<double>(data.y.size());
}

std::vector<Progress> train(MLP& model, const Dataset& data, const TrainOptions& options,
                            const std::function<void(const Progress&)>& on_log) {
  check_dataset(data, "train");
  const std::size_t n = data.y.size();
  const std::size_t batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const auto start = std::chrono::steady_clock::now();
  auto optimizer = make_optimizer(options.optimizer, model.parameters());
  const std::vector<Parameter*> weights = model.weights();  // once: a step allocates nothing
  Rng rng(options.seed);
  Tape tape;
  Matrix Xb = Matrix::from_shape({batch, data.X.shape(1)});
  Labels yb(batch);
  std::vector<Progress> reports;
  std::size_t step = 0;
  double rate = options.schedule.rate(0);

  for (std::size_t pass = 0; pass < options.passes; ++pass) {
    std::vector<std::size_t> order;
    if (batch < n) order = rng.permutation(n);
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      const Matrix* X = &data.X;
      const Labels* y = &data.y;
      if (batch < n) {  // gather this minibatch's rows
        Xb.resize({rows, data.X.shape(1)});
        yb.resize(rows);
        for (std::size_t r = 0; r < rows; ++r) {
          const std::size_t src = order[first + r];
          for (std::size_t c = 0; c < data.X.shape(1); ++c) Xb(r, c) = data.X(src, c);
          yb[r] = data.y[src];
        }
        X = &Xb;
        y = &yb;
      }
      tape.clear();
      model.zero_grad();
      const Var loss = classification_loss(model(tape, tape.constant(*X)), *y, weights, options.loss);
      check_finite(loss.value()(0, 0), pass, rate);
      tape.backward(loss);
      rate = options.schedule.rate(step++);
      optimizer->step(rate);
    }
    if (options.log_every != 0 && pass % options.log_every == 0) {
      Progress p;
      p.pass = pass;
      p.loss = reported_loss(model, data, options.loss.reg);
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

}  // namespace nn
