#pragma once
// Finite-difference check of the gradients the tape computes, for a user's own ops and models.
#include <functional>
#include <string>
#include <vector>

#include "autograd/tape.hpp"

namespace autograd {

// Builds a 1x1 value from the inputs, recording on the tape it is given.
using ScalarFunction = std::function<Var(Tape&, const std::vector<Var>&)>;

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  // An element passes when |analytic − numeric| <= atol + rtol · max(|analytic|, |numeric|).
  // In double, the central difference's truncation error is O(eps²·f''') and its rounding error
  // about 1e-16·|f|/eps = 1e-10·|f|, so 1e-6 relative leaves a wide margin for both.
  double rtol = 1e-6;
  double atol = 1e-8;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;  // over all elements of all inputs
  std::size_t checked = 0;     // elements compared
  std::string message;         // the first failure: input, element, both values, the ops reading it
  explicit operator bool() const { return ok; }
};

// Compares the tape's gradient of f with respect to every element of every input against central
// differences of f. names (optional) label the inputs in the message.
GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix>& inputs,
                          const GradcheckOptions& options = {},
                          const std::vector<std::string>& names = {});

// A model's check: loss records the model's forward pass on the tape it is given and returns the
// 1x1 loss; every element of every parameter is compared with central differences. The parameters
// are left with their values as they were and their gradients zeroed. Messages name parameters by
// their name, or "parameter k".
using LossFunction = std::function<Var(Tape&)>;
GradcheckResult gradcheck(const std::vector<Parameter*>& params, const LossFunction& loss,
                          const GradcheckOptions& options = {});

}  // namespace autograd
