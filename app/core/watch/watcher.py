"""The watch loop: poll a run folder, export the checkpoints the policy wants, keep N.

Checkpoints are taken in step order, one export at a time, each only once (the state
remembers every checkpoint it decided on, by step and save time). A checkpoint waits
for its eval value; when evaluation has already moved past it (Estimator's evaluator
skips checkpoints), it is skipped. Every decision is made on the state read under its
lock, so a restart decides exactly as the watch before it would have.

Versions are checkpoint steps. When a checkpoint's step is not above every version
already there (a new run into the same folder), the versions continue above the old
ones: ``version = step + offset``, the offset kept in the state and logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from app.core.errors import SignetError
from app.core.export.publish import check_target, clean_leftovers
from app.core.export.publish import versions as version_folders
from app.core.signature.draft import Draft
from app.core.watch.candidates import Candidate, complete_checkpoints
from app.core.watch.compat import (
    breaking_changes,
    facts_of_draft,
    facts_of_saved_model,
    facts_of_signature_defs,
)
from app.core.watch.metrics import EvalReader
from app.core.watch.policy import Policy
from app.core.watch.state import Published, WatchState, changing, read_state
from app.core.watch.versions import beyond_keep, clean_deleting, remove_folder, sync_serving

Log = Callable[[str], None]
StopCheck = Callable[[], bool]


class Watch:
    """One run folder watched into ``BASE/NAME`` (see module doc)."""

    def __init__(self, model_dir: str | Path, base: str | Path, name: str, draft: Draft,
                 policy: Policy, *, allow_breaking: bool = False, log: Log = print) -> None:
        check_target(base, name, None, False)
        self.model_dir = Path(model_dir).absolute()
        self.base = Path(base).absolute()
        self.name = name
        self.folder = self.base / name
        self.draft = draft
        self.policy = policy
        self.allow_breaking = allow_breaking
        self.log = log
        self.reader = EvalReader(self.model_dir, policy.metric)
        self._waiting: set[str] = set()
        self._announced: set[str] = set()
        with changing(self.folder) as state:
            was = state.policy
            if state.best is not None and was and \
                    (was["metric"], was["mode"]) != (policy.metric, policy.mode):
                raise SignetError(
                    f"{self.folder} was watched for {was['metric']} ({was['mode']}); its best "
                    f"so far means nothing for {policy.metric} ({policy.mode}): watch with "
                    "the same metric, or into another model name")
            state.policy = asdict(policy)
            state.model_dir = str(self.model_dir)
            self._adopt_pending(state)
            gone = self._collect(state)
        self._remove(gone)
        clean_deleting(self.folder)
        clean_leftovers(self.folder)  # an export killed with the watch before it

    # One poll -------------------------------------------------------------------------

    def poll(self, stop: StopCheck = lambda: False) -> None:
        """Read new eval values and checkpoints; decide on every one that is ready."""
        for point in self.reader.poll():
            self.log(f"eval: step {point.step} {self.policy.metric}={point.value:g}")
        for candidate in complete_checkpoints(self.model_dir):
            if stop():
                return
            if candidate.key in read_state(self.folder).seen:
                continue
            if candidate.key not in self._announced:
                self._announced.add(candidate.key)
                self.log(f"checkpoint: step {candidate.step} ({candidate.prefix.name})")
            if candidate.step == 0:
                self._decided(candidate, None, "skipped: step 0 is the untrained start")
                continue
            point = self.reader.value_for(candidate.step, candidate.saved_at)
            if point is None:
                if self.reader.evaluated_after(candidate.step, candidate.saved_at):
                    self._decided(candidate, None, "skipped: never evaluated (evaluation "
                                  "moved on to a later step)")
                    continue
                if candidate.key not in self._waiting:
                    self._waiting.add(candidate.key)
                    others = sorted(self.reader.tags - {self.policy.metric})
                    hint = f" (the eval files have no {self.policy.metric}; they have " \
                        f"{', '.join(others)})" if others and \
                        self.policy.metric not in self.reader.tags else ""
                    self.log(f"step {candidate.step}: waiting for its eval "
                             f"{self.policy.metric}{hint}")
                return  # later checkpoints wait behind it: decisions stay in step order
            self._consider(candidate, point.value)

    def run(self, interval: float = 5.0, once: bool = False,
            stop: StopCheck = lambda: False) -> None:
        """Poll every ``interval`` seconds until ``stop()`` (after one poll when ``once``)."""
        self.log(f"watching {self.model_dir} into {self.folder} ({self.policy.describe()})")
        if not self.model_dir.is_dir():
            self.log(f"{self.model_dir} does not exist yet: waiting for the job to save there")
        while not stop():
            self.poll(stop)
            if once:
                return
            deadline = time.monotonic() + interval
            while not stop() and time.monotonic() < deadline:
                time.sleep(min(0.1, interval))

    # Deciding and publishing ----------------------------------------------------------

    def _consider(self, candidate: Candidate, value: float) -> None:
        with changing(self.folder) as state:
            version = self._version(state, candidate)
            best = state.best
            if self.policy.kind == "best" and not self.policy.better(value, best):
                state.seen[candidate.key] = "skipped"
                state.high = max(state.high, version)
                self.log(f"step {candidate.step}: skipped ({self.policy.metric} {value:g} "
                         f"does not beat the best so far, {best:g})")
                return
        self.publish(candidate, value, version)

    def _version(self, state: WatchState, candidate: Candidate) -> int:
        """``step + offset``, raising the offset when the step falls below the versions
        already there (a new run)."""
        top = max([state.high, *version_folders(self.folder)])
        version = candidate.step + state.offset
        if version <= top:
            state.offset = top
            version = candidate.step + top
            self.log(f"step {candidate.step}: below version {top} already there, so a new "
                     f"run: its versions continue above, as step + {top}")
        return version

    def publish_step(self, step: int) -> bool:
        """Publish the checkpoint at ``step`` now, whatever the policy (a rollback, a step
        the policy skipped) as version ``step + offset``; True when published. This one
        version is spared by the keep-N pass that follows."""
        candidate = next((c for c in complete_checkpoints(self.model_dir) if c.step == step),
                         None)
        if candidate is None:
            raise SignetError(f"{self.model_dir}: no complete checkpoint at step {step}")
        self.reader.poll()
        point = self.reader.value_for(step, candidate.saved_at)
        version = step + read_state(self.folder).offset
        if (self.folder / str(version)).exists():
            raise SignetError(f"step {step} is already published, as version {version}")
        return self.publish(candidate, None if point is None else point.value, version,
                            spare=True)

    def publish(self, candidate: Candidate, value: float | None, version: int,
                spare: bool = False) -> bool:
        """Export ``candidate`` as ``version`` exactly as `signet export` does; True when
        published (``spare``: not collected by this keep-N pass). A refusal or a failed
        export is logged and remembered, never raised."""
        from app.core.export import export_model, open_checkpoint
        from app.core.signature import preset

        started = time.monotonic()
        try:
            loaded = open_checkpoint(candidate.prefix)
            draft = self.draft_for(loaded)
            refusal = self._breaking(facts_of_draft(draft, loaded.graph))
        except SignetError as exc:
            self._decided(candidate, version, f"failed: {exc}")
            return False
        if refusal:
            self._decided(candidate, version, f"refused: {refusal}")
            return False
        with changing(self.folder) as state:
            state.pending = Published(version, candidate.step, value, time.time(),
                                      str(candidate.prefix), key=candidate.key)
            # Not yet `high`: a watch killed before the version is there retries this step
            # as the same version, not as a new run above it.
        draft.options.base, draft.options.name = str(self.base), self.name
        draft.options.version, draft.options.overwrite = version, False
        try:
            result = export_model(draft, loaded)
        except Exception as exc:  # any failure of one export: log it and go on watching
            with changing(self.folder) as state:
                state.pending = None
            self._decided(candidate, version, f"failed: export: {exc}".splitlines()[0])
            return False
        seconds = time.monotonic() - started
        with changing(self.folder) as state:
            state.pending = None
            state.published.append(Published(
                version, candidate.step, value, time.time(), str(candidate.prefix),
                facts_of_signature_defs(result.signature_defs), candidate.key))
            state.seen[candidate.key] = f"published {version}"
            state.high = max(state.high, version)
            if value is not None and self.policy.better(value, state.best):
                state.best = value
            state.draft = preset.to_json(draft)
            shown = "" if value is None else f", {self.policy.metric} {value:g}"
            self.log(f"step {candidate.step}: published version {version}{shown} "
                     f"(export {seconds:.1f} s)")
            gone = self._collect(state, spare=version if spare else None)
        self._remove(gone)
        return True

    def draft_for(self, loaded) -> Draft:
        """The watch's draft, or Signet's proposal for ``loaded`` when it has no signature."""
        if self.draft.signatures:
            return self.draft.copy()
        proposal = loaded.proposal
        if proposal.empty:
            raise SignetError(f"{loaded.files.meta}: nothing to export: Signet found no "
                              "prediction to serve in this graph; give the signature's inputs "
                              "and outputs")
        draft = self.draft.copy()
        draft.signatures = proposal.draft().signatures
        return draft

    def _breaking(self, new: dict) -> str:
        """The breaking changes against the newest version there ('' when none, or when
        breaking changes are allowed)."""
        existing = version_folders(self.folder)
        if self.allow_breaking or not existing:
            return ""
        previous = existing[-1]
        mine = read_state(self.folder).by_version().get(previous)
        old = mine.signature if mine is not None and mine.signature else \
            facts_of_saved_model(self.folder / str(previous))
        changes = breaking_changes(old or {}, new)
        if not changes:
            return ""
        return (f"breaking signature change against version {previous}: "
                f"{'; '.join(changes)} (allow breaking changes to publish it anyway)")

    def _decided(self, candidate: Candidate, version: int | None, outcome: str) -> None:
        with changing(self.folder) as state:
            state.seen[candidate.key] = outcome
            if version is not None:
                state.high = max(state.high, version)
        self.log(f"step {candidate.step}: {outcome}")

    # Housekeeping ---------------------------------------------------------------------

    def _adopt_pending(self, state: WatchState) -> None:
        """A version noted as pending by a watch that died: keep it if it was published."""
        # Versions deleted by hand are no longer the watch's to serve.
        state.published = [p for p in state.published
                            if (self.folder / str(p.version)).is_dir()]
        pending, state.pending = state.pending, None
        if pending is None:
            return
        folder = self.folder / str(pending.version)
        if folder.is_dir():
            pending.signature = facts_of_saved_model(folder) or {}
            state.published.append(pending)
            state.seen[pending.key] = f"published {pending.version}"
            if pending.metric is not None and self.policy.better(pending.metric, state.best):
                state.best = pending.metric
            self.log(f"step {pending.step}: version {pending.version} was published before "
                     "the last watch stopped; kept")
        else:
            state.seen.pop(pending.key, None)

    def _collect(self, state: WatchState, spare: int | None = None) -> list[Published]:
        """Drop the versions past keep N (but ``spare``) from the state and models.config;
        return them (`_remove` deletes their folders once the state without them is
        written)."""
        gone = [p for p in beyond_keep(state, self.policy) if p.version != spare]
        state.published = [p for p in state.published if p not in gone]
        if state.published or gone:
            sync_serving(self.base, self.name, state)
        return gone

    def _remove(self, gone: list[Published]) -> None:
        for old in gone:
            remove_folder(self.folder / str(old.version))
            self.log(f"deleted version {old.version} (step {old.step}): beyond keep "
                     f"{self.policy.keep}")
