// See tools/report_svg.h.
#include "tools/report_svg.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace hwnas::report {

std::string xml_escape(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      case '\'': r += "&#39;"; break;
      default: r += ch;
    }
  }
  return r;
}

std::string short_num(double v) {
  if (std::abs(v) < 1e-12) return "0";
  return fmt::format("{:.4g}", v);
}

std::vector<double> nice_ticks(double lo, double hi, int n) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, n);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

namespace {

constexpr double kLeft = 72, kRight = 24, kTop = 52, kBottom = 52;

std::string text(double x, double y, std::string_view s, std::string_view attrs = "") {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" {}>{}</text>", x, y, attrs, xml_escape(s));
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void pad() {
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
      const double d = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1;
      lo -= d, hi += d;
    } else {
      const double d = (hi - lo) * 0.06;
      lo -= d, hi += d;
    }
  }
};

}  // namespace

std::string render_xy(const XYChart& c) {
  Range rx, ry;
  for (const Series& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) rx.add(s.x[i]), ry.add(s.y[i]);
  for (const RefLine& r : c.refs) (r.vertical ? rx : ry).add(r.at);
  rx.pad(), ry.pad();
  if (c.integer_x) rx.lo = std::floor(rx.lo), rx.hi = std::ceil(rx.hi);
  const double pw = c.width - kLeft - kRight, ph = c.height - kTop - kBottom;
  auto X = [&](double v) { return kLeft + (v - rx.lo) / (rx.hi - rx.lo) * pw; };
  auto Y = [&](double v) { return kTop + ph - (v - ry.lo) / (ry.hi - ry.lo) * ph; };

  std::string o = fmt::format(
      "<svg id=\"{}\" class=\"chart xy\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\">\n",
      xml_escape(c.id), c.width, c.height, c.width, c.height);
  o += "<title>" + xml_escape(c.title) + "</title>\n";
  o += text(kLeft, 20, c.title, "class=\"chart-title\"") + "\n";
  o += fmt::format("<rect class=\"plot-area\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
                   kLeft, kTop, pw, ph);
  // Ticks, grid lines and tick labels.
  std::vector<double> xt = nice_ticks(rx.lo, rx.hi, 7);
  if (c.integer_x) std::erase_if(xt, [](double v) { return std::abs(v - std::round(v)) > 1e-9; });
  for (double v : xt) {
    if (v < rx.lo || v > rx.hi) continue;
    o += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>", X(v), kTop, kTop + ph);
    o += fmt::format("<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>", X(v), kTop + ph, kTop + ph + 5);
    o += text(X(v), kTop + ph + 18, short_num(v), "text-anchor=\"middle\" class=\"tick-label\"") + "\n";
  }
  for (double v : nice_ticks(ry.lo, ry.hi, 6)) {
    if (v < ry.lo || v > ry.hi) continue;
    o += fmt::format("<line class=\"grid\" x1=\"{1:.1f}\" y1=\"{0:.1f}\" x2=\"{2:.1f}\" y2=\"{0:.1f}\" stroke=\"#e4e4e4\"/>", Y(v), kLeft, kLeft + pw);
    o += fmt::format("<line class=\"tick\" x1=\"{1:.1f}\" y1=\"{0:.1f}\" x2=\"{2:.1f}\" y2=\"{0:.1f}\" stroke=\"#333\"/>", Y(v), kLeft - 5, kLeft);
    o += text(kLeft - 8, Y(v) + 4, short_num(v), "text-anchor=\"end\" class=\"tick-label\"") + "\n";
  }
  o += text(kLeft + pw / 2, c.height - 10, c.x_label, "text-anchor=\"middle\" class=\"axis-label\"") + "\n";
  o += text(16, kTop + ph / 2, c.y_label,
            fmt::format("text-anchor=\"middle\" class=\"axis-label\" transform=\"rotate(-90 16 {:.1f})\"", kTop + ph / 2)) + "\n";
  // Reference lines.
  for (const RefLine& r : c.refs) {
    if (r.vertical)
      o += fmt::format("<line class=\"bound\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/>",
                       X(r.at), kTop, kTop + ph) + text(X(r.at) - 4, kTop + ph - 8, r.label, "text-anchor=\"end\" class=\"bound-label\" fill=\"#d62728\"") + "\n";
    else
      o += fmt::format("<line class=\"bound\" x1=\"{1:.1f}\" y1=\"{0:.1f}\" x2=\"{2:.1f}\" y2=\"{0:.1f}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/>",
                       Y(r.at), kLeft, kLeft + pw) + text(kLeft + pw - 4, Y(r.at) - 4, r.label, "text-anchor=\"end\" class=\"bound-label\" fill=\"#d62728\"") + "\n";
  }
  // Series, in order (later ones on top), and the legend along the top.
  double lx = kLeft;
  for (const Series& s : c.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    if (s.line && n > 1) {
      std::string pts;
      for (size_t i = 0; i < n; ++i) pts += fmt::format("{:.1f},{:.1f} ", X(s.x[i]), Y(s.y[i]));
      o += fmt::format("<polyline class=\"curve {}\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" opacity=\"{}\"/>\n",
                       xml_escape(s.cls), pts, xml_escape(s.color), s.opacity);
    }
    if (s.radius > 0)
      for (size_t i = 0; i < n; ++i)
        o += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" fill-opacity=\"{}\" stroke=\"{}\"/>\n",
                         xml_escape(s.cls), X(s.x[i]), Y(s.y[i]), s.radius, xml_escape(s.color), s.opacity, xml_escape(s.color));
    for (size_t i = 0; i < n && i < s.labels.size(); ++i)
      if (!s.labels[i].empty()) {
        const bool right = X(s.x[i]) > kLeft + pw * 0.6;  // keep the label inside the plot
        o += text(X(s.x[i]) + (right ? -10 : 10), Y(s.y[i]) + (Y(s.y[i]) < kTop + 20 ? 16 : -8), s.labels[i],
                  right ? "class=\"point-label\" font-weight=\"bold\" text-anchor=\"end\"" : "class=\"point-label\" font-weight=\"bold\"") + "\n";
      }
    if (!s.name.empty()) {
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"38\" r=\"5\" fill=\"{}\" fill-opacity=\"{}\"/>", lx + 5, xml_escape(s.color), std::max(0.4, s.opacity));
      o += text(lx + 14, 42, s.name, "class=\"legend\"") + "\n";
      lx += 24 + 7.0 * double(s.name.size());
    }
  }
  o += "</svg>\n";
  return o;
}

std::string render_bars(const BarChart& c) {
  const double row = 20, top = 40, bottom = 44, left = 170, right = 90;
  const double height = top + row * double(c.bars.size()) + bottom, pw = c.width - left - right;
  double hi = 0;
  for (const auto& b : c.bars) hi = std::max(hi, b.second);
  if (hi <= 0) hi = 1;
  std::vector<double> ticks = nice_ticks(0, hi, 6);
  if (ticks.size() > 1 && ticks.back() < hi) ticks.push_back(ticks.back() + (ticks[1] - ticks[0]));
  hi = std::max(hi, ticks.back());
  auto X = [&](double v) { return left + v / hi * pw; };
  std::string o = fmt::format(
      "<svg id=\"{}\" class=\"chart bars\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\">\n<title>{}</title>\n",
      xml_escape(c.id), c.width, height, c.width, height, xml_escape(c.title));
  o += text(left, 20, c.title, "class=\"chart-title\"") + "\n";
  const double axis_y = top + row * double(c.bars.size());
  for (double v : ticks) {
    o += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>", X(v), top, axis_y + 5);
    o += text(X(v), axis_y + 18, short_num(v), "text-anchor=\"middle\" class=\"tick-label\"") + "\n";
  }
  o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#333\"/>\n", left, axis_y, left + pw);
  o += text(left + pw / 2, height - 8, c.value_label, "text-anchor=\"middle\" class=\"axis-label\"") + "\n";
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const double y = top + row * double(i);
    o += text(left - 6, y + row * 0.7, c.bars[i].first, "text-anchor=\"end\" class=\"bar-label\"");
    o += fmt::format("<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>", left, y + 3,
                     std::max(0.0, X(c.bars[i].second) - left), row - 6, xml_escape(c.color));
    o += text(X(c.bars[i].second) + 4, y + row * 0.7, short_num(c.bars[i].second), "class=\"bar-value\"") + "\n";
  }
  o += "</svg>\n";
  return o;
}

std::string render_boxes(const std::string& id, const std::string& title, const std::vector<BoxRow>& rows, double width) {
  static const char* colors[] = {"#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1", "#d9d9d9"};
  const double row = 26, top = 34, left = 40, label_w = 210;
  const double height = top + row * double(rows.size()) + 10, box_max = width - left - label_w - 10;
  std::string o = fmt::format(
      "<svg id=\"{}\" class=\"chart boxes\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\">\n<title>{}</title>\n",
      xml_escape(id), width, height, width, height, xml_escape(title));
  o += text(left, 20, title, "class=\"chart-title\"") + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const BoxRow& r = rows[i];
    const double y = top + row * double(i), w = std::min(box_max, std::max(6.5 * double(r.detail.size()) + 16, box_max * std::clamp(r.width_frac, 0.0, 1.0)));
    const double cx = left + label_w + box_max / 2;
    o += text(left - 6, y + row * 0.65, std::to_string(i), "text-anchor=\"end\" class=\"tick-label\"");
    o += text(left, y + row * 0.65, r.label, "class=\"layer-type\" font-weight=\"bold\"");
    o += fmt::format("<rect class=\"layer\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" rx=\"4\" fill=\"{}\" stroke=\"#555\"/>",
                     cx - w / 2, y + 2, w, row - 4, colors[std::abs(r.group) % 6]);
    o += text(cx, y + row * 0.65, r.detail, "text-anchor=\"middle\" class=\"layer-detail\"") + "\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace hwnas::report
