#include "nas/search/supernet_accuracy.h"

#include "nas/bn_recalibration.h"
#include "nas/supernet_train.h"
#include "tensor/error.h"

namespace hwnas {

SupernetAccuracy::SupernetAccuracy(std::shared_ptr<ElasticMobileSupernet> net, const SupernetAccuracyOptions& o,
                                   std::string checkpoint)
    : net_(std::move(net)), o_(o), checkpoint_(std::move(checkpoint)) {
  data_ = load_dataset_pair("fashion-mnist", o.data_dir);
  const int64_t n = data_.train.size();
  if (o.val_images <= 0 || o.val_images + o.batch > n)
    fail("supernet accuracy: {} validation images leave less than a batch of {} of the {} training images",
         o.val_images, o.batch, n);
  val_ = data_.train.slice(n - o.val_images, o.val_images);
  data_.train = data_.train.slice(0, n - o.val_images);
  recal_ = std::make_unique<DataLoader>(data_.train, recalibration_loader_options(data_, o.batch, o.seed + 2));
}

double SupernetAccuracy::accuracy(const Arch& a) {
  auto subnet = extract_subnet(*net_, a);
  recalibrate_bn(*subnet, *recal_, o_.recal_batches);
  return evaluate_accuracy(*subnet, val_, data_.mean, data_.std);
}

double SupernetAccuracy::test_accuracy(const Arch& a, int64_t recal_batches) {
  auto subnet = extract_subnet(*net_, a);
  recalibrate_bn(*subnet, *recal_, recal_batches);
  return evaluate_accuracy(*subnet, data_.test, data_.mean, data_.std);
}

nlohmann::json SupernetAccuracy::config() const {
  return {{"kind", "supernet"}, {"checkpoint", checkpoint_}, {"val_images", o_.val_images},
          {"recal_batches", o_.recal_batches}, {"batch", o_.batch}, {"seed", o_.seed}};
}

}  // namespace hwnas
