// Analytic cost of a subnet's layers: multiply-adds, parameters, activation memory.
#include "nas/space.h"

namespace hwnas {

using nlohmann::json;

SubnetCost layers_cost(const Shape& input, const json& layers, std::vector<Shape>* outputs) {
  HWNAS_CHECK(input.size() == 3, "layers_cost: input must be [C, H, W], got {}", fmt::join(input, ", "));
  int64_t c = input[0], h = input[1], w = input[2];
  SubnetCost r;
  auto output = [&](int64_t elems) {
    const int64_t bytes = elems * int64_t(sizeof(float));
    r.activation_bytes += bytes;
    r.peak_activation_bytes = std::max(r.peak_activation_bytes, bytes);
  };
  auto resize = [&](int64_t k, int64_t s, int64_t p) {
    h = (h + 2 * p - k) / s + 1;
    w = (w + 2 * p - k) / s + 1;
  };
  for (const json& l : layers) {
    const std::string type = l.at("type").get<std::string>();
    if (type == "conv_bn_act" || type == "conv") {
      const int64_t out = l.at("out"), k = l.at("kernel"), s = l.value("stride", 1), g = l.value("groups", 1);
      resize(k, s, type == "conv" ? l.value("padding", k / 2) : k / 2);
      r.macs += h * w * out * (c / g) * k * k;
      r.params += out * (c / g) * k * k;
      r.params += type == "conv_bn_act" ? 2 * out : l.value("bias", false) ? out : 0;
      output(out * h * w);
      c = out;
    } else if (type == "mbconv") {
      const int64_t out = l.at("out"), k = l.at("kernel"), s = l.value("stride", 1), e = l.at("expand");
      const int64_t g = l.value("groups", 1), radix = l.value("radix", 1), hid = c * e;
      r.macs += h * w * hid * (c / g);  // expand 1x1
      r.params += hid * (c / g) + 2 * hid;
      output(hid * h * w);
      if (g > 1) output(hid * h * w);  // channel shuffle
      resize(k, s, k / 2);
      // Depthwise kxk with `radix` filters per channel (Split-Attention's splits), BN, act.
      r.macs += h * w * hid * radix * k * k;
      r.params += hid * radix * k * k + 2 * hid * radix;
      output(hid * radix * h * w);
      if (radix > 1) {
        // ResNeSt: sum the splits, global pool, fc1 (bias) + BN + ReLU, fc2 (bias), softmax over
        // the splits, attention-weighted sum of the splits.
        const int64_t a = split_attention_width(hid, radix);
        r.macs += hid * a + a * hid * radix;
        r.params += hid * a + a + 2 * a + a * hid * radix + hid * radix;
        output(hid * h * w);  // sum of the splits
        output(hid);          // pooled
        output(a);            // fc1
        output(hid * radix);  // fc2
        output(hid * radix);  // softmax
        output(hid * h * w);  // weighted sum
      }
      r.macs += h * w * out * (hid / g);  // project 1x1 (the residual add is fused into it)
      r.params += out * (hid / g) + 2 * out;
      output(out * h * w);
      c = out;
    } else if (type == "batch_norm") {
      r.params += 2 * c;
      output(c * h * w);
    } else if (type == "activation" || type == "channel_shuffle") {
      output(c * h * w);
    } else if (type == "max_pool" || type == "avg_pool") {
      const int64_t k = l.value("kernel", 2), s = l.value("stride", k), p = l.value("padding", 0);
      resize(k, s, p);
      output(c * h * w);
    } else if (type == "global_avg_pool") {
      h = w = 1;
      output(c);
    } else if (type == "flatten") {
      c *= h * w;
      h = w = 1;
    } else if (type == "linear") {
      const int64_t out = l.at("out");
      r.macs += c * out;
      r.params += c * out + (l.value("bias", true) ? out : 0);
      output(out);
      c = out;
    } else if (type != "identity" && type != "dropout") {
      fail("layers_cost: unknown layer type \"{}\"", type);
    }
    if (outputs) outputs->push_back({c, h, w});
  }
  return r;
}

}  // namespace hwnas
