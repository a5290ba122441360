// model/module: the one mechanism for parameters. A module lists its parameters by full name
// (Hugging Face names for the base model, self-describing names for linear modules); loading,
// saving, moving to a device, optimisers and gradient checks all go through this list.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace hyb {

using ParamList = std::vector<std::pair<std::string, at::Tensor*>>;

class Module {
 public:
  virtual ~Module() = default;
  // Appends (prefix + local name, pointer to the tensor) for every parameter.
  virtual void named_parameters(const std::string& prefix, ParamList& out) = 0;

  ParamList parameters(const std::string& prefix = "") {
    ParamList out;
    named_parameters(prefix, out);
    return out;
  }
  // Moves/casts every parameter (e.g. to CUDA, to bf16).
  void to(at::Device device, at::ScalarType dtype);
  // Sets requires_grad on every parameter.
  void requires_grad(bool on);
};

}  // namespace hyb
