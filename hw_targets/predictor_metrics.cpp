#include "hw_targets/predictor_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "tensor/error.h"

namespace hwnas {

namespace {

void check_pair(const char* what, const std::vector<double>& a, const std::vector<double>& b) {
  HWNAS_CHECK(a.size() == b.size(), "{}: {} predictions for {} measurements", what, a.size(), b.size());
  HWNAS_CHECK(!a.empty(), "{}: no samples", what);
}

// Pairs tied in sorted `v` (runs of equal values): sum of t(t-1)/2 over the runs.
int64_t tied_pairs(const std::vector<double>& v) {
  int64_t t = 0, run = 1;
  for (size_t i = 1; i <= v.size(); ++i) {
    if (i < v.size() && v[i] == v[i - 1]) {
      ++run;
    } else {
      t += run * (run - 1) / 2;
      run = 1;
    }
  }
  return t;
}

// Sorts v (merge sort) and returns the number of swaps an insertion sort would make: the
// number of strictly inverted pairs.
int64_t merge_count(std::vector<double>& v, std::vector<double>& tmp, size_t lo, size_t hi) {
  if (hi - lo < 2) return 0;
  const size_t mid = (lo + hi) / 2;
  int64_t swaps = merge_count(v, tmp, lo, mid) + merge_count(v, tmp, mid, hi);
  size_t i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (v[j] < v[i]) {
      swaps += int64_t(mid - i);
      tmp[k++] = v[j++];
    } else {
      tmp[k++] = v[i++];
    }
  }
  while (i < mid) tmp[k++] = v[i++];
  while (j < hi) tmp[k++] = v[j++];
  std::copy(tmp.begin() + lo, tmp.begin() + hi, v.begin() + lo);
  return swaps;
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = 0.5 * double(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

}  // namespace

double mape(const std::vector<double>& pred, const std::vector<double>& truth) {
  check_pair("mape", pred, truth);
  double s = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    HWNAS_CHECK(truth[i] > 0, "mape: measured latency {} at sample {} is not positive", truth[i], i);
    s += std::fabs(pred[i] - truth[i]) / truth[i];
  }
  return 100.0 * s / double(pred.size());
}

double within_pct(const std::vector<double>& pred, const std::vector<double>& truth, double tol) {
  check_pair("within_pct", pred, truth);
  size_t k = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    HWNAS_CHECK(truth[i] > 0, "within_pct: measured latency {} at sample {} is not positive", truth[i], i);
    // A hair of slack so that an error of exactly tol (e.g. 11 vs 10) counts despite rounding.
    if (std::fabs(pred[i] - truth[i]) <= tol * truth[i] * (1 + 1e-12)) ++k;
  }
  return double(k) / double(pred.size());
}

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  check_pair("kendall_tau", a, b);
  const size_t n = a.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return a[x] < a[y] || (a[x] == a[y] && b[x] < b[y]); });
  std::vector<double> sa(n), sb(n);
  for (size_t i = 0; i < n; ++i) sa[i] = a[idx[i]], sb[i] = b[idx[i]];
  const int64_t n0 = int64_t(n) * int64_t(n - 1) / 2;
  const int64_t n1 = tied_pairs(sa);
  // Pairs tied in both.
  int64_t n3 = 0, run = 1;
  for (size_t i = 1; i <= n; ++i) {
    if (i < n && sa[i] == sa[i - 1] && sb[i] == sb[i - 1]) {
      ++run;
    } else {
      n3 += run * (run - 1) / 2;
      run = 1;
    }
  }
  std::vector<double> tmp(n);
  const int64_t swaps = merge_count(sb, tmp, 0, n);  // sb is sorted afterwards
  const int64_t n2 = tied_pairs(sb);
  if (n0 == n1 || n0 == n2) return 0.0;
  // concordant - discordant = n0 - n1 - n2 + n3 - 2 * swaps.
  const double num = double(n0 - n1 - n2 + n3) - 2.0 * double(swaps);
  return num / std::sqrt(double(n0 - n1) * double(n0 - n2));
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  check_pair("spearman", a, b);
  const auto ra = average_ranks(a), rb = average_ranks(b);
  const double n = double(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return 0.0;
  return sab / std::sqrt(saa * sbb);
}

PredictorMetrics predictor_metrics(const std::vector<double>& pred, const std::vector<double>& truth) {
  PredictorMetrics m;
  m.mape = mape(pred, truth);
  m.within_10pct = within_pct(pred, truth, 0.10);
  m.kendall_tau = kendall_tau(pred, truth);
  m.spearman = spearman(pred, truth);
  m.n = pred.size();
  return m;
}

nlohmann::json metrics_to_json(const PredictorMetrics& m) {
  return {{"mape", m.mape}, {"within_10pct", m.within_10pct}, {"kendall_tau", m.kendall_tau}, {"spearman", m.spearman},
          {"n", m.n}};
}

}  // namespace hwnas
