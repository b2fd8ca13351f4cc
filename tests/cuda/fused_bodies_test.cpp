// The per-thread bodies of the fused CUDA kernels (cuda/fused_bodies.h, cuda/optim.h), run on
// the host the way the kernels run them (grid-stride loops, warps emulated lane by lane), against
// the CPU ops and optimizers. Runs everywhere: it checks what each fused kernel computes without
// a GPU; the CPU-vs-CUDA tests (ops_cuda_test, train_cuda_test) check the launches on one.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda/fused_bodies.h"
#include "cuda/optim.h"
#include "nn/optim.h"
#include "ops/bypass.h"
#include "ops/mixed_op.h"
#include "ops/ordered_dropout.h"
#include "ops/split_attention.h"
#include "ops/split_attention_args.h"
#include "ops/width_mask_args.h"
#include "tests/test_util.h"

namespace hwnas {
namespace {

TEST(FusedBodies, WeightedSumMatchesTheCpuOp) {
  const Shape shape = {3, 5, 4, 4};
  std::vector<Variable> xs;
  for (int m = 0; m < 3; ++m) xs.push_back(test::param(test::randn(shape, 10 + m)));
  Variable w(Tensor::from_vector({0.2f, -0.7f, 1.3f}, {3}), true);
  Variable y = weighted_sum(xs, w);
  Tensor gy = test::randn(shape, 20);
  y.backward(gy);

  const int64_t n = shape_numel(shape);
  std::vector<Tensor> gx(3);
  cuda::WeightedSumArgs a;
  a.k = 3;
  a.n = n;
  for (int m = 0; m < 3; ++m) {
    a.x[m] = xs[m].data().data<float>();
    a.w[m] = w.data().to_vector()[m];
    gx[m] = Tensor::zeros(shape);
    a.gx[m] = gx[m].data<float>();
  }
  Tensor out = Tensor::zeros(shape);
  a.out = out.data<float>();
  a.gy = gy.data<float>();
  std::vector<float> dots(3, 0.f);
  for (int64_t i = 0; i < n; ++i) {
    a.out[i] = cuda::weighted_sum_at(a, i);
    cuda::weighted_sum_backward_at(a, i, dots.data());
  }
  EXPECT_TRUE(test::all_close(out, y.data(), 1e-6f, 1e-6f));
  for (int m = 0; m < 3; ++m) EXPECT_TRUE(test::all_close(gx[m], xs[m].grad(), 1e-6f, 1e-6f)) << "candidate " << m;
  EXPECT_TRUE(test::all_close(Tensor::from_vector(dots, {3}), w.grad(), 1e-3f, 1e-4f)) << "weights' gradient";
}

// Split-Attention as the kernels run it: per plane, the attention once, then the pixels split
// over `lanes` lanes (1: channels_last's thread per plane; 32: contiguous's warp per plane), the
// lanes' dot products added up as the warp shuffle does.
void run_split_attention(cuda::SplitAttentionArgs a, int lanes, bool backward) {
  for (int64_t nc = 0; nc < a.n * a.c; ++nc) {
    float att[cuda::kMaxRadix];
    cuda::split_attention_weights(a, nc, att);
    if (!backward) {
      for (int lane = 0; lane < lanes; ++lane) cuda::split_attention_forward_pixels(a, nc, att, lane, lanes);
      continue;
    }
    float dots[cuda::kMaxRadix] = {};
    for (int lane = 0; lane < lanes; ++lane) {
      float lane_dots[cuda::kMaxRadix] = {};
      cuda::split_attention_backward_pixels(a, nc, att, lane, lanes, lane_dots);
      for (int m = 0; m < a.r; ++m) dots[m] += lane_dots[m];
    }
    cuda::split_attention_logit_grads(a, nc, att, dots);
  }
}

std::vector<Tensor> data_of(const std::vector<Variable>& vs) {
  std::vector<Tensor> t;
  for (const Variable& v : vs) t.push_back(v.data());
  return t;
}

// The pooling kernels: a thread per plane (channels_last), or 32 lanes' parts added (contiguous).
TEST(FusedBodies, SplitAttentionPoolMatchesTheCpuOp) {
  const int64_t n = 2, c = 6, h = 3, w = 5;
  for (bool cl : {false, true})
    for (int r : {1, 3}) {
      SCOPED_TRACE(::testing::Message() << "channels_last " << cl << ", radix " << r);
      std::vector<Variable> splits;
      for (int m = 0; m < r; ++m) {
        Tensor s = test::randn({n, c, h, w}, 60 + m);
        splits.push_back(Variable(cl ? test::cl(s) : s));
      }
      const std::vector<float> ref = split_attention_pool(splits).data().to_vector();
      const cuda::SplitAttentionArgs a =
          split_attention_args(data_of(splits), cl ? MemoryFormat::channels_last : MemoryFormat::contiguous);
      for (int64_t nc = 0; nc < n * c; ++nc) {
        float sum = 0.f;
        if (cl) {
          sum = cuda::split_pool_sum(a, nc, 0, 1);
        } else {
          for (int lane = 0; lane < 32; ++lane) sum += cuda::split_pool_sum(a, nc, lane, 32);
        }
        EXPECT_NEAR(sum / static_cast<float>(h * w), ref[static_cast<size_t>(nc)], 1e-5f) << "plane " << nc;
      }
    }
}

TEST(FusedBodies, SplitAttentionMatchesTheCpuOpInBothLayoutsAndLaneSplits) {
  const int64_t n = 2, c = 6, h = 3, w = 5;
  for (bool cl : {false, true}) {
    for (int r : {1, 2, 4}) {
      for (int lanes : {1, 4, 32}) {
        SCOPED_TRACE(::testing::Message() << "channels_last " << cl << ", radix " << r << ", lanes " << lanes);
        std::vector<Variable> splits, logits;
        for (int m = 0; m < r; ++m) {
          Tensor s = test::randn({n, c, h, w}, 30 + m);
          splits.push_back(test::param(cl ? test::cl(s) : s));
          logits.push_back(test::param(test::randn({n, c}, 40 + m, 2.f)));
        }
        Variable y = split_attention_combine(splits, logits);
        Tensor gy = test::randn({n, c, h, w}, 50);
        y.backward(gy);

        const MemoryFormat fmt = cl ? MemoryFormat::channels_last : MemoryFormat::contiguous;
        cuda::SplitAttentionArgs a = split_attention_args(data_of(splits), fmt);
        std::vector<Tensor> ds(r), dl(r);
        for (int m = 0; m < r; ++m) {
          a.logit[m] = logits[m].data().data<float>();
          ds[m] = Tensor::zeros({n, c, h, w}, DType::f32, fmt);
          dl[m] = Tensor::zeros({n, c});
          a.ds[m] = ds[m].data<float>();
          a.dlogit[m] = dl[m].data<float>();
        }
        Tensor out = Tensor::zeros({n, c, h, w}, DType::f32, fmt);
        Tensor gyf = gy.contiguous(fmt);
        a.out = out.data<float>();
        a.gy = gyf.data<float>();
        run_split_attention(a, lanes, false);
        run_split_attention(a, lanes, true);
        EXPECT_TRUE(test::all_close(out, y.data(), 1e-5f, 1e-5f)) << "forward";
        for (int m = 0; m < r; ++m) {
          EXPECT_TRUE(test::all_close(ds[m], splits[m].grad(), 1e-5f, 1e-5f)) << "split " << m;
          EXPECT_TRUE(test::all_close(dl[m], logits[m].grad(), 1e-4f, 1e-4f)) << "logit " << m;
        }
      }
    }
  }
}

TEST(FusedBodies, WidthMaskMatchesOrderedDropoutInBothLayouts) {
  Tensor x = test::randn({6, 8, 3, 3}, 60);
  const std::vector<int64_t> widths = {8, 8, 3, 3, 0, 5};
  for (bool cl : {false, true}) {
    SCOPED_TRACE(cl);
    Tensor xl = cl ? test::cl(x) : x;
    Tensor ref = ordered_dropout(Variable(xl), widths).data();
    const ChannelBlocks b = channel_blocks(x.shape(), channel_format(xl));
    const std::optional<cuda::WidthMaskArgs> args = width_mask_args(b, widths);
    ASSERT_TRUE(args.has_value());
    const cuda::WidthMaskArgs& a = *args;
    Tensor out = Tensor::empty(x.shape(), DType::f32, channel_format(xl));
    for (int64_t i = 0; i < x.numel(); ++i) out.data<float>()[i] = cuda::width_masked_at(a, xl.data<float>(), i);
    EXPECT_TRUE(test::all_close(out, ref, 0.f, 0.f));
  }
  // More runs of equal width than one launch takes, or no samples: no fused launch (the op then
  // copies group by group).
  std::vector<int64_t> alternating;
  for (int i = 0; i <= cuda::kMaxWidthGroups; ++i) alternating.push_back(i % 2 ? 8 : 4);
  const ChannelBlocks many = channel_blocks({static_cast<int64_t>(alternating.size()), 8, 3, 3}, MemoryFormat::contiguous);
  EXPECT_FALSE(width_mask_args(many, alternating).has_value());
  EXPECT_FALSE(width_mask_args(many, {}).has_value());
}

// The multi-tensor optimizer kernels' loop: `threads` threads, each walking i = tid, tid +
// threads, ... over the concatenated parameters with its own tensor_of cursor.
template <class Update>
void run_multi_tensor(const cuda::TensorList& l, int64_t threads, Update&& update) {
  for (int64_t tid = 0; tid < threads; ++tid) {
    int t = 0;
    for (int64_t i = tid; i < l.begin[l.count]; i += threads) {
      t = cuda::tensor_of(l, i, t);
      update(l, t, i - l.begin[t]);
    }
  }
}

TEST(FusedBodies, MultiTensorSgdAndAdamWMatchThePerParameterSteps) {
  const std::vector<Shape> shapes = {{7}, {3, 4}, {1}, {2, 3, 5}, {16}};
  for (int64_t threads : {1, 3, 64}) {
    SCOPED_TRACE(threads);
    std::vector<Variable> sgd_w, adam_w, sgd_ref, adam_ref;
    std::vector<Tensor> grads, buf, m1, m2;
    cuda::TensorList ls, la;
    for (size_t i = 0; i < shapes.size(); ++i) {
      Tensor w = test::randn(shapes[i], 70 + i), g = test::randn(shapes[i], 80 + i);
      for (auto* ref : {&sgd_ref, &adam_ref}) {
        ref->push_back(test::param(w.clone()));
        ref->back().mutable_grad() = g.clone();
      }
      grads.push_back(g);
      sgd_w.push_back(Variable(w.clone()));
      adam_w.push_back(Variable(w.clone()));
      buf.push_back(Tensor::zeros(shapes[i]));
      m1.push_back(Tensor::zeros(shapes[i]));
      m2.push_back(Tensor::zeros(shapes[i]));
      for (cuda::TensorList* l : {&ls, &la}) {
        l->w[l->count] = (l == &ls ? sgd_w : adam_w).back().data().data<float>();
        l->grad[l->count] = grads.back().data<float>();
        l->state1[l->count] = (l == &ls ? buf : m1).back().data<float>();
        l->state2[l->count] = l == &ls ? nullptr : m2.back().data<float>();
        l->begin[l->count + 1] = l->begin[l->count] + shape_numel(shapes[i]);
        ++l->count;
      }
    }
    // Two steps each, so the SGD momentum's second-step rule is covered too.
    Sgd sgd(sgd_ref, {0.1f, 0.9f, 0.1f, 1e-2f, true});
    AdamW adam(adam_ref, {1e-2f, 0.9f, 0.99f, 1e-8f, 0.05f});
    for (int step = 0; step < 2; ++step) {
      sgd.step();
      adam.step();
      const SgdScalars s{0.1f, 1e-2f, 0.9f, step == 0 ? 0.f : 0.1f, true, step == 0};
      run_multi_tensor(ls, threads, [&](const cuda::TensorList& l, int t, int64_t j) {
        sgd_update(l.w[t][j], l.grad[t][j], l.state1[t][j], s);
      });
      AdamWScalars as;
      as.lr = 1e-2f;
      as.beta1 = 0.9f;
      as.beta2 = 0.99f;
      as.decay = 1.f - 1e-2f * 0.05f;
      as.bias1 = 1.f - std::pow(0.9f, static_cast<float>(step + 1));
      as.bias2 = 1.f - std::pow(0.99f, static_cast<float>(step + 1));
      run_multi_tensor(la, threads, [&](const cuda::TensorList& l, int t, int64_t j) {
        adamw_update(l.w[t][j], l.grad[t][j], l.state1[t][j], l.state2[t][j], as);
      });
    }
    for (size_t i = 0; i < shapes.size(); ++i) {
      EXPECT_TRUE(test::all_close(sgd_w[i].data(), sgd_ref[i].data(), 0.f, 0.f)) << "sgd, tensor " << i;
      EXPECT_TRUE(test::all_close(adam_w[i].data(), adam_ref[i].data(), 0.f, 0.f)) << "adamw, tensor " << i;
    }
  }
}

}  // namespace
}  // namespace hwnas
