"""Regenerate the bundled demo checkpoint in ``app/data/demo/skip_thoughts``.

Run from the repository root:  .venv/bin/python resources/demo/make_demo.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.demo import build_skip_thoughts, demo_checkpoint


def main() -> None:
    target = demo_checkpoint()
    if target.exists():
        shutil.rmtree(target)
    prefixes = build_skip_thoughts(target, steps=(100, 200))
    size = sum(f.stat().st_size for f in target.iterdir())
    print(f"wrote {', '.join(p.name for p in prefixes)} to {target} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
