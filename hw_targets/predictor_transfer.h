#pragma once
// Few-shot latency prediction for a device never seen before: an additive per-(layer, op) cost
// model whose costs get a prior learned from other devices and from analytic layer features,
// fit on 10-100 measured archs of the new device (empirical-Bayes / hierarchical linear model).
//
// In units of each device's median latency, the new device's per-op cost vector is
//   c = C alpha + F theta + delta,  latency = b + x . c + noise
// C: the source devices' additive cost vectors (each fit on all of its data, per-layer
// centered); alpha ~ N(1/J, h_src / J), i.e. around the sources' mean, spread as the sources
// spread; F: the analytic features (predictor_features.h), per-layer centered, unit columns;
// theta ~ N(0, h_feat s / K); delta ~ N(0, h_op s / p) a per-op residual; s the sources' mean
// squared cost norm. alpha and theta are kept non-negative (a device's cost grows with every
// part's work and traffic, and with the sources' costs).
// Hyperparameters (h_src, h_feat, h_op, noise) maximize the restricted marginal likelihood of
// the N samples (intercept integrated out), with a weak log-normal hyperprior on h_src and
// h_feat (sd `hyper_prior_sd` around 1: "as spread as the sources"), inside bounds. Noise is
// Student-t (measured latencies have outliers: background load, throttling), fit by reweighting
// each sample by its leave-one-out residual standardized by the other samples' prediction
// variance plus the noise (iteratively reweighted, refitting the hyperparameters each time). Finally the non-negative MAP of
// (b, alpha, theta) is solved with delta integrated out, and delta's posterior mean is added.
// No hyperparameter is tuned on the target device's test archs.
#include <string>
#include <vector>

#include "hw_targets/latency_data.h"
#include "hw_targets/predictor_additive.h"

namespace hwnas {

// A device the transfer learns from: its additive cost model fit (ridge/GCV) on all its data.
struct TransferSource {
  std::string name;
  std::vector<double> coef_ms;
  double bias_ms = 0;
  double median_ms = 1;  // its latency scale
};
TransferSource make_transfer_source(const SearchSpace& s, const LatencyData& d);

struct TransferOptions {
  double student_t_nu = 4;      // degrees of freedom of the noise (smaller: more robust)
  int reweight_iters = 10;      // at most this many hyperparameter fits, each followed by
                                // reweighting; stops once no weight moves by 1e-3
  double hyper_prior_sd = 2;    // sd of log h_src and log h_feat around 0
  double log_h_min = -12, log_h_max = 4;       // bounds of log h_src, h_feat, h_op
  double log_noise_min = -12, log_noise_max = 0;  // noise variance, in median-latency units^2
  // true: alpha ~ N(1/J, h_src / J) (around the sources' mean); false: alpha ~ N(0, h_src / J)
  // with the sources' uncentered second moment as the covariance.
  bool center_sources = true;
};

// Fits the new device from its samples. Throws when there are fewer than 3 samples or no
// source and no feature is used.
std::unique_ptr<AdditivePredictor> fit_transfer(const SearchSpace& s, const std::vector<TransferSource>& sources,
                                                const std::vector<Arch>& archs, const std::vector<double>& latency_ms,
                                                const TransferOptions& o = {});

}  // namespace hwnas
