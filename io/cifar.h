#pragma once
// CIFAR-10 / CIFAR-100 binary versions. A record is the label byte(s) then 3072 pixel bytes
// (1024 red, 1024 green, 1024 blue: already CHW). Errors name the file: a size that is not a
// whole number of records, an empty file, a label out of range.
#include <string>
#include <vector>

#include "io/dataset.h"

namespace hwnas {

// Concatenates CIFAR-10 batch files (1 label byte per record, 10 classes).
Dataset load_cifar10_files(const std::vector<std::string>& files, const std::string& name = "cifar10");
// "<dir>/data_batch_{1..5}.bin" (train) or "<dir>/test_batch.bin" (test), dir being e.g.
// "cifar-10-batches-bin".
Dataset load_cifar10(const std::string& dir, bool train);

// CIFAR-100 file (coarse label byte, fine label byte per record): 100 fine classes, or the
// 20 coarse superclasses when `coarse`.
Dataset load_cifar100_file(const std::string& file, bool coarse = false, const std::string& name = "cifar100");
// "<dir>/train.bin" or "<dir>/test.bin", dir being e.g. "cifar-100-binary".
Dataset load_cifar100(const std::string& dir, bool train, bool coarse = false);

}  // namespace hwnas
