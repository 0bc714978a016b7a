#include "autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace autograd {

namespace {

// The loss at the parameters' current values. The scratch tape is rolled back afterwards (NoGrad),
// so the two evaluations per element reuse its buffers instead of building a tape each time.
template <class T>
double evaluate(const BasicLossFunction<T>& loss, BasicTape<T>& tape) {
  typename BasicTape<T>::NoGrad no_grad(tape);
  return loss(tape).value()(0, 0);
}

// The ops on the tape that read parameter p directly, e.g. "mul at 3, add at 5".
template <class T>
std::string readers(const BasicTape<T>& tape, const BasicParameter<T>& p) {
  std::string out;
  for (std::size_t i = 0; i < tape.size(); ++i) {
    const BasicNode<T>& leaf = tape.at(i);
    if (!leaf.param || leaf.param.get() != &p) continue;
    for (std::size_t j = i + 1; j < tape.size(); ++j) {
      const BasicNode<T>& n = tape.at(j);
      if (std::find(n.in.begin(), n.in.end(), leaf.index) != n.in.end()) {
        out += (out.empty() ? "" : ", ") + std::string(n.op->name) + " at " + std::to_string(j);
      }
    }
  }
  return out;
}

// Both gradchecks: one recorded pass for the analytic gradients, then central differences of every
// element of every parameter. Values are restored exactly (each element is put back as it was).
template <class T>
GradcheckResult check(const std::vector<BasicParameter<T>*>& params,
                      const std::vector<std::string>& names, const BasicLossFunction<T>& loss,
                      const GradcheckOptions& options) {
  for (BasicParameter<T>* p : params) p->zero_grad();
  BasicTape<T> tape;
  const BasicVar<T> out = loss(tape);
  if (out.value().size() != 1) {
    throw std::invalid_argument("gradcheck: the function must return a 1 x 1 value, got " +
                                shape_str(out.value()));
  }
  tape.backward(out);

  GradcheckResult result;
  BasicTape<T> scratch;
  const T eps = static_cast<T>(options.eps);
  for (std::size_t k = 0; k < params.size(); ++k) {
    BasicParameter<T>& p = *params[k];
    const BasicMatrix<T> analytic = p.grad;
    for (std::size_t i = 0; i < p.value.shape(0); ++i) {
      for (std::size_t j = 0; j < p.value.shape(1); ++j) {
        const T x = p.value(i, j);
        const T above = x + eps, below = x - eps;
        p.value(i, j) = above;
        const double up = evaluate(loss, scratch);
        p.value(i, j) = below;
        const double down = evaluate(loss, scratch);
        p.value(i, j) = x;
        // Divided by the step actually taken: x ± eps rounded to T (in float, far from 2·eps).
        const double numeric = (up - down) / (static_cast<double>(above) - static_cast<double>(below));
        const double a = static_cast<double>(analytic(i, j));
        const double err = std::abs(a - numeric);
        const double tol = options.atol + options.rtol * std::max(std::abs(a), std::abs(numeric));
        ++result.checked;
        result.max_abs_error = std::max(result.max_abs_error, err);
        if (!(err <= tol) && result.ok) {
          result.ok = false;
          std::ostringstream msg;
          msg.precision(10);
          msg << "gradcheck: " << names[k] << " " << shape_str(p.value) << ", element (" << i
              << ", " << j << "): analytic " << a << ", numeric " << numeric << " (difference "
              << err << " > tolerance " << tol << ")";
          const std::string ops = readers(tape, p);
          if (!ops.empty()) msg << "; read by " << ops;
          result.message = msg.str();
        }
      }
    }
  }
  return result;
}

template <class T>
GradcheckResult check_function(const BasicScalarFunction<T>& f,
                               const std::vector<BasicMatrix<T>>& inputs,
                               const GradcheckOptions& options,
                               const std::vector<std::string>& names) {
  std::vector<BasicParameter<T>> params;
  std::vector<BasicParameter<T>*> pointers;
  std::vector<std::string> labels;
  params.reserve(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    labels.push_back(k < names.size() ? names[k] : "input " + std::to_string(k));
    params.emplace_back(inputs[k], labels.back());
    pointers.push_back(&params.back());
  }
  const BasicLossFunction<T> loss = [&](BasicTape<T>& tape) {
    std::vector<BasicVar<T>> vars;
    for (BasicParameter<T>& p : params) vars.push_back(tape.param(p));
    return f(tape, vars);
  };
  return check(pointers, labels, loss, options);
}

template <class T>
GradcheckResult check_model(const std::vector<BasicParameter<T>*>& params,
                            const BasicLossFunction<T>& loss, const GradcheckOptions& options) {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < params.size(); ++k) {
    names.push_back(params[k]->name.empty() ? "parameter " + std::to_string(k) : params[k]->name);
  }
  GradcheckResult result = check(params, names, loss, options);
  for (BasicParameter<T>* p : params) p->zero_grad();
  return result;
}

}  // namespace

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix>& inputs,
                          const GradcheckOptions& options, const std::vector<std::string>& names) {
  return check_function(f, inputs, options, names);
}

GradcheckResult gradcheck(const BasicScalarFunction<float>& f, const std::vector<Matrix32>& inputs,
                          const GradcheckOptions& options, const std::vector<std::string>& names) {
  return check_function(f, inputs, options, names);
}

GradcheckResult gradcheck(const std::vector<Parameter*>& params, const LossFunction& loss,
                          const GradcheckOptions& options) {
  return check_model(params, loss, options);
}

GradcheckResult gradcheck(const std::vector<BasicParameter<float>*>& params,
                          const BasicLossFunction<float>& loss, const GradcheckOptions& options) {
  return check_model(params, loss, options);
}

}  // namespace autograd
