#!/usr/bin/env bash
# The test command of README.md: installs what is missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TUTTI_TESTVECTORS="${TUTTI_TESTVECTORS:-$(cd .. && pwd)/shared/testvectors}"
cargo test --workspace --release --features tutti/jack,tutti/peers "$@"
