#include "model/module.h"

#include <ATen/ATen.h>

namespace hyb {

void Module::to(at::Device device, at::ScalarType dtype) {
  for (auto& [name, t] : parameters()) {
    if (!t->defined()) continue;
    const bool grad = t->requires_grad();
    at::Tensor moved = t->detach().to(device, dtype);
    // A mapped (read-only) checkpoint tensor must never be written in place: copy when
    // `to` returned the same storage and the caller will train it.
    *t = moved;
    if (grad) t->set_requires_grad(true);
  }
}

void Module::requires_grad(bool on) {
  for (auto& [name, t] : parameters())
    if (t->defined()) t->set_requires_grad(on);
}

}  // namespace hyb
