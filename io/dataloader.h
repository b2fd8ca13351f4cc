#pragma once
// Batches over a Dataset: per-epoch shuffle, optional augmentation (random crop with zero
// padding, horizontal flip) and per-channel normalisation, produced on a background thread
// one batch ahead of training (a queue of at most 2 batches).
//
// Determinism: the order of epoch e is a function of (seed, e) alone, and the augmentation
// draws of batch b of epoch e come from a generator seeded with (seed, e, b). So a resumed run
// that calls start_epoch(e, b) sees exactly the batches an uninterrupted run saw, and prefetch
// on or off gives the same batches.
//
//   DataLoader loader(train_set, {.batch_size = 128, .shuffle = true, .seed = 1});
//   for (int64_t e = 0; e < epochs; ++e) {
//     loader.start_epoch(e);
//     while (auto b = loader.next()) train_step(b->images, b->labels);
//   }
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "io/dataset.h"

namespace hwnas {

struct Batch;

struct DataLoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = false;
  bool drop_last = false;  // drop the last, smaller batch
  uint64_t seed = 0;
  bool prefetch = true;       // build the next batch on a background thread
  int64_t crop_padding = 0;   // random crop of the original size from the image padded with p zeros (0: off)
  bool hflip = false;         // mirror left-right with probability 1/2
  std::vector<float> mean;    // per-channel normalisation (x - mean) / std after augmentation;
  std::vector<float> std;     // both empty: off
  MemoryFormat format = MemoryFormat::channels_last;  // layout of Batch::images
  // Runs on the worker after each batch is built (custom augmentation, checks); must be
  // deterministic for the determinism above to hold. Its exceptions surface in next().
  std::function<void(Batch&)> transform;
};

struct Batch {
  Tensor images;  // f32 [B,C,H,W]
  Tensor labels;  // i64 [B]
  int64_t epoch = 0;
  int64_t index = 0;  // batch number within the epoch
};

class DataLoader {
 public:
  DataLoader(Dataset data, DataLoaderOptions opts);
  ~DataLoader();  // stops and joins the worker
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  int64_t samples_per_epoch() const;  // after drop_last

  // Starts (or restarts) epoch `epoch` at batch `first_batch` (for resuming); any batches
  // still queued from an earlier epoch are discarded.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch, or nullopt at the end of the epoch. An error in the worker (e.g. a bad
  // option found late) is rethrown here, after the batches built before it.
  std::optional<Batch> next();

  int64_t epoch() const { return epoch_; }
  int64_t position() const { return position_; }  // batches handed out in this epoch, resume point
  // The sample order of an epoch (identity when not shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  const Dataset& dataset() const { return data_; }
  const DataLoaderOptions& options() const { return opts_; }

 private:
  Batch make_batch(int64_t index) const;
  void stop_worker();
  void worker_main(int64_t first_batch);

  Dataset data_;
  DataLoaderOptions opts_;
  int64_t epoch_ = -1, position_ = 0;
  std::vector<int64_t> order_;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false, done_ = false;
};

}  // namespace hwnas
