"""``text_near_duplicate``'s index building and candidate join on a Dask cluster.

The single-machine path holds every reference signature in one process. Here the same work is
expressed as Dask DataFrame operations, so that it runs on as many machines as a Dask scheduler
has workers, and on a :class:`distributed.LocalCluster` when no scheduler is given (tests, one box):

Building (:func:`build_band_index`)
    The reference set is read by the project's loader in a worker task (every malformed line still
    stops the build naming file and line) and split into partitions. Each partition's texts are
    hashed by the project's vectorised MinHash (:mod:`evaluators.copying.minhash`) and exploded
    into one ``(band, key, ref_pos)`` row per band (:func:`minhash_lsh_index.band_keys`). The rows
    and the texts are written as two partitioned Parquet datasets, ``bands/`` and ``texts/``; the
    ``manifest.json`` beside them (written last) records the hashing schemes and parameters, which
    :meth:`BandIndex.load` and :meth:`BandIndex.require` check.

The join (:meth:`DaskCandidateJoin.verified_pairs`)
    The generated texts' band rows, computed the same way, are merged with the reference's on
    ``(band, key)`` (Dask's shuffle-based hash join), reduced to distinct ``(gen_pos, ref_pos)``
    candidate pairs, joined with both texts, and every candidate is verified in ``map_partitions``
    by the exact Jaccard similarity of the shingle sets, with the evaluator's own functions. The
    evaluator then picks each item's best match as it does for its own candidates, so a finding is
    the same whichever path found it.

A cluster needs only its address (``tcp://host:8786``) and an index folder every worker can read
(a shared file system, or an ``s3://`` / ``gs://`` URL with the matching fsspec package). Dask is
imported inside the functions that use it, so the rest of the tool does not pay for it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators.copying.minhash import shingle_hashes, signatures
from aigc_audit.evaluators.copying.minhash_lsh_index import SCHEME as BAND_SCHEME
from aigc_audit.evaluators.copying.minhash_lsh_index import band_keys, lsh_bands
from aigc_audit.evaluators.copying.reference_index import SCHEMES as INDEX_SCHEMES
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, jaccard, word_shingles, words
from aigc_audit.sampleset import REFERENCE, TEXT, Item, content_sha256, load_sample_set

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

BAND_INDEX_FORMAT = "aigc-audit-band-index"
BAND_INDEX_VERSION = 1
SCHEMES = {"minhash": INDEX_SCHEMES["minhash"], "bands": BAND_SCHEME}
MANIFEST = "manifest.json"
# Local cluster size when no scheduler is given; a real cluster sizes itself.
LOCAL_WORKERS = 2


@dataclass(frozen=True)
class BandParams:
    """The ``text_near_duplicate`` parameters a band index depends on: the signature's and the
    banding's (``threshold`` and ``min_recall`` choose the bands)."""

    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.5
    min_recall: float = 0.99

    def __post_init__(self) -> None:
        # The evaluator's own parameter checks, so that an index cannot be built for an audit that
        # could never run.
        TextNearDuplicate.resolve_params(asdict(self))

    @property
    def bands(self) -> tuple[int, int]:
        """``(bands, rows)`` of the LSH banding, as the evaluator chooses them."""
        return lsh_bands(self.threshold, self.num_perm, self.min_recall)


@dataclass(frozen=True)
class BuildSummary:
    """What a build wrote: texts, texts with words (the ones with band rows), band rows, partitions."""

    texts: int
    indexed: int
    band_rows: int
    partitions: int


# -- the cluster --------------------------------------------------------------------------------------
@contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = LOCAL_WORKERS,
                processes: bool = True) -> Iterator[Client]:
    """A Dask client of the scheduler at ``scheduler`` (``tcp://host:8786``), or of a
    :class:`distributed.LocalCluster` of ``workers`` single-threaded workers (in this process when
    ``processes`` is false) when it is None. An address that cannot be reached is a ``ConfigError``."""
    from distributed import Client, LocalCluster

    if workers < 1:
        raise ConfigError(f"a local Dask cluster needs at least 1 worker; got {workers}")
    # distributed logs each shuffle's start and end as warnings; a run reports its own progress.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        if scheduler is None:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                yield client
            return
        try:
            # How long to try is Dask's own setting (distributed.comm.timeouts.connect, 30 s unless
            # configured, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s).
            client = Client(scheduler)
        except (OSError, ValueError, TypeError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler!r} ({reason}); start one with "
                              "'dask scheduler' and pass its tcp://HOST:8786 address, or leave out "
                              "--scheduler for a local cluster") from None
        with client:
            yield client
    finally:
        quiet.setLevel(level)


# -- work done in the workers (module-level functions, so that they pickle) ---------------------------
def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns)


_TEXT_META = {"ref_pos": np.int64, "ref_id": object, "sha256": object, "text": object}
_BAND_META = {"band": np.int16, "key": np.uint64}
_PAIR_META = {"gen_pos": np.int64, "ref_pos": np.int64}


def _empty(meta: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in meta.items()})


def _reference_texts(path: str) -> pd.DataFrame:
    """The reference set's text items, read by the project's loader, with their positions among
    them (the positions the evaluator's ``refs`` list has) and content hashes."""
    texts: list[Item] = load_sample_set(path, role=REFERENCE).of_modality(TEXT)
    return _frame({"ref_pos": np.arange(len(texts), dtype=np.int64),
                   "ref_id": [t.id for t in texts], "sha256": [content_sha256(t) for t in texts],
                   "text": [t.text or "" for t in texts]})


def _band_rows(part: pd.DataFrame, position: str, params: dict[str, int]) -> pd.DataFrame:
    """One ``(band, key, position)`` row per band of each text with words (one without words has no
    shingles and can match nothing, as on the single-machine path)."""
    tokens = [words(text).tokens for text in part["text"]]
    keep = [i for i, t in enumerate(tokens) if t]
    meta = {**_BAND_META, position: np.int64}
    if not keep:
        return _empty(meta)
    hashes, offsets = shingle_hashes([tokens[i] for i in keep], params["shingle_size"], cache={})
    sigs = signatures(hashes, offsets, num_perm=params["num_perm"], seed=params["seed"])
    keys = band_keys(sigs, params["bands"], params["rows"])  # (n, bands)
    positions = part[position].to_numpy(dtype=np.int64)[keep]
    return _frame({"band": np.tile(np.arange(params["bands"], dtype=np.int16), len(keep)),
                   "key": keys.ravel(), position: np.repeat(positions, params["bands"])})


def _verify(part: pd.DataFrame, shingle_size: int) -> pd.DataFrame:
    """The exact Jaccard similarity of each candidate pair's shingle sets (each text's shingles
    computed once per partition)."""
    cache: dict[tuple[str, int], frozenset[str]] = {}

    def shingles(side: str, position: int, text: str) -> frozenset[str]:
        if (side, position) not in cache:
            cache[side, position] = word_shingles(words(text).tokens, shingle_size)
        return cache[side, position]

    similarity = [jaccard(shingles("gen", g, gt), shingles("ref", r, rt)) for g, gt, r, rt in
                  zip(part["gen_pos"], part["gen_text"], part["ref_pos"], part["text"])]
    out = part[["gen_pos", "ref_pos", "ref_id", "sha256"]].copy()
    out["similarity"] = np.array(similarity, dtype=np.float64)
    return out


# -- the index ------------------------------------------------------------------------------------------
def _params_dict(params: BandParams) -> dict[str, int]:
    bands, rows = params.bands
    return {"shingle_size": params.shingle_size, "num_perm": params.num_perm, "seed": params.seed,
            "bands": bands, "rows": rows}


def build_band_index(reference: str | Path, out: str | Path, params: BandParams = BandParams(), *,
                     client: Client, partitions: int = 8) -> BuildSummary:
    """Write the band index of ``reference``'s texts to ``out`` (a new or empty folder, or one an
    unfinished build left), in ``partitions`` partitions, on ``client``'s cluster."""
    import dask
    import dask.dataframe as dd

    if partitions < 1:
        raise ConfigError(f"partitions must be >= 1; got {partitions}")
    out = Path(out)
    if (out / MANIFEST).exists():
        raise InputError("a band index is already built here; build into a new folder", path=out)
    if out.exists() and any(p.name not in ("bands", "texts") for p in out.iterdir()):
        raise InputError("the folder is not empty and holds no band index; pick an empty or new folder",
                         path=out)
    out.mkdir(parents=True, exist_ok=True)
    meta = _params_dict(params)
    read = dask.delayed(_reference_texts)(str(Path(reference).resolve()))
    texts = dd.from_delayed([read], meta=_empty(_TEXT_META), verify_meta=False)
    texts = texts.repartition(npartitions=partitions)
    rows = texts.map_partitions(_band_rows, "ref_pos", meta, meta=_empty({**_BAND_META, "ref_pos": np.int64}))
    writes = (texts.to_parquet(out / "texts", write_index=False, compute=False, overwrite=True),
              rows.to_parquet(out / "bands", write_index=False, compute=False, overwrite=True))
    # One computation, so that each partition is read and hashed once for the writes and the counts.
    # A loader error (file and line) fails the read every partition depends on: nothing is written.
    _, _, n_texts, n_rows = client.compute([*writes, texts.shape[0], rows.shape[0]], sync=True)
    indexed = int(n_rows) // meta["bands"]
    summary = BuildSummary(texts=int(n_texts), indexed=indexed, band_rows=int(n_rows), partitions=partitions)
    manifest = {"format": BAND_INDEX_FORMAT, "version": BAND_INDEX_VERSION, "schemes": SCHEMES,
                "params": asdict(params), "bands": meta["bands"], "rows": meta["rows"],
                "reference": str(reference), "texts": summary.texts, "indexed": indexed,
                "band_rows": summary.band_rows, "partitions": partitions, "versions": _versions()}
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, out / MANIFEST)  # written last: a folder without it is an unfinished build
    return summary


def _versions() -> dict[str, str]:
    import dask
    import pyarrow

    return {"numpy": np.__version__, "dask": dask.__version__, "pyarrow": pyarrow.__version__,
            "python": platform.python_version()}


class BandIndex:
    """A complete band index, its manifest checked. Use :meth:`load`."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.params = BandParams(**manifest["params"])
        self.texts = int(manifest["texts"])

    @classmethod
    def load(cls, path: str | Path) -> BandIndex:
        path = Path(path)
        file = path / MANIFEST
        if not file.exists():
            raise InputError("no band index here (or its build did not finish); build one with "
                             "'aigc-audit index build --engine dask'", path=path)
        try:
            manifest = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"the manifest cannot be read ({error}); build the index again",
                             path=file) from None
        if not isinstance(manifest, dict) or manifest.get("format") != BAND_INDEX_FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise InputError(f"not a band index (format {found!r} where {BAND_INDEX_FORMAT!r} was expected); "
                             "--engine dask reads an index built with 'aigc-audit index build --engine dask'",
                             path=file)
        problems = []
        if manifest.get("version") != BAND_INDEX_VERSION:
            problems.append(f"format version {manifest.get('version')!r} (this aigc-audit reads "
                            f"{BAND_INDEX_VERSION})")
        for key, scheme in SCHEMES.items():
            if manifest.get("schemes", {}).get(key) != scheme:
                found = manifest.get("schemes", {}).get(key)
                problems.append(f"{key} scheme {found!r} (this aigc-audit uses {scheme!r})")
        built = str(manifest.get("versions", {}).get("numpy", "?"))
        if built.split(".")[0] != np.__version__.split(".")[0]:
            problems.append(f"numpy {built!r} (this is numpy {np.__version__})")
        if problems:
            raise InputError(f"the band index was built under incompatible settings: {'; '.join(problems)}; "
                             "build it again with 'aigc-audit index build --engine dask'", path=file)
        try:
            return cls(path, manifest)
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"the manifest cannot be read ({error}); build the index again",
                             path=file) from None

    def require(self, **params: Any) -> None:
        """Refuse evaluator parameters that differ from those the index was built with."""
        built = asdict(self.params)
        wrong = {k: v for k, v in params.items() if built[k] != v}
        if wrong:
            given = ", ".join(f"{k}={v}" for k, v in wrong.items())
            raise InputError(f"text_near_duplicate runs with {given} but the band index was built with "
                             f"{', '.join(f'{k}={built[k]}' for k in wrong)}; "
                             "build one with those parameters (aigc-audit index build --engine dask --help)",
                             path=self.path)

    def check_reference(self, references: Sequence[Item], verified: pd.DataFrame) -> None:
        """Refuse a reference set that is not the indexed one: another number of texts, or a
        candidate whose id or content differs from the indexed text at its position."""
        if len(references) != self.texts:
            raise InputError(f"the reference set's {len(references)} text item(s) are not the band index's "
                             f"{self.texts}; pass the reference set the index was built from", path=self.path)
        for pos, ref_id, sha in verified[["ref_pos", "ref_id", "sha256"]].drop_duplicates().itertuples(
                index=False):
            item = references[pos]
            if item.id != ref_id or content_sha256(item) != sha:
                raise InputError(f"reference text {item.id!r} at position {pos} is not the indexed "
                                 f"{ref_id!r} (or its text changed); build the band index again",
                                 path=self.path)


class DaskCandidateJoin:
    """``text_near_duplicate``'s candidate join and exact verification against a band index, on
    ``client``'s cluster; the generated texts go in ``partitions`` partitions."""

    def __init__(self, index: BandIndex, client: Client, *, partitions: int = 8):
        if partitions < 1:
            raise ConfigError(f"partitions must be >= 1; got {partitions}")
        self.index, self.client, self.partitions = index, client, partitions

    def _generated(self, texts: Sequence[str]) -> Any:
        import dask.dataframe as dd
        import pandas as pd

        frame = pd.DataFrame({"gen_pos": np.arange(len(texts), dtype=np.int64), "gen_text": list(texts)})
        return dd.from_pandas(frame, npartitions=max(1, min(self.partitions, len(texts))), sort=False)

    def _pairs(self, generated: Any) -> Any:
        import dask.dataframe as dd

        params = _params_dict(self.index.params)
        gen_rows = generated.rename(columns={"gen_text": "text"}).map_partitions(
            _band_rows, "gen_pos", params, meta=_empty({**_BAND_META, "gen_pos": np.int64}))
        ref_rows = dd.read_parquet(self.index.path / "bands")
        return gen_rows.merge(ref_rows, on=["band", "key"])[["gen_pos", "ref_pos"]].drop_duplicates()

    def candidate_pairs(self, texts: Sequence[str]) -> np.ndarray:
        """The distinct ``(gen_pos, ref_pos)`` pairs of texts that share a band, as an ``(m, 2)``
        array sorted by generated then reference position."""
        if not len(texts):
            return np.empty((0, 2), dtype=np.int64)
        pairs = self.client.compute(self._pairs(self._generated(texts))).result().to_numpy(dtype=np.int64)
        return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].reshape(-1, 2)

    def verified_pairs(self, texts: Sequence[str], **params: Any) -> pd.DataFrame:
        """Every candidate pair of ``texts`` (by position) and the indexed reference texts with
        its exact Jaccard similarity: columns ``gen_pos, ref_pos, ref_id, sha256, similarity``.
        ``params`` (the evaluator's) must be those the index was built with."""
        import dask.dataframe as dd

        self.index.require(**params)
        meta = _empty({**_PAIR_META, "ref_id": object, "sha256": object, "similarity": np.float64})
        if not len(texts):
            return meta
        generated = self._generated(texts)
        candidates = self._pairs(generated).merge(generated, on="gen_pos").merge(
            dd.read_parquet(self.index.path / "texts"), on="ref_pos")
        verified = candidates.map_partitions(_verify, self.index.params.shingle_size, meta=meta)
        return self.client.compute(verified).result().reset_index(drop=True)
