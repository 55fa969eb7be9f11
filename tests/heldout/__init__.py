"""The held-out corpus of issue 23: TF1 training programs kept away from whoever writes
the proposal, run at the end to check it generalises (`tests/test_heldout.py`).

Each module imitates one public TF1 program (named in its docstring) and has one builder,
``build(directory) -> facts`` (see `tests.program_checks`); `tests.heldout.corpus` runs
them all in one child process.
"""
