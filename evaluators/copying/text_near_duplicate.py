"""Text near-duplicates: which generated texts copy a training text, and what they share.

MinHash signatures of word shingles (datasketch's permutation scheme, computed for many texts at
once by ``evaluators.copying.minhash``) go into a banded LSH index built over the reference set
(``evaluators.copying.minhash_lsh_index``, whose bands are chosen from ``threshold`` and
``min_recall``); every candidate the index returns is then checked with the exact Jaccard
similarity of the shingle sets, so the similarity a finding reports is the true one, never an
estimate. Words are those of ``evaluators.features.tokens``, the package's one tokenizer.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from aigc_audit.errors import ConfigError
from aigc_audit.evaluators.base import (
    PER_ITEM_COUNT,
    PER_ITEM_SHARE,
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Param,
    Track,
    info,
    no_progress,
)
from aigc_audit.evaluators.copying.minhash import element_hashes, shingle_hashes, signatures
from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex, candidate_probability, lsh_bands
from aigc_audit.evaluators.evidence import (
    MATCH_ID,
    MATCH_LICENSE,
    MATCH_SOURCE,
    MATCH_TEXT,
    PASSAGE_TEXT,
    PASSAGE_WORDS,
    REFERENCE_SPAN,
    SAMPLE_SPAN,
    SHARED,
    SIMILARITY,
)
from aigc_audit.evaluators.features.tokens import tokenize_with_spans
from aigc_audit.sampleset import TEXT, Item, SampleSet

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.distributed_join import DaskCandidateJoin
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex

KEY_SHARE_FLAGGED = "share_flagged"
KEY_FLAGGED_COUNT = "flagged_count"
KEY_MAX_SIMILARITY = "max_similarity"

# At most this many shared passages are kept as evidence per item.
_MAX_PASSAGES = 5


@dataclass(frozen=True)
class Words:
    """A text's normalised words with their character spans in the original text."""

    text: str
    tokens: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def words(text: str) -> Words:
    tokens = tokenize_with_spans(text)
    return Words(text, tuple(t for t, _ in tokens), tuple(span for _, span in tokens))


def word_shingles(tokens: Sequence[str], size: int) -> frozenset[str]:
    """Overlapping ``size``-word shingles; a text shorter than ``size`` is one shingle."""
    if not tokens:
        return frozenset()
    if len(tokens) <= size:
        return frozenset({" ".join(tokens)})
    return frozenset(" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def shared_passages(sample: Words, reference: Words, min_words: int) -> list[dict[str, Any]]:
    """Runs of at least ``min_words`` words that both texts share, longest first, with the
    character spans in each text so that a viewer can highlight them."""
    matcher = difflib.SequenceMatcher(None, sample.tokens, reference.tokens, autojunk=False)
    passages = []
    for block in matcher.get_matching_blocks():
        if block.size < max(1, min(min_words, len(sample.tokens))):
            continue
        s_start, s_end = sample.spans[block.a][0], sample.spans[block.a + block.size - 1][1]
        r_start, r_end = reference.spans[block.b][0], reference.spans[block.b + block.size - 1][1]
        passages.append({PASSAGE_WORDS: block.size, PASSAGE_TEXT: sample.text[s_start:s_end],
                         SAMPLE_SPAN: [s_start, s_end], REFERENCE_SPAN: [r_start, r_end]})
    passages.sort(key=lambda p: -p[PASSAGE_WORDS])
    return passages[:_MAX_PASSAGES]


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


class TextNearDuplicate(Evaluator):
    name = "text_near_duplicate"
    description = "Generated texts whose word shingles overlap a training text (exact Jaccard)."
    modalities = (TEXT,)
    needs_reference = True
    params = (
        Param("threshold", float, 0.5, "Jaccard similarity at or above which an item is a copy",
              minimum=0.05, maximum=1.0),
        Param("shingle_size", int, 5, "words per shingle", minimum=1, maximum=32),
        Param("num_perm", int, 128, "MinHash permutations", minimum=16, maximum=1024),
        Param("min_recall", float, 0.99, "LSH candidate probability required at the threshold",
              minimum=0.5, maximum=0.99999),
        Param("seed", int, 1, "MinHash seed", minimum=0),
    )
    metrics = (
        Metric(KEY_SHARE_FLAGGED, "share of text items at or above the threshold", per_item=PER_ITEM_SHARE,
               minimum=0.0, maximum=1.0),
        Metric(KEY_FLAGGED_COUNT, "number of text items at or above the threshold", per_item=PER_ITEM_COUNT,
               minimum=0.0),
        Metric(KEY_MAX_SIMILARITY, "highest verified Jaccard similarity of any item", minimum=0.0,
               maximum=1.0),
    )

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        if MATCH_ID not in e:
            return f"no training text shares its shingles (similarity {result.score:.3f})"
        passages = e.get(SHARED) or []
        longest = (f"; longest shared passage {passages[0][PASSAGE_WORDS]} words: "
                   f"\"{_clip(passages[0][PASSAGE_TEXT])}\"") if passages else ""
        return (f"Jaccard {result.score:.3f} with training item {e[MATCH_ID]} "
                f"({e.get(MATCH_SOURCE) or 'unknown source'}, licence {e.get(MATCH_LICENSE) or 'unknown'})"
                f"{longest}")

    # run_audit passes a stored reference index (aigc-audit audit --index) to evaluators that take one.
    accepts_index = True
    # run_audit passes a candidate join on a cluster (audit --engine dask) to evaluators that take one.
    accepts_engine = True

    def __init__(self, *, hashfunc: Callable[[bytes], int] | None = None, index: ReferenceIndex | None = None,
                 engine: DaskCandidateJoin | None = None, **params: Any):
        super().__init__(**params)
        if engine is not None and (index is not None or hashfunc is not None):
            raise ConfigError("the Dask engine reads its own band index of the built-in hash; it takes "
                              "neither a stored index nor a hashfunc (leave those out, or the engine)")
        self.hashfunc = hashfunc
        self.index = index
        self.engine = engine
        self._word_cache: dict[str, int] = {}

    def _signatures(self, token_lists: list[tuple[str, ...]], track: Track, what: str) -> np.ndarray:
        """MinHash signatures (datasketch's affine32 scheme, computed in batches), one row per text."""
        p = self.params_
        rows = []
        chunk = 4096
        for start in track(range(0, len(token_lists), chunk), f"MinHash {what}",
                           -(-len(token_lists) // chunk)):
            part = token_lists[start:start + chunk]
            if self.hashfunc is None:
                hashes, offsets = shingle_hashes(part, p["shingle_size"], cache=self._word_cache)
            else:
                hashes, offsets = element_hashes(
                    [[s.encode("utf-8") for s in sorted(word_shingles(t, p["shingle_size"]))] for t in part],
                    self.hashfunc)
            rows.append(signatures(hashes, offsets, num_perm=p["num_perm"], seed=p["seed"]))
        return np.concatenate(rows) if rows else np.empty((0, p["num_perm"]), dtype=np.uint32)

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(TEXT)
        refs = reference.of_modality(TEXT) if reference is not None else []
        bands, rows = lsh_bands(p["threshold"], p["num_perm"], p["min_recall"])
        notes = [info(f"LSH with {bands} bands of {rows} rows: a pair at Jaccard {p['threshold']} is a "
                      f"candidate with probability {candidate_probability(p['threshold'], bands, rows):.4f}")]
        if not refs:
            notes.append(info("the reference set holds no text items; nothing can be a copy"))

        # Reference words and shingles are computed for the candidates only (and, without a stored
        # index, the words of every reference text for its signature).
        ref_words: dict[int, Words] = {}
        ref_shingles: dict[int, frozenset[str]] = {}

        def shingles_of(i: int) -> frozenset[str]:
            if i not in ref_shingles:
                ref_words.setdefault(i, words(refs[i].text or ""))
                ref_shingles[i] = word_shingles(ref_words[i].tokens, p["shingle_size"])
            return ref_shingles[i]

        item_words = [words(i.text or "") for i in items]
        item_shingles = [word_shingles(w.tokens, p["shingle_size"]) for w in item_words]
        # A text without words has no shingles: it can match nothing and is left out of the index.
        item_rows = [i for i, s in enumerate(item_shingles) if s]
        best: dict[int, tuple[float, int]] = {}

        def keep_best(item_index: int, ref_index: int, sim: float) -> None:
            # Highest similarity wins; ties go to the earlier reference item, for stable output.
            if item_index not in best or (sim, -ref_index) > (best[item_index][0], -best[item_index][1]):
                best[item_index] = (sim, ref_index)

        if self.engine is not None:
            # Candidates and their exact similarities come from the cluster; the matches' words
            # (for the shared passages) from the reference set, once it is checked to be the indexed one.
            verified = self.engine.verified_pairs(
                [w.text for w in item_words], shingle_size=p["shingle_size"], num_perm=p["num_perm"],
                seed=p["seed"], threshold=p["threshold"], min_recall=p["min_recall"])
            self.engine.index.check_reference(refs, verified)
            notes.append(info(f"candidates joined and verified on Dask against the band index "
                              f"{self.engine.index.path}"))
            for item_index, ref_index, sim in zip(verified["gen_pos"].tolist(), verified["ref_pos"].tolist(),
                                                  verified["similarity"].tolist()):
                keep_best(item_index, ref_index, sim)
            for _, ref_index in best.values():
                ref_words.setdefault(ref_index, words(refs[ref_index].text or ""))
            has_refs = False  # the cluster has done the join
        elif self.index is not None:
            if self.hashfunc is not None:
                raise ConfigError("a stored index holds signatures of the built-in hash; an injected "
                                  "hashfunc cannot use it (leave out the index or the hashfunc)")
            self.index.require(self.name, shingle_size=p["shingle_size"], num_perm=p["num_perm"],
                               seed=p["seed"])
            self.index.check_reference_set(reference, refs)
            index = self.index
            has_refs = bool(len(index.text_rows()))
            # (query row, reference text) pairs; the index may answer from stored band tables.
            candidates = lambda queries: index.candidate_pairs(queries, bands=bands, rows=rows)  # noqa: E731
            notes.append(info(f"reference signatures from the stored index {self.index.path}"))
        else:
            ref_words.update((i, words(r.text or "")) for i, r in enumerate(refs))
            ref_rows = np.array([i for i, w in ref_words.items() if w.tokens], dtype=np.int64)
            has_refs = bool(len(ref_rows))

            def candidates(queries: np.ndarray) -> np.ndarray:
                lsh = BandedLSHIndex(self._signatures([ref_words[i].tokens for i in ref_rows.tolist()],
                                                      track, "reference"), bands=bands, rows=rows)
                pairs = lsh.candidate_pairs(queries)
                return np.stack([pairs[:, 0], ref_rows[pairs[:, 1]]], axis=1) if len(pairs) else pairs
        if has_refs and item_rows:
            pairs = candidates(self._signatures([item_words[i].tokens for i in item_rows], track, "samples"))
            for q, ref_index in track(pairs.tolist(), "Exact Jaccard", len(pairs)):
                item_index = item_rows[q]
                keep_best(item_index, ref_index, jaccard(item_shingles[item_index], shingles_of(ref_index)))
        results = []
        for index, item in enumerate(items):
            sim, ref_index = best.get(index, (0.0, None))
            match = None if ref_index is None else (refs[ref_index], ref_words[ref_index])
            results.append(self._item_result(item, item_words[index], sim, match))

        flagged = sum(r.flagged for r in results)
        metrics = {
            KEY_SHARE_FLAGGED: flagged / len(items) if items else 0.0,
            KEY_FLAGGED_COUNT: float(flagged),
            KEY_MAX_SIMILARITY: max((r.score for r in results), default=0.0),
        }
        return Evaluation(self.name, dict(p), metrics, results, n_items=len(items), notes=notes,
                          seconds=time.perf_counter() - started)

    def _item_result(self, item: Item, item_words: Words, similarity: float,
                     match: tuple[Item, Words] | None) -> ItemResult:
        flagged = similarity >= self.params_["threshold"]
        evidence: dict[str, Any] = {SIMILARITY: round(similarity, 6)}
        if match is not None:
            ref, ref_words = match
            evidence.update({MATCH_ID: ref.id, MATCH_SOURCE: ref.source, MATCH_LICENSE: ref.license,
                             MATCH_TEXT: ref.text})
            if flagged:
                evidence[SHARED] = shared_passages(item_words, ref_words, self.params_["shingle_size"])
        return ItemResult(item.id, similarity, flagged, evidence)
