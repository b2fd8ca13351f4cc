#pragma once
// CUDA tests run where a GPU is; elsewhere (CI, CPU-only builds) they skip, saying why.
#include <gtest/gtest.h>

#include "tensor/device_memory.h"

#define HWNAS_SKIP_WITHOUT_GPU()                                                         \
  do {                                                                                   \
    if (::hwnas::cuda_device_count() == 0)                                               \
      GTEST_SKIP() << "no GPU to test on: " << ::hwnas::cuda_unavailable_reason();       \
  } while (0)
