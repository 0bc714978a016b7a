#pragma once
/// \file
/// Finite-difference check of the gradients the tape computes, for a user's own ops and models.
#include <functional>
#include <string>
#include <vector>

#include "autograd/tape.hpp"

namespace autograd {

/// A function checked by gradcheck(): builds a 1x1 value from the inputs, recording on the tape it
/// is given.
template <class T>
using BasicScalarFunction =
    std::function<BasicVar<T>(BasicTape<T>&, const std::vector<BasicVar<T>>&)>;
using ScalarFunction = BasicScalarFunction<double>;  ///< The float64 BasicScalarFunction.

/// The step and tolerances of gradcheck().
///
/// An element passes when |analytic − numeric| <= atol + rtol · max(|analytic|, |numeric|).
/// In double, the central difference's truncation error is O(eps²·f''') and its rounding error
/// about 1e-16·|f|/eps = 1e-10·|f|, so the defaults' 1e-6 relative leave a wide margin for both.
struct GradcheckOptions {
  double eps = 1e-6;   ///< Central-difference step: (f(x + eps) − f(x − eps)) / (2 eps).
  double rtol = 1e-6;  ///< Relative tolerance.
  double atol = 1e-8;  ///< Absolute tolerance.

  /// The defaults of a float32 check: eps 3e-3, rtol 1e-2, atol 2e-3.
  ///
  /// Evaluated in float (6e-8 relative rounding), a step of 3e-3 makes the rounding error about
  /// 2e-5 times |f| and the truncation error about 1.5e-6 times the third derivative: for losses of
  /// size up to ~50, 2e-3 absolute + 1e-2 relative keeps a margin of 5 or more over both.
  static GradcheckOptions float32() { return {3e-3, 1e-2, 2e-3}; }
};

/// What gradcheck() found; true when every element passed.
struct GradcheckResult {
  bool ok = true;              ///< Every element passed.
  double max_abs_error = 0.0;  ///< |analytic − numeric|, largest over all elements of all inputs.
  std::size_t checked = 0;     ///< Elements compared.
  std::string message;         ///< The first failure: input, element, both values, the ops reading it.
  explicit operator bool() const { return ok; }  ///< ok: `if (!result)` catches a failure.
};

/// Compares the tape's gradient of f with respect to every element of every input against central
/// differences of f. names (optional) label the inputs in the message; without them an input is
/// "input k".
GradcheckResult gradcheck(const ScalarFunction& f, const std::vector<Matrix>& inputs,
                          const GradcheckOptions& options = {},
                          const std::vector<std::string>& names = {});
/// The same in float32: the tape's float gradients against float central differences, with the
/// float32 tolerances by default.
GradcheckResult gradcheck(const BasicScalarFunction<float>& f, const std::vector<Matrix32>& inputs,
                          const GradcheckOptions& options = GradcheckOptions::float32(),
                          const std::vector<std::string>& names = {});

/// A model's loss for gradcheck(): records the model's forward pass on the tape it is given and
/// returns the 1x1 loss.
template <class T>
using BasicLossFunction = std::function<BasicVar<T>(BasicTape<T>&)>;
using LossFunction = BasicLossFunction<double>;  ///< The float64 BasicLossFunction.
/// A model's check: every element of every parameter is compared with central differences of loss.
/// The parameters are left with their values as they were and their gradients zeroed. Messages name
/// parameters by their name, or "parameter k".
GradcheckResult gradcheck(const std::vector<Parameter*>& params, const LossFunction& loss,
                          const GradcheckOptions& options = {});
/// The same for float32 parameters, with the float32 tolerances by default.
GradcheckResult gradcheck(const std::vector<BasicParameter<float>*>& params,
                          const BasicLossFunction<float>& loss,
                          const GradcheckOptions& options = GradcheckOptions::float32());

}  // namespace autograd
