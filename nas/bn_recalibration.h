#pragma once
// Batch-norm recalibration of a subnet: the running statistics a supernet accumulated belong to
// the mix of subnets it trained, not to any one of them, so before a subnet is evaluated its
// statistics are recomputed from scratch on training batches (OFA, BigNAS).
#include <cstdint>

#include "io/dataloader.h"
#include "nn/module.h"

namespace hwnas {

// Resets the running mean/var of every BatchNorm2d in `net` and sets them to the exact average
// of the per-batch statistics of `batches` batches of `loader`'s epoch `epoch` (a cumulative
// average, like PyTorch's momentum=None), running the forward in training mode without
// gradients. Restores each layer's momentum and the net's train/eval mode. Returns the number
// of batches used (fewer when the epoch is shorter).
int64_t recalibrate_bn(Module& net, DataLoader& loader, int64_t batches, int64_t epoch = 0);

}  // namespace hwnas
