#include "autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace autograd {

namespace {

// f at the parameters' current values. The scratch tape is rolled back afterwards (NoGrad), so the
// two evaluations per element reuse its buffers instead of building a tape each time.
double evaluate(const ScalarFunction& f, std::vector<Parameter>& params, Tape& tape) {
  Tape::NoGrad no_grad(tape);
  std::vector<Var> vars;
  for (auto& p : params) vars.push_back(tape.param(p));
  return f(tape, vars).value()(0, 0);
}

// The ops on the tape that read input k directly, e.g. "mul at 3, add at 5".
std::string readers(const Tape& tape, const Var& input) {
  std::string out;
  for (std::size_t i = 0; i < tape.size(); ++i) {
    const Node& n = tape.at(i);
    if (std::find(n.in.begin(), n.in.end(), input.index()) != n.in.end()) {
      out += (out.empty() ? "" : ", ") + std::string(n.op->name) + " at " + std::to_string(i);
    }
  }
  return out;
}

}  // namespace

GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix>& inputs,
                          const GradcheckOptions& options, const std::vector<std::string>& names) {
  std::vector<Parameter> params;
  params.reserve(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    params.emplace_back(inputs[k], k < names.size() ? names[k] : "input " + std::to_string(k));
  }

  // Analytic gradients from one recorded pass.
  Tape tape;
  std::vector<Var> vars;
  for (auto& p : params) vars.push_back(tape.param(p));
  const Var out = f(tape, vars);
  if (out.value().size() != 1) {
    throw std::invalid_argument("gradcheck: the function must return a 1 x 1 value, got " +
                                shape_str(out.value()));
  }
  tape.backward(out);

  GradcheckResult result;
  Tape scratch;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Parameter& p = params[k];
    const Matrix analytic = p.grad;
    for (std::size_t i = 0; i < p.value.shape(0); ++i) {
      for (std::size_t j = 0; j < p.value.shape(1); ++j) {
        const double x = p.value(i, j);
        p.value(i, j) = x + options.eps;
        const double up = evaluate(f, params, scratch);
        p.value(i, j) = x - options.eps;
        const double down = evaluate(f, params, scratch);
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
          msg << "gradcheck: " << p.name << " " << shape_str(p.value) << ", element (" << i << ", "
              << j << "): analytic " << a << ", numeric " << numeric << " (difference " << err
              << " > tolerance " << tol << ")";
          const std::string ops = readers(tape, vars[k]);
          if (!ops.empty()) msg << "; read by " << ops;
          result.message = msg.str();
        }
      }
    }
  }
  return result;
}

}  // namespace autograd
