#pragma once
// NN-Degree: FLASH's training-free topology metric (Li et al. 2021, "FLASH: Fast Neural
// Architecture Search with Hardware Optimization", section 3). The network is viewed as a graph
// whose nodes are channels (neurons of the feature maps) and whose links are the connections a
// layer makes between them; NN-Degree is the sum over the network's cells of each cell's
// average degree,
//   NN-Degree = sum_c  kbar_c,   kbar_c = |E_c| / |V_c|,
// so wider cells and cells with skip connections score higher. For FLASH's NAS-Bench-201 cell
// (n_c nodes of w_c channels, N_conv convolution edges of w_c x w_c links, N_skip identity edges
// of w_c links) this is kbar_c = (w_c N_conv + N_skip) / n_c.
//
// Our reconstruction for the layers of a fixed network (nn/network.h); the paper's exact text
// was not at hand, so this is written down here:
//  - every layer that maps channels to channels is one cell; its nodes are its input channels,
//    any hidden feature maps, and its output channels;
//  - conv / conv_bn_act / linear (groups g): c_in * c_out / g links (kernel size does not count:
//    the channel graph is the same for a 1x1 and a 5x5 convolution, as in FLASH);
//  - mbconv (c_in -> hid = c_in * e -> hid -> c_out): expand c_in*hid/g, depthwise hid,
//    project hid*c_out/g links, plus c_in links for the residual (stride 1, c_in == c_out);
//    nodes c_in + 2 hid + c_out. Split-Attention (radix r > 1) has r*hid split maps between:
//    r*hid depthwise links and r*hid links summing them (its attention FCs gate, they are not
//    counted);
//  - identity: a skip cell of c nodes in and c out, c links;
//  - element-wise layers (batch norm, activation, pooling, channel shuffle, dropout, global
//    pooling, flatten) keep each channel on its own node: no cell.
// `|E|/|V|` is the directed average (in- or out-) degree; the undirected convention 2|E|/|V|
// doubles every value, which a fitted predictor absorbs. The fixed stem and head add the same
// constant to every subnet of a space.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "nas/space.h"

namespace hwnas {

struct NnDegreeCell {
  size_t layer = 0;  // index in the layer list
  std::string type;
  double nodes = 0, edges = 0;
  double degree() const { return nodes > 0 ? edges / nodes : 0.0; }
};

// One entry per cell, in layer order (layers must be valid; see layers_cost).
std::vector<NnDegreeCell> nn_degree_cells(const Shape& input, const nlohmann::json& layers);
double nn_degree(const Shape& input, const nlohmann::json& layers);
double nn_degree(const NetworkSpec& net);
double nn_degree(const SearchSpace& s, const Arch& a);  // of the subnet's fixed network

}  // namespace hwnas
