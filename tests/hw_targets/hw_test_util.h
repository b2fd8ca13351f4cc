#pragma once
// Helpers shared by the hardware-target tests.
#include <gtest/gtest.h>

#include <string>

#include "hw_targets/onnxruntime_runner.h"
#include "nn/network.h"

// Skips a test that needs node and onnxruntime-node (tools/setup.sh installs them), saying why.
#define SKIP_WITHOUT_ORT()                                                                   \
  do {                                                                                       \
    std::string why;                                                                         \
    if (!hwnas::onnxruntime_available(&why)) GTEST_SKIP() << "ONNX Runtime not available: " << why; \
  } while (0)

namespace hwnas::test {

// conv 3->4 k3 on 8x8, global pool, linear 4->2: small enough to cost by hand.
inline NetworkSpec tiny_net() {
  using nlohmann::json;
  return parse_network_spec(json{{"name", "tiny"},
                                 {"input", {3, 8, 8}},
                                 {"classes", 2},
                                 {"layers",
                                  {{{"type", "conv_bn_act"}, {"out", 4}, {"kernel", 3}, {"stride", 1}},
                                   {{"type", "global_avg_pool"}},
                                   {{"type", "linear"}, {"out", 2}}}}},
                            "tiny");
}

}  // namespace hwnas::test
