#include "nas/bn_recalibration.h"

#include <vector>

#include "nn/layers.h"
#include "tensor/error.h"

namespace hwnas {

namespace {
void collect_bns(Module& m, std::vector<BatchNorm2d*>& out) {
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&m)) out.push_back(bn);
  for (auto& [name, child] : m.children()) collect_bns(*child, out);
}
}  // namespace

int64_t recalibrate_bn(Module& net, DataLoader& loader, int64_t batches, int64_t epoch) {
  if (batches <= 0) fail("recalibrate_bn: batches must be positive, got {}", batches);
  std::vector<BatchNorm2d*> bns;
  collect_bns(net, bns);
  std::vector<float> momenta;
  for (BatchNorm2d* bn : bns) {
    momenta.push_back(bn->momentum);
    bn->running_mean.zero_();
    bn->running_var.fill_(1.f);
  }
  const bool was_training = net.is_training();
  net.train();
  NoGradGuard ng;
  loader.start_epoch(epoch);
  int64_t used = 0;
  while (used < batches) {
    auto b = loader.next();
    if (!b) break;
    // Momentum 1/(i+1) makes the running value the plain average of the i+1 batch statistics.
    for (BatchNorm2d* bn : bns) bn->momentum = 1.f / static_cast<float>(used + 1);
    net.forward(Variable(b->images));
    ++used;
  }
  for (size_t i = 0; i < bns.size(); ++i) bns[i]->momentum = momenta[i];
  net.train(was_training);
  if (used == 0) fail("recalibrate_bn: the loader gave no batch");
  return used;
}

}  // namespace hwnas
