#pragma once
// A tiny SVG chart builder for `hwnas report`: scatter/line charts and horizontal bar charts with
// axes, ticks and labels, as inline <svg> elements (no scripts, fonts or external resources).
// Every text that goes into the markup is escaped.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hwnas::report {

// &, <, >, " and ' as entities (safe in element text and attribute values).
std::string xml_escape(std::string_view s);
// A number as a short label ("0.25", "1.5e+03").
std::string short_num(double v);
// About `n` round tick positions covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int n = 6);

struct Series {
  std::string name;   // legend entry (empty: none)
  std::string cls;    // CSS class of its circles / polyline
  std::string color = "#1f77b4";
  std::vector<double> x, y;
  std::vector<std::string> labels;  // optional text beside each point
  bool line = false;                // a polyline through the points (in the given order)
  double radius = 3;                // 0: no circles
  double opacity = 1;
};

// A vertical (x = at) or horizontal (y = at) reference line, e.g. a constraint bound.
struct RefLine {
  bool vertical = true;
  double at = 0;
  std::string label;
};

struct XYChart {
  std::string id, title, x_label, y_label;
  double width = 760, height = 440;
  std::vector<Series> series;
  std::vector<RefLine> refs;
  bool integer_x = false;  // ticks on whole numbers only (epochs)
};
std::string render_xy(const XYChart& c);

struct BarChart {
  std::string id, title, value_label;
  std::vector<std::pair<std::string, double>> bars;  // label, value (>= 0)
  double width = 760;
  std::string color = "#2ca02c";
};
std::string render_bars(const BarChart& c);

// A column of labelled boxes, one per row (an architecture drawn layer by layer): `width_frac`
// in (0, 1] scales each box, `group` picks its colour.
struct BoxRow {
  std::string label, detail;
  double width_frac = 1;
  int group = 0;
};
std::string render_boxes(const std::string& id, const std::string& title, const std::vector<BoxRow>& rows,
                         double width = 760);

}  // namespace hwnas::report
