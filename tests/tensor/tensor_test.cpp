#include <gtest/gtest.h>

#include "tensor/tensor.h"

using namespace hwnas;

TEST(Tensor, NarrowIsAViewSharingStorage) {
  Tensor t = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor n = t.narrow(1, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 2}));
  EXPECT_EQ(n.storage(), t.storage());
  EXPECT_EQ(n.to_vector(), (std::vector<float>{1, 2, 4, 5}));
  n.fill_(9);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 9, 9, 3, 9, 9}));
}
