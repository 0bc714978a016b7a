#include "nn/optim.hpp"

#include <cmath>
#include <stdexcept>

#include <xtensor/xmath.hpp>

namespace nn {

using autograd::Matrix;
using autograd::Parameter;

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

Optimizer::Optimizer(std::vector<Parameter*> params) : params_(params.begin(), params.end()) {}

void GradientDescent::step(double rate) {
  for (const autograd::ParamRef& p : params_) xt::noalias(p->value) -= rate * p->grad;
}

Momentum::Momentum(std::vector<Parameter*> params, double mu) : Optimizer(std::move(params)), mu_(mu) {
  for (const autograd::ParamRef& p : params_) velocity_.push_back(xt::zeros_like(p->value));
}

void Momentum::step(double rate) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Matrix& v = velocity_[i];
    xt::noalias(v) = mu_ * v + params_[i]->grad;
    xt::noalias(params_[i]->value) -= rate * v;
  }
}

Adam::Adam(std::vector<Parameter*> params, double beta1, double beta2, double eps)
    : Optimizer(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const autograd::ParamRef& p : params_) {
    m_.push_back(xt::zeros_like(p->value));
    v_.push_back(xt::zeros_like(p->value));
  }
}

void Adam::step(double rate) {
  ++t_;
  const double c1 = 1.0 - std::pow(beta1_, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Matrix& g = params_[i]->grad;
    xt::noalias(m_[i]) = beta1_ * m_[i] + (1.0 - beta1_) * g;
    xt::noalias(v_[i]) = beta2_ * v_[i] + (1.0 - beta2_) * g * g;
    xt::noalias(params_[i]->value) -= rate * (m_[i] / c1) / (xt::sqrt(v_[i] / c2) + eps_);
  }
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Parameter*> params) {
  if (name == "gd") return std::make_unique<GradientDescent>(std::move(params));
  if (name == "momentum") return std::make_unique<Momentum>(std::move(params));
  if (name == "adam") return std::make_unique<Adam>(std::move(params));
  throw std::invalid_argument("unknown optimizer '" + name + "' (expected gd, momentum or adam)");
}

}  // namespace nn
