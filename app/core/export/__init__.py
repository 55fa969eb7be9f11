"""The export engine: a `Draft` plus a checkpoint in, a verified SavedModel published out.

- ``export_model(draft, checkpoint, progress=cb(fraction, message), cancelled=lambda: bool)
  -> ExportResult`` (.path, .version, .model_folder, .signature_defs, .verification
  (VerifyReport: .max_difference, .summary()), .variables_bytes, .notes (warnings),
  .summary (saved_model_cli-style text), .models_config, .rest_texts (key -> body JSON),
  .rest_body(key), .rest_refusal(key): why a signature has no REST body, or None).
  Raises `SignatureError` (validation, before any work), `ExportError`, `Cancelled`;
  nothing is published then.
- ``open_checkpoint(path) -> LoadedCheckpoint`` (no search index), ``check_draft(draft,
  loaded)``, ``next_version(base, name)``, ``STAGES``; `serving` has the snippet builders.

Serving-only by default (``draft.options.strip_training``); a variable the export holds
but the checkpoint lacks is refused before any TensorFlow work (`restore_keys`).

Modules: `recipe` (TensorFlow steps), `restore_keys` (which checkpoint key restores each
variable), `publish` (atomic BASE/NAME/VERSION),
`verify` (compare with the checkpoint), `warmup` (TF Serving's warmup file, replayed
before publishing; both on one load of the export, sharing runs through
`shared_runs`), `serving` (summary, models.config, REST).

Room of the export (engine, recipe, verification, warmup, publishing, Try it): may import
every room below it (graph … validation), `loader` and the top modules; only `watch` imports it.
"""

from app.core.export.engine import (
    STAGES,
    ExportResult,
    check_draft,
    export_model,
    open_checkpoint,
)
from app.core.export.publish import next_version

__all__ = ["STAGES", "ExportResult", "check_draft", "export_model", "next_version",
           "open_checkpoint"]
