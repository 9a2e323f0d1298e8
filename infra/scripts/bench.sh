#!/usr/bin/env bash
# Runs the mapping benchmark (target: parse + plan of order.created, median
# ≤ 20 µs) and prints each benchmark's median, which criterion's own summary does not show.
#
#   infra/scripts/bench.sh            # all five benchmarks (~1 min 30 s)
#   infra/scripts/bench.sh plan_only  # a criterion filter
#
# Run it on an otherwise idle machine: a concurrent build doubles the figures.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
started=$(date +%s)
cargo bench -p mapping --bench map_order -- "$@"
python3 - "$repo/target/criterion" "$started" <<'PY'
import json, pathlib, sys
root, started = pathlib.Path(sys.argv[1]), int(sys.argv[2])
names = ["parse_envelope+plan", "parse_envelope+plan+bodies", "parse_envelope_only",
         "plan_only", "serde_json_value_parse_for_comparison"]
for name in names:
    est = root / f"map_order_{name}" / "new" / "estimates.json"
    if not est.exists() or est.stat().st_mtime < started:
        continue  # not run this time (filtered out)
    d = json.loads(est.read_text())
    median = d["median"]["point_estimate"] / 1000
    low, high = (d["median"]["confidence_interval"][k] / 1000 for k in ("lower_bound", "upper_bound"))
    print(f"median  {name:<42} {median:7.2f} µs  [{low:.2f} – {high:.2f}]")
PY
