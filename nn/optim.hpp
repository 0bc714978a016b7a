#pragma once
// Optimisers (update rules) and learning-rate schedules. An optimiser reads each parameter's grad
// and changes its value; it never computes gradients.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

// The rate at step t (t counts optimiser steps from 0).
struct Schedule {
  enum class Kind {
    constant,     // base
    step,         // base · decay^⌊t / every⌋
    exponential,  // base · decay^(t / every)
    inverse_time  // base / (1 + decay · t / every)
  };
  Kind kind = Kind::constant;
  double base = 0.01;
  double decay = 1.0;
  std::size_t every = 1;

  double rate(std::size_t t) const;
};
Schedule::Kind parse_schedule(const std::string& name);  // constant, step, exponential, inverse_time
std::string to_string(Schedule::Kind kind);

class Optimizer {
 public:
  explicit Optimizer(std::vector<autograd::Parameter*> params);
  virtual ~Optimizer() = default;
  virtual void step(double rate) = 0;

 protected:
  // Followed when a parameter moves; a destroyed one makes step() throw std::logic_error.
  std::vector<autograd::ParamRef> params_;
};

// The blog's update: w ← w − rate · g.
class GradientDescent : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step(double rate) override;
};

// v ← μ·v + g; w ← w − rate · v.
class Momentum : public Optimizer {
 public:
  Momentum(std::vector<autograd::Parameter*> params, double mu = 0.9);
  void step(double rate) override;

 private:
  double mu_;
  std::vector<autograd::Matrix> velocity_;
};

// Kingma & Ba (2015), Algorithm 1: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
// w ← w − rate · m̂ / (√v̂ + ε) with m̂ = m / (1−β₁ᵗ), v̂ = v / (1−β₂ᵗ).
class Adam : public Optimizer {
 public:
  Adam(std::vector<autograd::Parameter*> params, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8);
  void step(double rate) override;

 private:
  double beta1_, beta2_, eps_;
  std::size_t t_ = 0;
  std::vector<autograd::Matrix> m_, v_;
};

// "gd", "momentum" or "adam".
std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          std::vector<autograd::Parameter*> params);

}  // namespace nn
