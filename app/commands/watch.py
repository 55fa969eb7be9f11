"""`signet watch`: keep TensorFlow Serving fed from a running TF1 job (see app.core.watch).

The signature flags are `signet export`'s (``--input/--output/--preset``, or the
proposal when none are given). ``--keep`` is the number of versions kept here, so the
rewrite flag export calls ``--keep SITE`` is ``--keep-site`` in this command.
One log line per event on stdout; SIGINT (Ctrl+C) stops after the current export.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime

from app.commands.export import add_draft_arguments, draft_from_args
from app.core.errors import SignetError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="MODEL_DIR",
                        help="the folder the training job saves checkpoints to (its eval "
                             "event files in MODEL_DIR/eval)")
    parser.add_argument("--out", metavar="BASE", required=True,
                        help="base folder TensorFlow Serving reads")
    parser.add_argument("--name", required=True, help="model name (the folder inside BASE)")
    parser.add_argument("--policy", choices=("latest", "best"), default="latest",
                        help="publish every evaluated checkpoint, or only one that beats "
                             "the best so far (default latest)")
    parser.add_argument("--metric", default="loss",
                        help="the eval scalar to compare (default loss)")
    parser.add_argument("--mode", choices=("min", "max"), default="min",
                        help="whether a smaller or a larger metric is better (default min)")
    parser.add_argument("--keep", type=int, default=5, metavar="N",
                        help="keep the N best (or latest) versions this watch published "
                             "(default 5)")
    parser.add_argument("--allow-breaking", action="store_true",
                        help="publish even when the signature breaks the previous "
                             "version's clients")
    parser.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between polls (default 5)")
    parser.add_argument("--once", action="store_true",
                        help="process what is there now, then exit")
    parser.add_argument("--step", type=int, metavar="N",
                        help="publish the checkpoint at step N now, whatever the policy "
                             "(a rollback), then exit")
    add_draft_arguments(parser, keep_flag="--keep-site")

def run_watch(args: argparse.Namespace) -> int:
    from app.core.watch import Policy, Watch

    if args.keep < 1:
        raise SignetError(f"--keep {args.keep}: keep at least one version")
    as_export = argparse.Namespace(**{**vars(args), "keep": args.keep_site, "version": None,
                                      "overwrite": False})
    draft = draft_from_args(as_export)
    policy = Policy(args.policy, args.metric, args.mode, args.keep)
    stopping = threading.Event()

    def log(line: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {line}", flush=True)

    def on_sigint(_signum, _frame) -> None:
        if not stopping.is_set():
            print("signet watch: stopping after the current export (Ctrl+C again to "
                  "stop at once)", file=sys.stderr, flush=True)
            stopping.set()
        else:
            raise KeyboardInterrupt

    watch = Watch(args.model_dir, args.out, args.name, draft, policy,
                  allow_breaking=args.allow_breaking, log=log)
    if not draft.signatures:
        log("no --input/--output: each checkpoint exports the signature Signet proposes")
    if args.step is not None:
        return 0 if watch.publish_step(args.step) else 1
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        watch.run(args.interval, args.once, stopping.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    log("stopped")
    return 0
