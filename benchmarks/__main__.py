"""`make bench`: every figure beside a naive baseline measured in the same run.

Prints a table and writes benchmarks/results/latest.json. Assets here are generated
(benchmarks/synthetic.py), not real: the real Helsinki extract has under 100 assets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from benchmarks import area_query, extract_load, isochrone, map_build, store_bench

RESULTS = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--skip-browser", action="store_true", help="leave out the Chromium figures")
    parser.add_argument("--browser-only", action="store_true", help="only the Chromium figures")
    parser.add_argument("--assets", type=int, default=1_000_000, help="assets in the area-query layer")
    parser.add_argument(
        "--store-assets",
        type=int,
        default=5_000,
        help="community assets in the store benchmark (SQLite, and PostGIS when a URL is set)",
    )
    parser.add_argument(
        "--extract-tiles",
        type=int,
        default=4,
        help="the extract-load benchmark lays the Helsinki extract out N x N times (osmium-tool)",
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    rows = []
    if not args.browser_only:
        rows += area_query.run(args.assets)
        rows += map_build.run(10_000)
        rows += isochrone.run()
        rows += store_bench.run(args.store_assets)
        rows += extract_load.run(args.extract_tiles, store_bench.database_url())
    if not args.skip_browser:
        from benchmarks import browser_bench

        rows += browser_bench.run(10_000)

    load_after = os.getloadavg()
    # Absolute times depend on what else the machine runs: say how busy it was (ratios to the
    # baselines, measured in the same run, hold either way).
    print(
        f"Load average (1, 5, 15 min) on {os.cpu_count()} cores: {_load(load_before)} at the start, "
        f"{_load(load_after)} at the end\n"
    )
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}  {'target':<22} ok")
    for r in rows:
        ratio = f"{r['naive'] / r['ours']:.0f}x" if r.get("naive") and r["ours"] else "-"
        naive = f"{r['naive']:.1f} {r['unit']}" if r.get("naive") is not None else "-"
        print(
            f"{r['figure']:<{width}}  {r['ours']:>9.1f} {r['unit']:<2}  {naive:>12}  {ratio:>7}  "
            f"{r['target']:<22} {'yes' if r['ok'] else 'NO'}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": sys.version.split()[0],
                "cores": os.cpu_count(),
                "load_average": [load_before, load_after],
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nWritten to {RESULTS}")
    return 0 if all(r["ok"] for r in rows) else 1


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.1f}" for v in load)


if __name__ == "__main__":
    sys.exit(main())
