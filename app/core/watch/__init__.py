"""`signet watch`: publish a running TF1 job's checkpoints for TensorFlow Serving.

What Estimator's `LatestExporter`/`BestExporter` and ``exports_to_keep`` did inside
``train_and_evaluate`` (gone with ``tf.estimator`` in TF 2.16), as a process beside
the job: `Watch(model_dir, base, name, draft, Policy(...), allow_breaking=, log=)`
then ``.run(interval, once, stop)`` or ``.poll(stop)``.

Modules: `candidates` (complete checkpoints), `metrics` (eval values from the event
files, TensorBoard's reader), `policy` (latest/best, keep N), `state` (what was
published and the best so far, on disk beside the versions), `compat` (breaking
signature changes), `serving_config` (``BASE/models.config``), `versions` (keep,
labels, delete; the rows the window lists), `watcher` (the loop). Plain Python:
TensorFlow loads only when a checkpoint is exported or an event file is read.

Room of `signet watch`, the top of `app.core`: may import every room, `loader` and the top
modules; nothing in `app.core` imports it.
"""

from app.core.watch.policy import Policy
from app.core.watch.watcher import Watch

__all__ = ["Policy", "Watch"]
