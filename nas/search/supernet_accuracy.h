#pragma once
// Accuracy of a subnet from a trained elastic-mobile supernet: the subnet is extracted, its batch
// norm recalibrated on training batches (nas/bn_recalibration.h), and it is tested on a
// validation split: the last `val_images` images of the Fashion-MNIST training set, so that a
// search never looks at the test set (the final report tests the chosen subnets on it).
#include <memory>

#include "io/dataloader.h"
#include "nas/elastic_supernet.h"
#include "nas/search/evaluator.h"
#include "nas/train_network.h"

namespace hwnas {

struct SupernetAccuracyOptions {
  int64_t val_images = 2000;   // from the end of the training set
  int64_t recal_batches = 10;  // of `batch` training images (same batches for every subnet)
  int64_t batch = 128;
  uint64_t seed = 0;
  std::string data_dir;        // Fashion-MNIST (empty: the Debian package's folder)
};

class SupernetAccuracy : public AccuracyOracle {
 public:
  SupernetAccuracy(std::shared_ptr<ElasticMobileSupernet> net, const SupernetAccuracyOptions& o,
                   std::string checkpoint = "");
  double accuracy(const Arch& a) override;
  nlohmann::json config() const override;
  // Test-set accuracy (the report's number, never used by a search), recalibrated with
  // `recal_batches` batches.
  double test_accuracy(const Arch& a, int64_t recal_batches = 40);
  ElasticMobileSupernet& supernet() { return *net_; }
  const DatasetPair& data() const { return data_; }
  Dataset validation() const { return val_; }

 private:
  std::shared_ptr<ElasticMobileSupernet> net_;
  SupernetAccuracyOptions o_;
  std::string checkpoint_;
  DatasetPair data_;  // train without the validation tail
  Dataset val_;
  std::unique_ptr<DataLoader> recal_;
};

}  // namespace hwnas
