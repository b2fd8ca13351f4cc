#include "io/dataloader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>

namespace hwnas {
namespace {

// N samples of shape [1,1,1] whose single pixel is the sample index; label = index % 5.
Dataset indexed(int64_t n) {
  std::vector<float> v(n);
  std::vector<int64_t> l(n);
  for (int64_t i = 0; i < n; ++i) v[i] = float(i), l[i] = i % 5;
  return Dataset::from_tensors("indexed", Tensor::from_vector(v, {n, 1, 1, 1}), Tensor::from_vector_i64(l, {n}), 5);
}

struct Seen {
  std::vector<int64_t> ids;  // sample ids in delivery order
  std::vector<int64_t> sizes;
};

Seen run_epoch(DataLoader& dl, int64_t epoch, int64_t first = 0) {
  Seen s;
  dl.start_epoch(epoch, first);
  while (auto b = dl.next()) {
    EXPECT_EQ(b->epoch, epoch);
    EXPECT_EQ(b->images.size(0), b->labels.size(0));
    auto px = b->images.to_vector();
    auto lb = b->labels.to_vector_i64();
    for (size_t i = 0; i < px.size(); ++i) {
      s.ids.push_back(int64_t(px[i]));
      EXPECT_EQ(lb[i], int64_t(px[i]) % 5);  // labels travel with their images
    }
    s.sizes.push_back(b->images.size(0));
  }
  return s;
}

TEST(DataLoader, EverySampleOncePerEpoch) {
  for (bool prefetch : {true, false}) {
    DataLoader dl(indexed(23), {.batch_size = 5, .shuffle = true, .seed = 3, .prefetch = prefetch});
    EXPECT_EQ(dl.num_batches(), 5);
    for (int64_t e = 0; e < 3; ++e) {
      Seen s = run_epoch(dl, e);
      EXPECT_EQ(s.sizes, (std::vector<int64_t>{5, 5, 5, 5, 3}));
      std::vector<int64_t> sorted = s.ids;
      std::sort(sorted.begin(), sorted.end());
      for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(sorted[i], i);
      EXPECT_EQ(s.ids, dl.epoch_order(e));
      EXPECT_EQ(dl.position(), 5);
    }
  }
}

TEST(DataLoader, DropLast) {
  DataLoader dl(indexed(23), {.batch_size = 5, .shuffle = true, .drop_last = true, .seed = 1});
  EXPECT_EQ(dl.num_batches(), 4);
  EXPECT_EQ(dl.samples_per_epoch(), 20);
  Seen s = run_epoch(dl, 0);
  EXPECT_EQ(s.sizes, (std::vector<int64_t>{5, 5, 5, 5}));
  EXPECT_EQ(std::set<int64_t>(s.ids.begin(), s.ids.end()).size(), 20u);
}

TEST(DataLoader, NoShuffleKeepsOrder) {
  DataLoader dl(indexed(7), {.batch_size = 3});
  Seen s = run_epoch(dl, 4);
  EXPECT_EQ(s.ids, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(DataLoader, SeedAndEpochDetermineOrder) {
  DataLoader a(indexed(50), {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader b(indexed(50), {.batch_size = 8, .shuffle = true, .seed = 7, .prefetch = false});
  DataLoader c(indexed(50), {.batch_size = 8, .shuffle = true, .seed = 8});
  const auto a0 = run_epoch(a, 0).ids, a1 = run_epoch(a, 1).ids;
  EXPECT_EQ(a0, run_epoch(b, 0).ids);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, run_epoch(c, 0).ids);
  // The order of an epoch does not depend on what ran before it (resume at an epoch boundary).
  EXPECT_EQ(run_epoch(b, 1).ids, a1);
  EXPECT_EQ(run_epoch(a, 0).ids, a0);
}

TEST(DataLoader, ResumeMidEpochMatches) {
  DataLoaderOptions o{.batch_size = 4, .shuffle = true, .seed = 11, .crop_padding = 1, .hflip = true};
  Generator g(5);
  Dataset d = Dataset::from_tensors("r", Tensor::uniform({30, 2, 3, 3}, g),
                                    Tensor::zeros({30}, DType::i64), 1);
  DataLoader full(d, o), resumed(d, o);
  full.start_epoch(2);
  std::vector<Batch> all;
  while (auto b = full.next()) all.push_back(*b);
  resumed.start_epoch(2, 3);
  EXPECT_EQ(resumed.position(), 3);
  for (size_t i = 3; i < all.size(); ++i) {
    auto b = resumed.next();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->index, int64_t(i));
    EXPECT_EQ(b->images.to_vector(), all[i].images.to_vector()) << i;
  }
  EXPECT_FALSE(resumed.next());
}

TEST(DataLoader, WorkerExceptionReachesConsumerAfterEarlierBatches) {
  std::atomic<int> built{0};
  DataLoaderOptions o{.batch_size = 2};
  o.transform = [&](Batch& b) {
    ++built;
    if (b.index == 2) throw Error("transform: batch 2 is bad");
  };
  DataLoader dl(indexed(10), o);
  dl.start_epoch(0);
  EXPECT_EQ(dl.next()->index, 0);
  EXPECT_EQ(dl.next()->index, 1);
  try {
    dl.next();
    FAIL() << "expected the worker's error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "transform: batch 2 is bad");
  }
  EXPECT_FALSE(dl.next());
  EXPECT_EQ(built.load(), 3);  // the worker stopped at the error
  // A new epoch starts cleanly, and stops again at batch 2.
  dl.start_epoch(1);
  EXPECT_EQ(dl.next()->index, 0);
}

TEST(DataLoader, DestructorStopsBlockedWorker) {
  for (int i = 0; i < 20; ++i) {
    DataLoader dl(indexed(100), {.batch_size = 1, .shuffle = true});
    dl.start_epoch(0);
    if (i % 2) dl.next();
    // The worker is blocked on a full queue here; the destructor must not hang.
  }
  DataLoader never_started(indexed(3), {});
  EXPECT_THROW(never_started.next(), Error);
}

// Independent reference: pad with p zeros, cut the HxW window at (dy, dx), mirror if flip.
std::vector<float> reference(const std::vector<float>& img, int C, int H, int W, int p, int dy, int dx, bool flip) {
  const int PH = H + 2 * p, PW = W + 2 * p;
  std::vector<float> padded(C * PH * PW, 0.f), out(C * H * W);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) padded[(c * PH + y + p) * PW + x + p] = img[(c * H + y) * W + x];
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) out[(c * H + y) * W + x] = padded[(c * PH + y + dy) * PW + x + dx];
  if (flip)
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y) std::reverse(out.begin() + (c * H + y) * W, out.begin() + (c * H + y + 1) * W);
  return out;
}

TEST(DataLoader, CropAndFlipMatchReference) {
  const int C = 2, H = 3, W = 4, p = 2;
  std::vector<float> img(C * H * W);
  for (size_t i = 0; i < img.size(); ++i) img[i] = 1.f + float(i);
  Dataset d = Dataset::from_tensors("tiny", Tensor::from_vector(img, {1, C, H, W}), Tensor::zeros({1}, DType::i64), 1);
  DataLoader dl(d, {.batch_size = 1, .seed = 2, .crop_padding = p, .hflip = true, .format = MemoryFormat::contiguous});
  std::set<std::tuple<int, int, bool>> variants;
  for (int e = 0; e < 200; ++e) {
    dl.start_epoch(e);
    auto b = dl.next();
    ASSERT_TRUE(b);
    ASSERT_EQ(b->images.shape(), (Shape{1, C, H, W}));
    const auto got = b->images.to_vector();
    bool matched = false;
    for (int dy = 0; dy <= 2 * p && !matched; ++dy)
      for (int dx = 0; dx <= 2 * p && !matched; ++dx)
        for (bool flip : {false, true})
          if (got == reference(img, C, H, W, p, dy, dx, flip)) {
            variants.insert({dy, dx, flip});
            matched = true;
            break;
          }
    ASSERT_TRUE(matched) << "epoch " << e << ": output is no padded crop (flipped or not) of the image";
  }
  // 50 possible (dy, dx, flip): 200 draws see most of them, both flips and off-centre crops.
  EXPECT_GT(variants.size(), 35u);
  EXPECT_TRUE(variants.count({p, p, true}) + variants.count({p, p, false}) > 0);
}

TEST(DataLoader, FlipOnlyMirrorsRows) {
  Dataset d = Dataset::from_tensors("row", Tensor::from_vector({1, 2, 3}, {1, 1, 1, 3}), Tensor::zeros({1}, DType::i64), 1);
  DataLoader dl(d, {.batch_size = 1, .hflip = true});
  std::set<std::vector<float>> seen;
  for (int e = 0; e < 40; ++e) {
    dl.start_epoch(e);
    seen.insert(dl.next()->images.to_vector());
  }
  EXPECT_EQ(seen, (std::set<std::vector<float>>{{1, 2, 3}, {3, 2, 1}}));
}

TEST(DataLoader, NormalizationAndLayout) {
  // u8 pixels 0 and 255 in channel 0, 51 in channel 1 and 2.
  Dataset d = Dataset::from_u8("rgb", 3, 1, 2, {0, 255, 51, 51, 51, 51, 255, 0, 51, 51, 51, 51}, {0, 1}, 2);
  DataLoader dl(d, {.batch_size = 2, .mean = {0.5f, 0.2f, 0.1f}, .std = {0.5f, 0.1f, 0.2f}});
  dl.start_epoch(0);
  auto b = dl.next();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->images.is_channels_last());
  EXPECT_EQ(b->labels.dtype(), DType::i64);
  const auto v = b->images.to_vector();
  const std::vector<float> want{-1, 1, 0, 0, 0.5f, 0.5f, 1, -1, 0, 0, 0.5f, 0.5f};
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], want[i], 1e-5f) << i;
  EXPECT_EQ(b->labels.to_vector_i64(), (std::vector<int64_t>{0, 1}));
}

TEST(DataLoader, BadOptions) {
  EXPECT_THROW(DataLoader(indexed(4), {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(indexed(4), {.mean = {0.5f, 0.5f}, .std = {1.f, 1.f}}), Error);
  EXPECT_THROW(DataLoader(indexed(4), {.mean = {0.5f}, .std = {0.f}}), Error);
  EXPECT_THROW(DataLoader(indexed(4), {.crop_padding = -1}), Error);
  DataLoader dl(indexed(4), {.batch_size = 2});
  EXPECT_THROW(dl.start_epoch(0, 3), Error);
}

}  // namespace
}  // namespace hwnas
