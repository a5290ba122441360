// util/profile: the labels kernels are summed under, on kernel names of the form CUDA's profiler
// reports (demangled) for PyTorch's generic elementwise and reduction kernels, ours and cuBLAS's.
// Written after the shapes of PyTorch's kernel templates, not captured from a run: a GPU session
// prints the real labels (bench_linear --profile, distill --profile-step).
#include <gtest/gtest.h>

#include "util/profile.h"

namespace hyb {
namespace {

TEST(Profile, KernelLabelsNameTheOperation) {
  EXPECT_EQ(kernel_label("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, "
                         "std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<float>, std::array<char*, 3ul>)"),
            "vectorized_elementwise_kernel[CUDAFunctor_add]");
  EXPECT_EQ(kernel_label("void at::native::vectorized_elementwise_kernel<4, at::native::(anonymous namespace)::"
                         "silu_kernel(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda()#2}::"
                         "operator()() const::{lambda(float)#1}, std::array<char*, 2ul> >(int, float, std::array<char*, 2ul>)"),
            "vectorized_elementwise_kernel[silu_kernel]");
  EXPECT_EQ(kernel_label("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func_wrapper_t"
                         "<float, at::native::sum_functor<float, float, float>::operator()(at::TensorIterator&)::"
                         "{lambda(float, float)#1}>, unsigned int, float, 4, 4> >(at::native::ReduceOp<float>)"),
            "reduce_kernel[sum_functor]");
  EXPECT_EQ(kernel_label("void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl_nocast<at::native::"
                         "direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::"
                         "{lambda(float)#1}>(at::TensorIteratorBase&, float const&)::{lambda(int)#1}>(int, float)"),
            "elementwise_kernel[direct_copy_kernel_cuda]");
  EXPECT_EQ(kernel_label("void hyb::ops::cuda::(anonymous namespace)::gated_delta_state_kernel<float, 128>"
                         "(hyb::ops::cuda::GatedDeltaStep)"),
            "hyb::ops::cuda::gated_delta_state_kernel");
  EXPECT_EQ(kernel_label("nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"), "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT");
}

}  // namespace
}  // namespace hyb
