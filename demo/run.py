"""``aigc-audit demo``: trains the built-in models, samples them, audits each release side by side.

Two text releases come from the built-in GPT: a healthy one trained on six of Shakespeare's
tragedies, and the same model deliberately overfit on a dozen passages of Hamlet. Each is audited
with ``policies/default.yaml`` against its own reference set (exactly the documents it was trained
on, with source and licence), so the healthy release passes and the overfit one fails, naming the
training passages it copied. "Passes" allows warnings: the profanity rule warns on Shakespeare
itself (its classifier flags about one of his passages in ten). Models and sample sets are cached
under the demo folder, keyed by the hash of their training config and data, so a second run only
audits.

A release is anything that can build ``(sample set, reference set)`` folders: add one to
``releases()`` and it is audited, reported, stored and shown like the others.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aigc_audit.demo.harm import harm_release
from aigc_audit.demo.images import image_release
from aigc_audit.demo.release import Release
from aigc_audit.evaluators import evidence
from aigc_audit.evaluators.base import Evaluation
from aigc_audit.generators.base import read_training_record
from aigc_audit.generators.gpt.config import REFERENCE_DIR, DataSpec, SampleConfig, TrainConfig, is_trained
from aigc_audit.governance import reports
from aigc_audit.governance.console import progress_tracker
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.runner import AuditResult, run_audit
from aigc_audit.governance.status import FAIL, PASS, WARN, style
from aigc_audit.governance.store import RunStore
from aigc_audit.sampleset import MANIFEST_NAME

DEMO_DIR = Path("demo-out")
DEMO_CREATED_AT = "2026-01-01T00:00:00Z"
HEALTHY_PLAYS = ("hamlet", "macbeth", "othello", "king-lear", "romeo-and-juliet", "julius-caesar")
# Training documents are passages of up to 6 lines and at least 25 words (~45 words on average);
# the copy rule aligns each sample with passages inside them (see evaluators.copying.text_copy).
OVERFIT_PASSAGES = 12
SAMPLES_PER_RELEASE = 100  # >= 59, so that a clean sample can pass the harm rule's 95% bound
SAMPLE_TEMPERATURE = 0.8
HEALTHY_TRAINING = TrainConfig(data=DataSpec(plays=HEALTHY_PLAYS), steps=300, batch_size=16)
# The same model on a dozen passages (~600 tokens), ~1,000 tokens a step: it learns them by heart.
# Every tenth passage of Hamlet is held out (the reference set marks it), so the memorization checks
# can compare the samples with passages of the same play the model never saw.
OVERFIT_TRAINING = replace(HEALTHY_TRAINING, steps=150, batch_size=8,
                           data=DataSpec(plays=("hamlet",), held_out=0.1, limit=OVERFIT_PASSAGES))
# The extraction probe of each GPT release (see evaluators.memorization.k_extractable), with its
# default 16-token prompt and continuation.
PROBE_PARAMS = {"n": 500, "prefix_tokens": 16, "suffix_tokens": 16}
_SHOWN_COPIES = 5
_SHOWN_FINDINGS = 2


def gpt_release(name: str, description: str, expected: str, train_config: TrainConfig) -> Release:
    """A release sampled from a built-in GPT trained (or loaded from cache) under ``train_config``.

    Cache checks come first, so a warm run imports neither torch nor transformers.
    """

    def build(out: Path, console: Console) -> tuple[Path, Path]:
        model = out / "models" / name
        if not is_trained(train_config, model):
            from aigc_audit.generators.gpt.train import train

            train(train_config, model, console=console, force=True)
        samples = out / "samples" / name
        sampling = SampleConfig(n=SAMPLES_PER_RELEASE, seed=0, temperature=SAMPLE_TEMPERATURE)
        if not _samples_current(samples, read_training_record(model)["weights_sha256"], sampling):
            from aigc_audit.generators.gpt.sample import generate

            generate(model, samples, sampling, console=console, created_at=DEMO_CREATED_AT)
        return samples, model / REFERENCE_DIR

    def probe(out: Path, console: Console) -> list[Evaluation]:
        return [extraction_probe(out / "models" / name, out / "samples" / name,
                                 out / "probes" / f"{name}.json")]

    return Release(name, description, expected, build, probe)


def extraction_probe(model: Path, samples: Path, path: Path) -> Evaluation:
    """The extraction probe of ``model`` under the samples' sampling settings, cached in ``path``
    for these weights, reference set and parameters."""
    from aigc_audit.governance.probe import load_probe, run_extraction, save_probe
    from aigc_audit.sampleset import REFERENCE, SAMPLES, load_sample_set

    reference = load_sample_set(model / REFERENCE_DIR, role=REFERENCE)
    weights = read_training_record(model)["weights_sha256"]
    if path.is_file():
        cached = load_probe(path)
        params = cached.evaluation.params
        if (cached.model_sha256, cached.reference_sha256) == (weights, reference.sha256) and all(
                params.get(k) == v for k, v in PROBE_PARAMS.items()):
            return cached.evaluation
    result = run_extraction(model, reference, samples=load_sample_set(samples, role=SAMPLES), **PROBE_PARAMS)
    save_probe(result, path)
    return result.evaluation


def _samples_current(folder: Path, model_sha: str, sampling: SampleConfig) -> bool:
    """True when ``folder`` already holds the samples ``sampling`` draws from this model."""
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return False
    records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line]
    provenance = [r.get("provenance") or {} for r in records]
    return len(records) == sampling.n and all(
        p.get("model_sha256") == model_sha and p.get("seed") == sampling.seed
        and {k: v for k, v in p.get("params", {}).items() if k not in ("index", "model")} == sampling.params()
        for p in provenance)


def releases() -> list[Release]:
    return [
        gpt_release("gpt-healthy", f"GPT on {len(HEALTHY_PLAYS)} tragedies", PASS, HEALTHY_TRAINING),
        gpt_release("gpt-overfit", f"GPT overfit on {OVERFIT_PASSAGES} Hamlet passages", FAIL,
                    OVERFIT_TRAINING),
        image_release("vae-digits", "VAE on the digits", PASS),
        image_release("gan-digits", "DCGAN on the digits", PASS),
        image_release("vae-digits-copying", "VAE, 1 in 10 an edited training image", FAIL),
        harm_release(PASS),
    ]


def run_demo(out: Path = DEMO_DIR, *, console: Console | None = None) -> int:
    """Build, audit and show every release; exit 0 when each shows its expected outcome."""
    console = console or Console()
    progress_console = Console(stderr=True)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    store = RunStore(f"sqlite:///{out / 'runs.sqlite'}")
    results: list[tuple[Release, AuditResult]] = []
    for release in releases():
        console.print(f"[bold]{release.name}[/]: {release.description}")
        samples, reference = release.build(out, progress_console)
        attached = release.probe(out, progress_console) if release.probe else []
        with progress_tracker(progress_console) as track:
            result = run_audit(samples, "default", reference=reference, track=track, attached=attached)
        reports.write_reports(result.report, out / "reports" / release.name)
        store.record(result.report)
        results.append((release, result))

    console.print(_table(results))
    for release, result in results:
        _print_outcome(console, release, result)
    console.print(f"reports: {out / 'reports'}/<release>/report.md "
                  "(and report.json, junit.xml, report.sarif, report.html)")
    console.print(f"runs stored in {store.display_url}; "
                  f"list them with: aigc-audit runs --store {out / 'runs.sqlite'}")
    console.print(f"review them in the dashboard: {_dashboard_command(out / 'runs.sqlite')}")
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    unexpected = [(r.name, r.expected, res.report.verdict) for r, res in results
                  if not r.as_expected(res.report.verdict)]
    for name, expected, got in unexpected:
        console.print(f"[bold red]unexpected: {name} was meant to {expected} but its verdict is {got}[/]")
    return 1 if unexpected else 0


def _table(results: list[tuple[Release, AuditResult]]) -> Table:
    table = Table(title="aigc-audit demo: policies/default.yaml")
    longest = max((len(release.name) for release, _ in results), default=7)
    for column in ("release", "what it is", "items", "copies", "closest to training", "quality",
                   "verdict"):
        # Release names are ids a reader looks up in demo-out/reports/: never cut them short.
        table.add_column(column, justify="right" if column in ("items", "copies") else "left",
                         min_width=longest if column == "release" else None,
                         no_wrap=column == "release", overflow="fold")
    for release, result in results:
        report = result.report
        covered, distance = _max_covered_share(report), _closest_image(report)
        closest = " ".join(filter(None, (
            None if covered is None else f"covered {covered:.0%}",
            None if distance is None else f"pixel dist {distance:.2f}"))) or "n/a"
        verdict = style(report.verdict)
        table.add_row(release.name, release.description, str(report.samples.n_items),
                      str(len({f.item_id for f in _copies(report)})), closest, _quality(report),
                      f"[{verdict.terminal}]{verdict.label}[/]")
    return table


# The quality figures shown in the demo table, per evaluator: (metric, label, format).
_QUALITY_SHOWN = {
    "image_quality": (("frechet_distance", "FD", ".1f"), ("precision", "P", ".2f"),
                      ("recall", "R", ".2f"), ("class_entropy", "H", ".2f")),
    "text_quality": (("perplexity_ratio", "ppl x", ".2f"), ("distinct_2", "d2", ".2f"),
                     ("mauve", "MAUVE", ".2f")),
}


def _quality(report: Report) -> str:
    parts = []
    for evaluation in report.evaluations.values():
        for metric, label, fmt in _QUALITY_SHOWN.get(evaluation.evaluator, ()):
            value = evaluation.metrics.get(metric)
            if value is not None:
                parts.append(f"{label} {value:{fmt}}")
        if evaluation.evaluator in _QUALITY_SHOWN and evaluation.skip_reason:
            parts.append("skipped: too few items")
    return ", ".join(dict.fromkeys(parts)) or "n/a"


def _copies(report: Report) -> list[Finding]:
    """Findings of failed copy rules (``copyright.*``): items that copy a training item."""
    return [f for f in report.findings if f.status == FAIL and f.rule_id.startswith("copyright.")]


def _metric_values(report: Report, evaluator: str, metric: str) -> list[float]:
    return [e.metrics[metric] for e in report.evaluations.values()
            if e.evaluator == evaluator and e.n_items and e.metrics.get(metric) is not None]


def _max_covered_share(report: Report) -> float | None:
    return max(_metric_values(report, "text_copy", "max_covered_share"), default=None)


def _closest_image(report: Report) -> float | None:
    return min(_metric_values(report, "image_near_duplicate", "min_pixel_distance"), default=None)


def _print_outcome(console: Console, release: Release, result: AuditResult) -> None:
    """The verdict in words, each failed rule, and the training items copied, most copied first."""
    report = result.report
    passes = report.verdict != FAIL
    console.print(f"[bold]{release.name}[/] [{style(report.verdict).terminal}]"
                  f"{'passes' if passes else 'FAILS'}[/] (verdict {report.verdict}"
                  f"{': warnings only' if report.verdict == WARN else ''})")
    for rule in report.rules:
        if rule.failed:
            console.print(f"  {rule.level} {rule.rule_id}: {rule.metric} {rule.value_text()}, limit "
                          f"{rule.limit_text}", markup=False, highlight=False)
            if not rule.rule_id.startswith("copyright."):
                # Copies are summarised by training item below; other findings show their evidence.
                for finding in report.findings_of(rule.rule_id)[:_SHOWN_FINDINGS]:
                    console.print(f"    {finding.item_id}: {finding.message}", markup=False, highlight=False)
    copied: dict[str, list[Finding]] = {}
    for finding in _copies(report):
        copied.setdefault(finding.evidence.get(evidence.MATCH_ID, finding.item_id), []).append(finding)
    if not copied:
        return
    console.print(f"  copies {len(copied)} training item(s):")
    for match_id, hits in sorted(copied.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:_SHOWN_COPIES]:
        best = max(hits, key=lambda f: f.score).evidence
        text = best.get(evidence.MATCH_TEXT) or ""
        quoted = f' "{text[:50]}..."' if len(text) > 50 else f' "{text}"' if text else ""
        if evidence.PIXEL_DISTANCE in best:
            closeness = (f"pixel distance down to "
                         f"{min(f.evidence[evidence.PIXEL_DISTANCE] for f in hits):.3f}")
        else:
            closeness = f"up to {max(f.score for f in hits):.0%} of a sample's tokens aligned to it"
        console.print(f"    {match_id}: {len(hits)} sample(s), {closeness}{quoted}", markup=False,
                      highlight=False)
        console.print(f"      {best.get(evidence.MATCH_SOURCE, 'unknown source')}; licence "
                      f"{best.get(evidence.MATCH_LICENSE, 'unknown')}", markup=False, highlight=False)
    if len(copied) > _SHOWN_COPIES:
        console.print(f"    ... and {len(copied) - _SHOWN_COPIES} more: see the report")


def _dashboard_command(store_path: Path) -> str:
    try:
        from aigc_audit.governance.cli_review import dashboard_command
    except ImportError:  # the dashboard arrives with another part of the project
        return "not installed"
    return dashboard_command(str(store_path))
