// Precompiled header shared by every target: the expensive torch include happens once per build.
#pragma once
#include <torch/torch.h>
