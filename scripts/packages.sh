# Sourced by setup.sh and test.sh: the Debian packages the build needs, and installing the missing
# ones (sudo when not root), without their recommended packages (which pulled in GStreamer, GDAL
# and a MariaDB config: 213 packages where these need far fewer).
# PACKAGES: the library and the CLI (libgloo-dev: --gpus; without it the build works and --gpus says so).
PACKAGES="build-essential cmake ninja-build pkg-config libtorch-dev libopenblas0-openmp \
  nlohmann-json3-dev libpcre2-dev libcli11-dev libfmt-dev libbz2-dev libutf8proc-dev libgloo-dev"
# TEST_PACKAGES: what only the test suite needs (scripts/test.sh installs it): GoogleTest, and clang
# with its libFuzzer runtime for the short fuzzing run (scripts/fuzz.sh short), and ccache (CMakeLists
# uses it when found: a rebuild, or a CI run whose ~/.cache survives, compiles only what changed).
TEST_PACKAGES="libgtest-dev clang libclang-rt-dev ccache"
# install_missing_packages PACKAGE...
install_missing_packages() {
  local missing sudo=""
  missing=$(for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: $missing"
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}
