#include "io/dataloader.h"

#include <numeric>

namespace hwnas {

namespace {

constexpr size_t kQueueDepth = 2;

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64 finaliser over h ^ v: nearby (seed, epoch, batch) triples give unrelated streams.
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t kShuffleSalt = 0x5348554646ULL, kAugmentSalt = 0x4155474dULL;

}  // namespace

DataLoader::DataLoader(Dataset data, DataLoaderOptions opts) : data_(std::move(data)), opts_(std::move(opts)) {
  const std::string& n = data_.name();
  HWNAS_CHECK(opts_.batch_size > 0, "DataLoader({}): batch_size {} must be positive", n, opts_.batch_size);
  HWNAS_CHECK(opts_.crop_padding >= 0, "DataLoader({}): crop_padding {} must be >= 0", n, opts_.crop_padding);
  HWNAS_CHECK(opts_.mean.size() == opts_.std.size(), "DataLoader({}): {} mean values but {} std values", n,
              opts_.mean.size(), opts_.std.size());
  HWNAS_CHECK(opts_.mean.empty() || static_cast<int64_t>(opts_.mean.size()) == data_.channels(),
              "DataLoader({}): {} mean/std values for {} channels", n, opts_.mean.size(), data_.channels());
  for (float s : opts_.std) HWNAS_CHECK(s > 0.f, "DataLoader({}): std {} must be positive", n, s);
  HWNAS_CHECK(opts_.format != MemoryFormat::preserve, "DataLoader({}): format must be contiguous or channels_last", n);
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = data_.size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t DataLoader::samples_per_epoch() const {
  return opts_.drop_last ? num_batches() * opts_.batch_size : data_.size();
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(data_.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  if (opts_.shuffle) {
    Generator g(mix(mix(opts_.seed, kShuffleSalt), static_cast<uint64_t>(epoch)));
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
      std::swap(order[i], order[g.below(static_cast<uint64_t>(i) + 1)]);
  }
  return order;
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  queue_.clear();
  error_ = nullptr;
  stop_ = false;
  done_ = false;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  HWNAS_CHECK(epoch >= 0, "DataLoader({}): epoch {} must be >= 0", data_.name(), epoch);
  HWNAS_CHECK(first_batch >= 0 && first_batch <= num_batches(),
              "DataLoader({}): first_batch {} out of range [0, {}]", data_.name(), first_batch, num_batches());
  stop_worker();
  epoch_ = epoch;
  position_ = first_batch;
  order_ = epoch_order(epoch);
  if (opts_.prefetch) worker_ = std::thread([this, first_batch] { worker_main(first_batch); });
}

void DataLoader::worker_main(int64_t first_batch) {
  try {
    for (int64_t b = first_batch; b < num_batches(); ++b) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_) return;
      }
      Batch batch = make_batch(b);
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || queue_.size() < kQueueDepth; });
      if (stop_) return;
      queue_.push_back(std::move(batch));
      lk.unlock();
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

std::optional<Batch> DataLoader::next() {
  HWNAS_CHECK(epoch_ >= 0, "DataLoader({}): next() before start_epoch()", data_.name());
  if (!opts_.prefetch) {
    if (position_ >= num_batches()) return std::nullopt;
    Batch b = make_batch(position_);
    ++position_;
    return b;
  }
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return !queue_.empty() || done_; });
  if (!queue_.empty()) {
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    cv_.notify_all();
    ++position_;
    return b;
  }
  if (error_) {
    // Rethrown once; the epoch then reads as finished.
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return std::nullopt;
}

Batch DataLoader::make_batch(int64_t index) const {
  const int64_t n = data_.size(), bs = opts_.batch_size;
  const int64_t start = index * bs, count = std::min(bs, n - start);
  const int64_t C = data_.channels(), H = data_.height(), W = data_.width(), p = opts_.crop_padding;
  Batch out;
  out.epoch = epoch_;
  out.index = index;
  out.images = Tensor::empty({count, C, H, W}, DType::f32, opts_.format);
  out.labels = Tensor::empty({count}, DType::i64);
  float* dst = out.images.data<float>();
  int64_t* lab = out.labels.data<int64_t>();
  const Shape& st = out.images.strides();
  const bool norm = !opts_.mean.empty();

  Generator g(mix(mix(mix(opts_.seed, kAugmentSalt), static_cast<uint64_t>(epoch_)), static_cast<uint64_t>(index)));
  std::vector<float> img(C * H * W);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t s = order_[start + i];
    data_.read_image(s, img.data());
    lab[i] = data_.label(s);
    // Draw order per sample: crop offsets (dy, dx) in [0, 2p], then the flip.
    int64_t dy = p, dx = p;
    if (p > 0) {
      dy = static_cast<int64_t>(g.below(2 * p + 1));
      dx = static_cast<int64_t>(g.below(2 * p + 1));
    }
    const bool flip = opts_.hflip && g.below(2) == 1;
    for (int64_t c = 0; c < C; ++c) {
      const float m = norm ? opts_.mean[c] : 0.f, inv = norm ? 1.f / opts_.std[c] : 1.f;
      const float* plane = img.data() + c * H * W;
      float* o = dst + i * st[0] + c * st[1];
      for (int64_t y = 0; y < H; ++y) {
        const int64_t sy = y + dy - p;
        for (int64_t x = 0; x < W; ++x) {
          // Crop, then flip: the flipped crop's column x is the crop's column W-1-x.
          const int64_t sx = (flip ? W - 1 - x : x) + dx - p;
          const float v = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? plane[sy * W + sx] : 0.f;
          o[y * st[2] + x * st[3]] = (v - m) * inv;
        }
      }
    }
  }
  if (opts_.transform) opts_.transform(out);
  return out;
}

}  // namespace hwnas
