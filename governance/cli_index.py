"""``aigc-audit index build`` and ``index add``: a stored index of a training set's texts and images.

See ``evaluators/copying/reference_index.py`` for what the index holds and how a build resumes, and
``evaluators/copying/redis_index.py`` for the same index shared in Redis (``--out redis://...``).
``audit --index`` loads it (:func:`audit_index`). With ``--engine dask`` the build writes a band
index on a Dask cluster instead (``evaluators/copying/distributed_join.py``), and ``audit --engine
dask --index`` joins the generated texts against it there (:func:`audit_sources`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from aigc_audit.errors import ConfigError, InputError

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.distributed_join import DaskCandidateJoin
    from aigc_audit.evaluators.copying.reference_index import IndexParams, ReferenceIndex

LOCAL, DASK = "local", "dask"
ENGINES = (LOCAL, DASK)
# Options only the Dask engine reads; given with the local one they would be ignored, so they are refused.
_DASK_ONLY = ("scheduler", "workers", "partitions", "threshold", "min_recall")
# Options only the local index reads.
_LOCAL_ONLY = ("seed_tokens", "verbatim_tokens", "pixel_size")


def _params(args: argparse.Namespace) -> IndexParams:
    from aigc_audit.evaluators.copying.reference_index import IndexParams

    return IndexParams(seed_tokens=args.seed_tokens, verbatim_tokens=args.verbatim_tokens,
                       shingle_size=args.shingle_size, num_perm=args.num_perm, seed=args.seed,
                       pixel_size=args.pixel_size)


def _update(args: argparse.Namespace, out: Console, err: Console, *, must_exist: bool) -> int:
    from aigc_audit.evaluators.copying.redis_index import (
        RedisStore,
        is_redis_url,
        load_index,
        update_redis_index,
    )
    from aigc_audit.evaluators.copying.reference_index import MANIFEST, update_index
    from aigc_audit.governance.console import progress_tracker, terminal_safe
    from aigc_audit.sampleset import REFERENCE, load_sample_set

    location = args.out if not must_exist else args.index
    in_redis = is_redis_url(location)
    path: Path | str = location if in_redis else Path(location)
    if must_exist:
        load_index(location)  # 'add' extends a complete index; 'build' also finishes one
    elif in_redis:
        store = RedisStore(location)
        if store.get_json("manifest") is not None:
            raise InputError("an index is already built here; add items with 'aigc-audit index add --index "
                             f"{store.url}', or build under another prefix (?prefix=NAME)", path=store.url)
        path = store.url
    elif (Path(location) / MANIFEST).exists():
        raise InputError("an index is already built here; add items with 'aigc-audit index add --index "
                         f"{location}', or build into a new folder", path=location)
    reference = load_sample_set(args.reference, role=REFERENCE)
    update = update_redis_index if in_redis else update_index
    with progress_tracker(err) as track:
        summary = update(location, reference.items, _params(args), source=str(reference.path), track=track)
    images = ""
    if summary.images_total:
        images = (f"; {summary.images_added} image(s) added, {summary.images_kept} kept, "
                  f"{summary.images_total} in all")
    out.print(f"index {terminal_safe(path)}: {summary.added} text(s) added, {summary.kept} kept, "
              f"{summary.total} in all{images}", markup=False, highlight=False)
    if summary.unreadable_images:
        # Indexed as unreadable (an audit reports them as it would without the index), never dropped.
        listed = "; ".join(f"{terminal_safe(k)} ({terminal_safe(v)})"
                           for k, v in sorted(summary.unreadable_images.items())[:5])
        more = len(summary.unreadable_images) - 5
        err.print(f"{len(summary.unreadable_images)} image(s) could not be read and are indexed as "
                  f"unreadable: {listed}{f'; and {more} more' if more > 0 else ''}",
                  markup=False, highlight=False)
    return 0


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_engine_options(args: argparse.Namespace, local_only: tuple[str, ...] = ()) -> None:
    """Refuse an option the chosen engine would not read (each defaults to None when not given)."""
    names = _DASK_ONLY if args.engine == LOCAL else local_only
    unread = [n for n in names if getattr(args, n, None) is not None]
    if unread:
        other = DASK if args.engine == LOCAL else LOCAL
        raise ConfigError(f"{', '.join(map(_option, unread))} applies to --engine {other}, not --engine "
                          f"{args.engine}; leave it out or pass --engine {other}")


def _cmd_build(args: argparse.Namespace, out: Console, err: Console) -> int:
    _check_engine_options(args, _LOCAL_ONLY)
    if args.engine == DASK:
        return _build_dask(args, out)
    from aigc_audit.evaluators.copying.reference_index import IndexParams

    defaults = IndexParams()
    for name in _LOCAL_ONLY:
        if getattr(args, name) is None:
            setattr(args, name, getattr(defaults, name))
    return _update(args, out, err, must_exist=False)


def _build_dask(args: argparse.Namespace, out: Console) -> int:
    from aigc_audit.evaluators.copying.distributed_join import BandParams, build_band_index, dask_client
    from aigc_audit.governance.console import terminal_safe

    defaults = BandParams()
    params = BandParams(shingle_size=args.shingle_size, num_perm=args.num_perm, seed=args.seed,
                        threshold=defaults.threshold if args.threshold is None else args.threshold,
                        min_recall=defaults.min_recall if args.min_recall is None else args.min_recall)
    with dask_client(args.scheduler, **_workers(args)) as client:
        summary = build_band_index(args.reference, args.out, params, client=client,
                                   partitions=args.partitions or 8)
    bands, rows = params.bands
    out.print(f"band index {terminal_safe(args.out)}: {summary.texts} text(s), {summary.indexed} with words, "
              f"{summary.band_rows} band rows ({bands} bands of {rows} rows) in {summary.partitions} "
              "partition(s)", markup=False, highlight=False)
    return 0


def _workers(args: argparse.Namespace) -> dict[str, int]:
    if args.workers is not None and args.scheduler is not None:
        raise ConfigError("--workers sizes the local cluster; a cluster at --scheduler has its own workers "
                          "(leave out one of the two)")
    return {} if args.workers is None else {"workers": args.workers}


@contextmanager
def audit_sources(args: argparse.Namespace) -> Iterator[tuple[ReferenceIndex | None, DaskCandidateJoin | None,
                                                             str | None]]:
    """For ``audit``: the stored index, the Dask candidate join (with its cluster, open for the
    audit) and the reference set to audit against, as ``--engine``, ``--index`` and
    ``--reference`` say."""
    _check_engine_options(args)
    if args.engine == LOCAL:
        index, reference = audit_index(args.index, args.reference)
        yield index, None, reference
        return
    from aigc_audit.evaluators.copying.distributed_join import BandIndex, DaskCandidateJoin, dask_client

    if args.index is None:
        raise ConfigError("--engine dask joins against a band index; build one with 'aigc-audit index build "
                          "--engine dask --reference REF --out DIR' and pass it with --index DIR")
    index = BandIndex.load(args.index)
    with dask_client(args.scheduler, **_workers(args)) as client:
        yield None, DaskCandidateJoin(index, client, partitions=args.partitions or 8), \
            args.reference or index.manifest.get("reference") or None


def _cmd_add(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.evaluators.copying.redis_index import load_index

    built = load_index(args.index).params
    for name in ("seed_tokens", "verbatim_tokens", "shingle_size", "num_perm", "seed", "pixel_size"):
        setattr(args, name, getattr(built, name))
    return _update(args, out, err, must_exist=True)


def audit_index(index: str | None, reference: str | None) -> tuple[ReferenceIndex | None, str | None]:
    """The loaded index of ``audit --index`` and the reference set to audit against: the one
    given, else the one the index was built from."""
    if index is None:
        return None, reference
    from aigc_audit.evaluators.copying.redis_index import load_index

    loaded = load_index(index)
    return loaded, reference or loaded.manifest.get("reference") or None


def add_dask_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler``, ``--workers`` and ``--partitions``, for the commands that take ``--engine``."""
    parser.add_argument("--scheduler", metavar="ADDRESS", help="dask: address of a Dask scheduler "
                        "(tcp://HOST:8786); without it a local cluster runs on this machine")
    parser.add_argument("--workers", type=int,
                        help="dask: worker processes of the local cluster (default: 2)")
    parser.add_argument("--partitions", type=int, help="dask: partitions of the texts (default: 8)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    from aigc_audit.evaluators.copying.reference_index import PIXEL_SIZES, IndexParams

    defaults = IndexParams()
    index = commands.add_parser("index", help="a stored index of a training set, built once for many audits")
    sub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = sub.add_parser("build", help="index the texts and images of a reference set (resumes an "
                           "interrupted build)")
    build.add_argument("--reference", required=True, help="reference (training) set")
    build.add_argument("--out", required=True, help="index folder to write, or a shared index in Redis: "
                       "redis://HOST:PORT/DB?prefix=NAME")
    build.add_argument("--engine", choices=ENGINES, default=LOCAL,
                       help="local: the index folder (or Redis index) every audit reads; dask: a band "
                       "index of the texts built on a Dask cluster, for 'audit --engine dask' "
                       "(default: %(default)s)")
    build.add_argument("--seed-tokens", type=int,
                       help=f"text_copy seed n-gram length (default: {defaults.seed_tokens})")
    build.add_argument("--verbatim-tokens", type=int,
                       help=f"text_copy verbatim run length (default: {defaults.verbatim_tokens})")
    build.add_argument("--shingle-size", type=int, default=defaults.shingle_size,
                       help="text_near_duplicate words per shingle (default: %(default)s)")
    build.add_argument("--num-perm", type=int, default=defaults.num_perm,
                       help="text_near_duplicate MinHash permutations (default: %(default)s)")
    build.add_argument("--seed", type=int, default=defaults.seed,
                       help="text_near_duplicate MinHash seed (default: %(default)s)")
    build.add_argument("--pixel-size", type=int, choices=PIXEL_SIZES,
                       help=f"image_near_duplicate thumbnail side in pixels (default: {defaults.pixel_size})")
    build.add_argument("--threshold", type=float, help="dask: text_near_duplicate threshold the bands are "
                       "chosen for (default: 0.5)")
    build.add_argument("--min-recall", type=float, help="dask: text_near_duplicate min_recall the bands are "
                       "chosen for (default: 0.99)")
    add_dask_options(build)
    build.set_defaults(handler=_cmd_build)

    add = sub.add_parser("add", help="add the reference set's texts and images the index does not hold "
                         "yet, without indexing the others again")
    add.add_argument("--index", required=True, help="index folder or redis://HOST:PORT/DB?prefix=NAME")
    add.add_argument("--reference", required=True, help="the grown reference set")
    add.set_defaults(handler=_cmd_add)
