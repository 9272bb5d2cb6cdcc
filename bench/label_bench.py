"""Benchmark: a lot label as native ZPL (ours) against the raster path many tools take.

Not a test. For N distinct lot labels (different lot numbers, quantities and dates) it times, label by
label and interleaved so machine noise hits both paths alike:

    ours     lot_label(data) -> labels.zpl.render(label)                  native fonts and barcodes
    raster   lot_label(data) -> labels.png.render_png(label) -> zebrafy   the label as a ^GF bitmap

and prints the median time and size per label, and the ratios against the targets from issue 4
(our ZPL at least 20x smaller and 50x faster than the raster path). zebrafy is run with each of its
graphic-field formats (ASCII hex, ZPL-compressed ASCII, Base64, Z64 = zlib + Base64), undithered with
threshold 128 so bars stay bars, and its label size set from the image.

    .venv/bin/pip install -e '.[bench]'           # zebrafy, pinned in the "bench" extra
    .venv/bin/python bench/label_bench.py          # 4x6 at 203 dpi, 100 labels
    .venv/bin/python bench/label_bench.py --labels 300 --sizes 4x6,2x1 --dpis 203,300
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PIL  # noqa: E402

from labels import zpl  # noqa: E402
from labels.png import render_png  # noqa: E402
from labels.templates import lot_label  # noqa: E402

try:
    import zebrafy
    from zebrafy import ZebrafyImage
except ImportError:  # pragma: no cover - the bench extra is optional
    sys.exit("label_bench needs zebrafy: .venv/bin/pip install -e '.[bench]'")

FORMATS = ("ASCII", "ASCII_COMPRESSED", "B64", "Z64")
TARGET_SMALLER, TARGET_FASTER = 20, 50


def lot_data(n: int) -> dict:
    """The n-th synthetic lot: same item, its own lot number, quantity and dates."""
    produced = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
    return {
        "item_name": "Organic Muesli Crunch, honey & almond 750 g",
        "sku": "MU-750",
        "lot_number": f"L{produced:%y%m}-{n:04d}",
        "expiry": produced + dt.timedelta(days=540),
        "produced_on": produced,
        "quantity": 12 + n % 37,
        "unit": "ea",
        "supplier_lot": f"SUP-{99000 + n}",
        "gtin": "09501101530003",
    }


def raster(label, fmt: str) -> bytes:
    img = render_png(label)
    return ZebrafyImage(img, format=fmt, dither=False, threshold=128, set_label_size=True).to_zpl().encode()


def run(size: str, dpi: int, n: int) -> list[tuple[str, float, int]]:
    """(path, median ms per label, median bytes per label) for our ZPL and each raster format."""
    times: dict[str, list[float]] = {"ours": [], **{f: [] for f in FORMATS}}
    sizes: dict[str, list[int]] = {k: [] for k in times}
    clock = time.perf_counter
    for i in range(n):
        data = lot_data(i)
        t0 = clock()
        out = zpl.render(lot_label(data, size, dpi))
        times["ours"].append(clock() - t0)
        sizes["ours"].append(len(out))
        assert out.count(b"^XA") == 1 and b"^GF" not in out
        for fmt in FORMATS:
            t0 = clock()
            out = raster(lot_label(data, size, dpi), fmt)
            times[fmt].append(clock() - t0)
            sizes[fmt].append(len(out))
            assert out.count(b"^XA") == 1 and b"^GF" in out
    return [(k, statistics.median(times[k]) * 1000, round(statistics.median(sizes[k]))) for k in times]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=100, help="labels per size and dpi (default 100)")
    parser.add_argument("--sizes", default="4x6", help="comma-separated label sizes (default 4x6)")
    parser.add_argument("--dpis", default="203", help="comma-separated densities (default 203)")
    args = parser.parse_args(argv)

    print(f"label_bench: {args.labels} lot labels per case; Python {platform.python_version()}, "
          f"Pillow {PIL.__version__}, zebrafy {getattr(zebrafy, '__version__', '?')}, {os.cpu_count()} CPUs")
    load_before = os.getloadavg()[0]
    gc.disable()
    missed: list[str] = []
    try:
        for size in args.sizes.split(","):
            for dpi in (int(d) for d in args.dpis.split(",")):
                lot_label(lot_data(0), size, dpi)  # warm caches (fonts, glyph checks) outside the timing
                render_png(lot_label(lot_data(0), size, dpi))
                rows = run(size, dpi, args.labels)
                ours_ms, ours_bytes = rows[0][1], rows[0][2]
                print(f"\n{size} in at {dpi} dpi — median per label (layout included in both paths)")
                print(f"  {'path':<40} {'ms/label':>9} {'bytes/label':>12} {'x bigger':>9} {'x slower':>9}")
                for path, ms, size_b in rows:
                    name = "ours: native ZPL" if path == "ours" else f"raster: PNG + zebrafy {path}"
                    if path == "ours":
                        print(f"  {name:<40} {ms:>9.3f} {size_b:>12,} {'':>9} {'':>9}")
                        continue
                    bigger, slower = size_b / ours_bytes, ms / ours_ms
                    for what, ratio, target in (("smaller", bigger, TARGET_SMALLER), ("faster", slower, TARGET_FASTER)):
                        if ratio < target:
                            missed.append(f"{size} {dpi} dpi vs {path}: {ratio:.1f}x {what} (target {target}x)")
                    print(f"  {name:<40} {ms:>9.3f} {size_b:>12,} {bigger:>9.1f} {slower:>9.1f}")
                best = min(rows[1:], key=lambda r: r[2])
                fastest = min(rows[1:], key=lambda r: r[1])
                print(f"  targets: >= {TARGET_SMALLER}x smaller than the smallest raster ({best[0]}: "
                      f"{best[2] / ours_bytes:.1f}x), >= {TARGET_FASTER}x faster than the fastest raster "
                      f"({fastest[0]}: {fastest[1] / ours_ms:.1f}x)")
    finally:
        gc.enable()
    load_after = os.getloadavg()[0]
    print(f"\nload average {load_before:.2f} -> {load_after:.2f}"
          + ("  (busy machine: compare ratios, not absolute times)" if max(load_before, load_after) > 1.0 else ""))
    print("targets met against every raster format" if not missed else "targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
