#include "autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace autograd {

namespace {

// The loss at the parameters' current values. The scratch tape is rolled back afterwards (NoGrad),
// so the two evaluations per element reuse its buffers instead of building a tape each time.
double evaluate(const LossFunction& loss, Tape& tape) {
  Tape::NoGrad no_grad(tape);
  return loss(tape).value()(0, 0);
}

// The ops on the tape that read parameter p directly, e.g. "mul at 3, add at 5".
std::string readers(const Tape& tape, const Parameter& p) {
  std::string out;
  for (std::size_t i = 0; i < tape.size(); ++i) {
    const Node& leaf = tape.at(i);
    if (!leaf.param || leaf.param.get() != &p) continue;
    for (std::size_t j = i + 1; j < tape.size(); ++j) {
      const Node& n = tape.at(j);
      if (std::find(n.in.begin(), n.in.end(), leaf.index) != n.in.end()) {
        out += (out.empty() ? "" : ", ") + std::string(n.op->name) + " at " + std::to_string(j);
      }
    }
  }
  return out;
}

// Both gradchecks: one recorded pass for the analytic gradients, then central differences of every
// element of every parameter. Values are restored exactly (each element is put back as it was).
GradcheckResult check(const std::vector<Parameter*>& params, const std::vector<std::string>& names,
                      const LossFunction& loss, const GradcheckOptions& options) {
  for (Parameter* p : params) p->zero_grad();
  Tape tape;
  const Var out = loss(tape);
  if (out.value().size() != 1) {
    throw std::invalid_argument("gradcheck: the function must return a 1 x 1 value, got " +
                                shape_str(out.value()));
  }
  tape.backward(out);

  GradcheckResult result;
  Tape scratch;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Parameter& p = *params[k];
    const Matrix analytic = p.grad;
    for (std::size_t i = 0; i < p.value.shape(0); ++i) {
      for (std::size_t j = 0; j < p.value.shape(1); ++j) {
        const double x = p.value(i, j);
        p.value(i, j) = x + options.eps;
        const double up = evaluate(loss, scratch);
        p.value(i, j) = x - options.eps;
        const double down = evaluate(loss, scratch);
        p.value(i, j) = x;
        const double numeric = (up - down) / (2.0 * options.eps);
        const double a = analytic(i, j);
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

}  // namespace

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix>& inputs,
                          const GradcheckOptions& options, const std::vector<std::string>& names) {
  std::vector<Parameter> params;
  std::vector<Parameter*> pointers;
  std::vector<std::string> labels;
  params.reserve(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    labels.push_back(k < names.size() ? names[k] : "input " + std::to_string(k));
    params.emplace_back(inputs[k], labels.back());
    pointers.push_back(&params.back());
  }
  const LossFunction loss = [&](Tape& tape) {
    std::vector<Var> vars;
    for (Parameter& p : params) vars.push_back(tape.param(p));
    return f(tape, vars);
  };
  return check(pointers, labels, loss, options);
}

GradcheckResult gradcheck(const std::vector<Parameter*>& params, const LossFunction& loss,
                          const GradcheckOptions& options) {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < params.size(); ++k) {
    names.push_back(params[k]->name.empty() ? "parameter " + std::to_string(k) : params[k]->name);
  }
  GradcheckResult result = check(params, names, loss, options);
  for (Parameter* p : params) p->zero_grad();
  return result;
}

}  // namespace autograd
