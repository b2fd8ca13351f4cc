#pragma once
// Finite-difference check of an op's backward: the numerical Jacobian (central differences,
// one input element at a time) against the Jacobian assembled from backward passes (one per
// output element). Used by every op test.
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace hwnas {

struct GradcheckOptions {
  float eps = 1e-2f;   // f32 arithmetic: a larger step than the usual 1e-6 of f64 checks
  float atol = 2e-3f;
  float rtol = 2e-2f;
};

struct GradcheckResult {
  bool ok = true;
  float max_abs_error = 0.f;
  std::string message;  // the first mismatch: input, element, output, numerical vs analytic
};

// `f` maps the inputs to one output; inputs that require grad are checked.
GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Variable>& inputs, GradcheckOptions opts = {});

}  // namespace hwnas
