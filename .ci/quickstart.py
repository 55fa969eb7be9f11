"""Print one of the two commands in README.md's Quick start block (`launch` or `test`).

`.ci/run` and the tests use this so the README and CI can never disagree.
"""

import re
import sys
from pathlib import Path


def quickstart_commands(readme: Path) -> list[str]:
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if section is None:
        raise SystemExit("README.md has no '## Quick start' section")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section.group(1), re.S)
    if len(blocks) != 1:
        raise SystemExit("the Quick start section must hold exactly one code block")
    return [line for line in blocks[0].splitlines() if line.strip()]


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "test"
    commands = quickstart_commands(Path(__file__).resolve().parents[1] / "README.md")
    print(commands[0 if which == "launch" else 1])
