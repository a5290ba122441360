// The version `hybridize --version` prints (bumped by hand at a release).
#pragma once

namespace hyb {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace hyb
