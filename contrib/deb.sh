#!/usr/bin/env bash
# Builds target/debian/eco_VERSION_ARCH.deb with cargo-deb
# (`cargo install cargo-deb` once): the release binary, then the man pages
# and completions that eco writes about itself, then the package.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
rm -rf target/assets
mkdir -p target/assets/man target/assets/completions
target/release/eco man --out target/assets/man 2>/dev/null
target/release/eco completions bash > target/assets/completions/eco.bash
target/release/eco completions zsh > target/assets/completions/_eco
target/release/eco completions fish > target/assets/completions/eco.fish
cargo deb --no-build "$@"
