#pragma once
/// \file
/// Optimisers (update rules) and learning-rate schedules. An optimiser reads each parameter's grad
/// and changes its value; it never computes gradients.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

/// A learning-rate schedule: the rate at step t (t counts optimiser steps from 0).
struct Schedule {
  /// The schedule's formula.
  enum class Kind {
    constant,     ///< base
    step,         ///< base · decay^⌊t / every⌋
    exponential,  ///< base · decay^(t / every)
    inverse_time  ///< base / (1 + decay · t / every)
  };
  Kind kind = Kind::constant;  ///< The formula.
  double base = 0.01;  ///< The rate at step 0.
  double decay = 1.0;  ///< The decay factor.
  std::size_t every = 1;  ///< The steps over which one decay applies (0 counts as 1).

  double rate(std::size_t t) const;  ///< The rate at optimiser step t.
};
/// The schedule named "constant", "step", "exponential" or "inverse_time"; throws
/// std::invalid_argument for any other name, quoting it.
Schedule::Kind parse_schedule(const std::string& name);  // constant, step, exponential, inverse_time
std::string to_string(Schedule::Kind kind);  ///< The name parse_schedule() takes.

/// An optimiser: updates its parameters' values from their gradients.
///
/// Each optimiser is a template on the parameters' element type T, and does its arithmetic in T:
/// `BasicAdam<float>` keeps float32 moments. Optimizer, GradientDescent, Momentum and Adam are the
/// float64 ones; nn::f32::Adam and so on the float32 ones.
template <class T>
class BasicOptimizer {
 public:
  using value_type = T;  ///< The element type.
  /// Updates these parameters, following them when they move.
  explicit BasicOptimizer(std::vector<autograd::BasicParameter<T>*> params);
  virtual ~BasicOptimizer() = default;  ///< Virtual: optimisers are used through this base.
  /// One update of every parameter from its grad with this step size (rounded to T). Throws
  /// std::logic_error if a parameter was destroyed, and std::invalid_argument naming the optimiser,
  /// the parameter and both shapes if a gradient (or the state kept for a parameter) does not
  /// have its value's shape; a refused step changes no parameter.
  virtual void step(double rate) = 0;  // rate is rounded to T

 protected:
  /// The parameters: followed when a parameter moves; a destroyed one makes step() throw
  /// std::logic_error.
  std::vector<autograd::BasicParamRef<T>> params_;
};

/// Gradient descent, the blog's update: w ← w − rate · g.
template <class T>
class BasicGradientDescent : public BasicOptimizer<T> {
 public:
  using BasicOptimizer<T>::BasicOptimizer;
  void step(double rate) override;  ///< w ← w − rate · g for every parameter.
};

/// Gradient descent with momentum: v ← μ·v + g; w ← w − rate · v.
template <class T>
class BasicMomentum : public BasicOptimizer<T> {
 public:
  /// Momentum mu (μ) for these parameters; the velocities start at zero.
  BasicMomentum(std::vector<autograd::BasicParameter<T>*> params, double mu = 0.9);
  void step(double rate) override;  ///< v ← μ·v + g; w ← w − rate · v for every parameter.

 private:
  T mu_;
  std::vector<autograd::BasicMatrix<T>> velocity_;
};

/// Adam (Kingma and Ba 2015).
///
/// Algorithm 1 of the paper: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// w ← w − rate · m̂ / (√v̂ + ε) with m̂ = m / (1−β₁ᵗ), v̂ = v / (1−β₂ᵗ).
template <class T>
class BasicAdam : public BasicOptimizer<T> {
 public:
  /// Adam with β₁ = beta1, β₂ = beta2 and ε = eps for these parameters; the moments start at zero.
  BasicAdam(std::vector<autograd::BasicParameter<T>*> params, double beta1 = 0.9,
            double beta2 = 0.999, double eps = 1e-8);
  void step(double rate) override;  ///< One Adam step (t counts the calls from 1).

 private:
  double beta1_, beta2_;  // kept in float64 for the bias corrections 1 − βᵗ
  T eps_;
  std::size_t t_ = 0;
  std::vector<autograd::BasicMatrix<T>> m_, v_;
};

using Optimizer = BasicOptimizer<double>;  ///< A float64 optimiser.
using GradientDescent = BasicGradientDescent<double>;  ///< float64 gradient descent.
using Momentum = BasicMomentum<double>;  ///< float64 gradient descent with momentum.
using Adam = BasicAdam<double>;  ///< float64 Adam.

/// The optimiser named "gd", "momentum" or "adam", with its default settings.
///
/// It works in the parameters' precision: `make_optimizer(name, model.parameters())` for a model of
/// either precision, `make_optimizer<float>(name, {…})` for a braced list of float32 parameters.
/// Throws std::invalid_argument for any other name, quoting it.
template <class T>
std::unique_ptr<BasicOptimizer<T>> make_optimizer(const std::string& name,
                                                  std::vector<autograd::BasicParameter<T>*> params);
/// make_optimizer() for float64 parameters: keeps a braced list (`{&w, &b}`) meaning float64.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          std::vector<autograd::Parameter*> params);

extern template class BasicOptimizer<double>;
extern template class BasicOptimizer<float>;
extern template class BasicGradientDescent<double>;
extern template class BasicGradientDescent<float>;
extern template class BasicMomentum<double>;
extern template class BasicMomentum<float>;
extern template class BasicAdam<double>;
extern template class BasicAdam<float>;
extern template std::unique_ptr<BasicOptimizer<double>> make_optimizer(
    const std::string&, std::vector<autograd::BasicParameter<double>*>);
extern template std::unique_ptr<BasicOptimizer<float>> make_optimizer(
    const std::string&, std::vector<autograd::BasicParameter<float>*>);

namespace f64 {
using Optimizer = BasicOptimizer<double>;  ///< A float64 optimiser.
using GradientDescent = BasicGradientDescent<double>;  ///< float64 gradient descent.
using Momentum = BasicMomentum<double>;  ///< float64 gradient descent with momentum.
using Adam = BasicAdam<double>;  ///< float64 Adam.
}  // namespace f64

namespace f32 {
using Optimizer = BasicOptimizer<float>;  ///< A float32 optimiser.
using GradientDescent = BasicGradientDescent<float>;  ///< float32 gradient descent.
using Momentum = BasicMomentum<float>;  ///< float32 gradient descent with momentum.
using Adam = BasicAdam<float>;  ///< float32 Adam.
}  // namespace f32

}  // namespace nn
