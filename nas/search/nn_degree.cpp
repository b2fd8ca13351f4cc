#include "nas/search/nn_degree.h"

namespace hwnas {

using nlohmann::json;

std::vector<NnDegreeCell> nn_degree_cells(const Shape& input, const json& layers) {
  std::vector<Shape> outs;
  layers_cost(input, layers, &outs);  // the channel count after every layer
  std::vector<NnDegreeCell> cells;
  double cin = static_cast<double>(input.at(0));
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& l = layers[i];
    const std::string type = l.at("type").get<std::string>();
    const double cout = static_cast<double>(outs.at(i).at(0));
    const double g = static_cast<double>(l.value("groups", int64_t{1}));
    NnDegreeCell c{i, type, 0, 0};
    if (type == "conv" || type == "conv_bn_act" || type == "linear") {
      c.nodes = cin + cout;
      c.edges = cin * cout / g;
    } else if (type == "mbconv") {
      const double hid = cin * static_cast<double>(l.at("expand").get<int64_t>());
      const double r = static_cast<double>(l.value("radix", int64_t{1}));
      const bool residual = l.value("stride", int64_t{1}) == 1 && cin == cout;
      c.nodes = cin + 2 * hid + cout + (r > 1 ? r * hid : 0.0);
      c.edges = cin * hid / g + (r > 1 ? 2 * r * hid : hid) + hid * cout / g + (residual ? cin : 0.0);
    } else if (type == "identity") {
      c.nodes = 2 * cin;
      c.edges = cin;
    }
    if (c.nodes > 0) cells.push_back(c);
    cin = cout;
  }
  return cells;
}

double nn_degree(const Shape& input, const json& layers) {
  double sum = 0;
  for (const NnDegreeCell& c : nn_degree_cells(input, layers)) sum += c.degree();
  return sum;
}

double nn_degree(const NetworkSpec& net) { return nn_degree(net.input, net.layers); }

double nn_degree(const SearchSpace& s, const Arch& a) { return nn_degree(s.input, arch_layers(s, a)); }

}  // namespace hwnas
