#include "autograd/gradcheck.h"

#include <cmath>

namespace hwnas {

GradcheckResult gradcheck(const std::function<Variable(const std::vector<Variable>&)>& f,
                          const std::vector<Variable>& inputs, GradcheckOptions opts) {
  GradcheckResult res;
  // Work on contiguous copies so that perturbing element i is a plain pointer write.
  std::vector<Variable> xs;
  for (const auto& v : inputs) {
    if (!v.defined()) {
      xs.push_back(v);
      continue;
    }
    Variable c(v.data().contiguous().clone(), v.requires_grad(), v.name());
    xs.push_back(c);
  }
  Tensor y0;
  {
    NoGradGuard ng;
    y0 = f(xs).data().contiguous().clone();
  }
  const int64_t n_out = y0.numel();

  for (size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].defined() || !xs[k].requires_grad()) continue;
    Tensor& x = xs[k].data();
    if (x.dtype() != DType::f32) continue;
    const int64_t n_in = x.numel();
    // Numerical Jacobian, n_out x n_in.
    std::vector<float> num(n_out * n_in);
    float* px = x.data<float>();
    for (int64_t i = 0; i < n_in; ++i) {
      const float orig = px[i];
      Tensor yp, ym;
      {
        NoGradGuard ng;
        px[i] = orig + opts.eps;
        yp = f(xs).data().contiguous().clone();
        px[i] = orig - opts.eps;
        ym = f(xs).data().contiguous().clone();
      }
      px[i] = orig;
      const float* a = yp.data<float>();
      const float* b = ym.data<float>();
      for (int64_t j = 0; j < n_out; ++j) num[j * n_in + i] = (a[j] - b[j]) / (2 * opts.eps);
    }
    // Analytic Jacobian: one backward per output element.
    Variable y = f(xs);
    if (!y.requires_grad()) {
      res.ok = false;
      res.message = fmt::format("input {}: output does not require grad", k);
      return res;
    }
    for (int64_t j = 0; j < n_out; ++j) {
      for (auto& v : xs)
        if (v.defined()) v.zero_grad();
      Tensor e = Tensor::zeros(y.shape());
      e.data<float>()[j] = 1.f;  // zeros() is contiguous
      y.backward(e, /*retain_graph=*/true);
      Tensor g = xs[k].grad();
      std::vector<float> gv = g.defined() ? g.to_vector() : std::vector<float>(n_in, 0.f);
      for (int64_t i = 0; i < n_in; ++i) {
        const float an = gv[i], nu = num[j * n_in + i];
        const float err = std::fabs(an - nu);
        res.max_abs_error = std::max(res.max_abs_error, err);
        if (err > opts.atol + opts.rtol * std::fabs(nu) && res.ok) {
          res.ok = false;
          res.message = fmt::format("input {} element {}, output element {}: numerical {} vs analytic {}", k, i, j, nu, an);
        }
      }
    }
  }
  return res;
}

}  // namespace hwnas
