#include "nn/optim.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include <xtensor/xmath.hpp>

namespace nn {

double Schedule::rate(std::size_t t) const {
  const double k = static_cast<double>(t) / static_cast<double>(every == 0 ? 1 : every);
  switch (kind) {
    case Kind::constant: return base;
    case Kind::step: return base * std::pow(decay, std::floor(k));
    case Kind::exponential: return base * std::pow(decay, k);
    case Kind::inverse_time: return base / (1.0 + decay * k);
  }
  return base;
}

std::string to_string(Schedule::Kind kind) {
  switch (kind) {
    case Schedule::Kind::constant: return "constant";
    case Schedule::Kind::step: return "step";
    case Schedule::Kind::exponential: return "exponential";
    case Schedule::Kind::inverse_time: return "inverse_time";
  }
  return "?";
}

Schedule::Kind parse_schedule(const std::string& name) {
  for (auto k : {Schedule::Kind::constant, Schedule::Kind::step, Schedule::Kind::exponential,
                 Schedule::Kind::inverse_time}) {
    if (name == to_string(k)) return k;
  }
  throw std::invalid_argument("unknown schedule '" + name +
                              "' (expected constant, step, exponential or inverse_time)");
}

namespace {

// "parameter 'W'", or "parameter 2" (its place in the optimiser's list) when it has no name.
template <class T>
std::string parameter_name(const autograd::BasicParameter<T>& p, std::size_t i) {
  return p.name.empty() ? "parameter " + std::to_string(i) : "parameter '" + p.name + "'";
}

template <class T>
[[noreturn, gnu::noinline, gnu::cold]] void step_error(const char* optimiser,
                                                       const autograd::BasicParameter<T>& p,
                                                       std::size_t i, const autograd::BasicMatrix<T>* state) {
  if (state == nullptr) {
    throw std::invalid_argument(std::string(optimiser) + ": " + parameter_name(p, i) + " is " +
                                autograd::shape_str(p.value) + " but its gradient is " +
                                autograd::shape_str(p.grad));
  }
  throw std::invalid_argument(std::string(optimiser) + ": " + parameter_name(p, i) + " is " +
                              autograd::shape_str(p.value) + " but the state kept for it is " +
                              autograd::shape_str(*state) +
                              " (it changed shape after the optimiser was made: make a new one)");
}

// Before any parameter is updated, so that a refused step changes nothing: every gradient, and the
// optimiser's state for it (`state`, one matrix per parameter, or null), has the value's shape.
// Without this xtensor would broadcast a [1 x 1] gradient silently or fail without shapes.
template <class T>
void check_step(const char* optimiser, const std::vector<autograd::BasicParamRef<T>>& params,
                const std::vector<autograd::BasicMatrix<T>>* state) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const autograd::BasicParameter<T>& p = *params[i];
    if (p.grad.shape() != p.value.shape()) step_error<T>(optimiser, p, i, nullptr);
    if (state != nullptr && (*state)[i].shape() != p.value.shape()) step_error<T>(optimiser, p, i, &(*state)[i]);
  }
}

}  // namespace

template <class T>
BasicOptimizer<T>::BasicOptimizer(std::vector<autograd::BasicParameter<T>*> params)
    : params_(params.begin(), params.end()) {}

template <class T>
void BasicGradientDescent<T>::step(double rate) {
  check_step<T>("GradientDescent", this->params_, nullptr);
  const T r = static_cast<T>(rate);
  for (const autograd::BasicParamRef<T>& p : this->params_) xt::noalias(p->value) -= r * p->grad;
}

template <class T>
BasicMomentum<T>::BasicMomentum(std::vector<autograd::BasicParameter<T>*> params, double mu)
    : BasicOptimizer<T>(std::move(params)), mu_(static_cast<T>(mu)) {
  for (const autograd::BasicParamRef<T>& p : this->params_) {
    velocity_.push_back(xt::zeros_like(p->value));
  }
}

template <class T>
void BasicMomentum<T>::step(double rate) {
  check_step<T>("Momentum", this->params_, &velocity_);
  const T r = static_cast<T>(rate);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    autograd::BasicMatrix<T>& v = velocity_[i];
    xt::noalias(v) = mu_ * v + this->params_[i]->grad;
    xt::noalias(this->params_[i]->value) -= r * v;
  }
}

template <class T>
BasicAdam<T>::BasicAdam(std::vector<autograd::BasicParameter<T>*> params, double beta1,
                        double beta2, double eps)
    : BasicOptimizer<T>(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(static_cast<T>(eps)) {
  for (const autograd::BasicParamRef<T>& p : this->params_) {
    m_.push_back(xt::zeros_like(p->value));
    v_.push_back(xt::zeros_like(p->value));
  }
}

template <class T>
void BasicAdam<T>::step(double rate) {
  check_step<T>("Adam", this->params_, &m_);  // m_ and v_ always share their shapes
  ++t_;
  const T c1 = static_cast<T>(1.0 - std::pow(beta1_, static_cast<double>(t_)));
  const T c2 = static_cast<T>(1.0 - std::pow(beta2_, static_cast<double>(t_)));
  const T b1 = static_cast<T>(beta1_), b2 = static_cast<T>(beta2_);
  const T one_b1 = static_cast<T>(1.0 - beta1_), one_b2 = static_cast<T>(1.0 - beta2_);
  const T r = static_cast<T>(rate);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    const autograd::BasicMatrix<T>& g = this->params_[i]->grad;
    xt::noalias(m_[i]) = b1 * m_[i] + one_b1 * g;
    xt::noalias(v_[i]) = b2 * v_[i] + one_b2 * g * g;
    xt::noalias(this->params_[i]->value) -= r * (m_[i] / c1) / (xt::sqrt(v_[i] / c2) + eps_);
  }
}

template <class T>
std::unique_ptr<BasicOptimizer<T>> make_optimizer(const std::string& name,
                                                  std::vector<autograd::BasicParameter<T>*> params) {
  if (name == "gd") return std::make_unique<BasicGradientDescent<T>>(std::move(params));
  if (name == "momentum") return std::make_unique<BasicMomentum<T>>(std::move(params));
  if (name == "adam") return std::make_unique<BasicAdam<T>>(std::move(params));
  throw std::invalid_argument("unknown optimizer '" + name + "' (expected gd, momentum or adam)");
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          std::vector<autograd::Parameter*> params) {
  return make_optimizer<double>(name, std::move(params));
}

template class BasicOptimizer<double>;
template class BasicOptimizer<float>;
template class BasicGradientDescent<double>;
template class BasicGradientDescent<float>;
template class BasicMomentum<double>;
template class BasicMomentum<float>;
template class BasicAdam<double>;
template class BasicAdam<float>;
template std::unique_ptr<BasicOptimizer<double>> make_optimizer(
    const std::string&, std::vector<autograd::BasicParameter<double>*>);
template std::unique_ptr<BasicOptimizer<float>> make_optimizer(
    const std::string&, std::vector<autograd::BasicParameter<float>*>);

}  // namespace nn
