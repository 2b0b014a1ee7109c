"""Render the demo run's report.html and screenshot it in headless Chromium -> docs/report.png.

    curator run examples/halueval_demo/pairs.jsonl --index demo --budget 100 -o out/demo
    python benchmarks/report_screenshot.py out/demo            # writes out/demo/report.html + docs/report.png

The report is re-rendered from scores.parquet + summary.json with the current
``curator.report`` (so the screenshot never shows a stale report). Needs ``chromium``
(Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html_path: Path, png_path: Path, width: int = 1200, height: int = 3000,
               timeout: float = 60.0) -> Path:
    """Screenshot ``html_path`` (a local file) with headless Chromium."""
    exe = find_chromium()
    if exe is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="curator-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
               f"--window-size={width},{height}", html_path.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png_path.exists():
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return png_path


def shrink(png_path: Path, max_width: int = 1000, max_bytes: int = 500_000) -> int:
    """Trim the blank bottom, downscale to ``max_width`` and quantise to a palette until the PNG
    is under ``max_bytes``."""
    import numpy as np
    from PIL import Image

    img = Image.open(png_path).convert("RGB")
    ink = np.flatnonzero((np.asarray(img) < 250).any(axis=(1, 2)))
    if len(ink):
        img = img.crop((0, 0, img.width, min(img.height, int(ink[-1]) + 24)))
    width = min(max_width, img.width)
    while True:
        im = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS) if width < img.width else img
        im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            png_path, optimize=True)
        size = png_path.stat().st_size
        if size <= max_bytes or width <= 500:
            return size
        width = int(width * 0.85)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?", default=str(ROOT / "out" / "demo"),
                    help="output folder of `curator run` (scores.parquet, summary.json, timings.json)")
    ap.add_argument("-o", "--out", default=str(ROOT / "docs" / "report.png"))
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=8000, help="window height; the blank bottom is trimmed")
    ap.add_argument("--max-width", type=int, default=1000, help="width of the saved PNG")
    args = ap.parse_args(argv)

    import polars as pl

    from curator import records as R
    from curator.pipeline import CurationResult
    from curator.report import write_report

    run = Path(args.run_dir)
    table = pl.read_parquet(run / "scores.parquet")
    if R.RECORD not in table.columns:
        table = table.with_columns(pl.lit("{}").alias(R.RECORD))
    timings = json.loads((run / "timings.json").read_text("utf-8")) if (run / "timings.json").exists() else {}
    result = CurationResult(table=table, summary=json.loads((run / "summary.json").read_text("utf-8")),
                            timings=timings)
    t0 = time.perf_counter()
    html_path = write_report(result, run / "report.html")
    print(f"report   {html_path} ({html_path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - t0:.2f} s)")
    out = Path(args.out)
    t0 = time.perf_counter()
    screenshot(html_path, out, args.width, args.height)
    size = shrink(out, max_width=args.max_width)
    print(f"png      {out} ({size / 1e3:.0f} kB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
