"""Text copies as users mean them: a generated text that reproduces a training text, or a passage
of one, with some changes.

Each text is tokenised by script (words where words are separated by spaces, characters in
Chinese, Japanese, Thai and other scripts without spaces; NFKC and case folding first: see
``ScriptTokenizer``). Then, for every generated text:

- **Seeds**: every ``seed_tokens``-gram it shares with a training document, found in an exact index
  of all the training set's n-grams (``ngram_index``); n-grams that occur more than
  ``max_postings`` times in the training set are too common to anchor anything and are skipped.
- **Alignment**: seeds are chained into passages within one training document, each seed no more
  than ``max_gap`` tokens after the last and on nearly the same diagonal (``max_drift`` tokens of
  insertions or deletions between two seeds). A passage spans its first to its last seed, so the
  substituted, inserted and deleted tokens inside it count as copied. Matching works on positions
  inside training documents, so a long document does not dilute a copied passage, and sentences in
  another order are separate passages of the same document.
- **Covered share**: the share of the text's tokens inside passages of at least
  ``min_passage_tokens`` tokens (containment, not a symmetric similarity of whole documents).
- **Verbatim runs**: every run of at least ``verbatim_tokens`` tokens that occurs verbatim in the
  training set, found exactly from an index of all its ``verbatim_tokens``-grams.

An item is a copy when its covered share reaches ``share_threshold``, when one aligned passage
reaches ``passage_tokens`` tokens, or when it holds a verbatim run. The word-shingle Jaccard
similarity with the best-matching training passage is kept in the evidence as a secondary figure.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

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
from aigc_audit.evaluators.copying.ngram_index import Hits, NGramIndex, TokenCorpus
from aigc_audit.evaluators.evidence import (
    COVERED_SHARE,
    LONGEST_PASSAGE,
    LONGEST_VERBATIM,
    MATCH_ID,
    MATCH_LICENSE,
    MATCH_SOURCE,
    MATCH_TEXT,
    PASSAGE_MATCH_ID,
    PASSAGE_TEXT,
    PASSAGE_VERBATIM,
    PASSAGE_WORDS,
    REFERENCE_SPAN,
    SAMPLE_SPAN,
    SHARED,
    SIMILARITY,
    TOKENIZATION,
)
from aigc_audit.evaluators.features.tokens import ScriptTokenizer
from aigc_audit.sampleset import TEXT, Item, SampleSet

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex

KEY_SHARE_FLAGGED = "share_flagged"
KEY_FLAGGED_COUNT = "flagged_count"
KEY_MAX_COVERED_SHARE = "max_covered_share"
KEY_LONGEST_PASSAGE = "longest_passage"
KEY_VERBATIM_COUNT = "verbatim_count"

# At most this many shared passages are kept as evidence per item.
_MAX_PASSAGES = 8


@dataclass
class Passage:
    """A stretch of the generated text aligned to one training document: query tokens
    ``[q_start, q_end)`` against document tokens ``[d_start, d_end)``."""

    doc: int
    q_start: int
    q_end: int
    d_start: int
    d_end: int
    seeds: int
    verbatim: bool = False

    @property
    def length(self) -> int:
        return self.q_end - self.q_start


class _Tokenised:
    """A text and its token ids; the character spans of its tokens are found only when a passage
    of it is shown (most training texts never are)."""

    def __init__(self, text: str, ids: np.ndarray):
        self.text, self.ids = text, ids
        self._spans: list[tuple[int, int]] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            self._spans = ScriptTokenizer.spans(self.text)
        return self._spans


def training_ids(tokens: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """The ids of a training text's tokens; tokens not yet in ``vocabulary`` are added to it, in
    the order they first appear (each distinct token is looked up once, in C, not once a use)."""
    new = [t for t in dict.fromkeys(tokens) if t not in vocabulary]
    vocabulary.update(zip(new, range(len(vocabulary), len(vocabulary) + len(new))))
    return np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int64, count=len(tokens))


def chain_seeds(hits: Hits, seed_tokens: int, *, max_gap: int, max_drift: int) -> list[Passage]:
    """Greedy colinear chaining of seed hits, per training document: a seed extends the chain
    whose last seed starts before it, at most ``max_gap`` tokens earlier, on a diagonal (document
    position minus query position) within ``max_drift`` of that last seed's."""
    passages: list[Passage] = []
    order = np.lexsort((hits.position, hits.query, hits.doc))
    open_chains: list[Passage] = []
    current_doc = -1
    for q, doc, d in zip(hits.query[order].tolist(), hits.doc[order].tolist(),
                         hits.position[order].tolist()):
        if doc != current_doc:
            open_chains, current_doc = [], doc
        # Chains whose last seed is too far back can take no more seeds.
        open_chains = [c for c in open_chains if q - (c.q_end - seed_tokens) <= max_gap]
        best = None
        for chain in open_chains:
            last_q, last_d = chain.q_end - seed_tokens, chain.d_end - seed_tokens
            if last_q < q and abs((d - q) - (last_d - last_q)) <= max_drift and d > last_d:
                if best is None or chain.seeds > best.seeds:
                    best = chain
        if best is None:
            best = Passage(doc, q, q + seed_tokens, d, d + seed_tokens, 0)
            open_chains.append(best)
            passages.append(best)
        best.q_end, best.d_end = q + seed_tokens, d + seed_tokens
        best.seeds += 1
    return passages


def verbatim_runs(hits: Hits, n: int) -> list[Passage]:
    """Maximal runs from verified ``n``-gram hits: consecutive query positions on one diagonal of
    one document are one run of ``n + count - 1`` tokens."""
    runs: list[Passage] = []
    order = np.lexsort((hits.query, hits.position - hits.query, hits.doc))
    last: Passage | None = None
    for q, doc, d in zip(hits.query[order].tolist(), hits.doc[order].tolist(),
                         hits.position[order].tolist()):
        if last is not None and last.doc == doc and q == last.q_end - n + 1 and d == last.d_end - n + 1:
            last.q_end, last.d_end = q + n, d + n
            last.seeds += 1
            continue
        last = Passage(doc, q, q + n, d, d + n, 1, verbatim=True)
        runs.append(last)
    return runs


def covered_tokens(passages: list[Passage], n_tokens: int) -> np.ndarray:
    covered = np.zeros(n_tokens, dtype=bool)
    for p in passages:
        covered[p.q_start:p.q_end] = True
    return covered


def _shingles(ids: np.ndarray, size: int) -> set[tuple[int, ...]]:
    values = ids.tolist()
    if len(values) <= size:
        return {tuple(values)} if values else set()
    return {tuple(values[i:i + size]) for i in range(len(values) - size + 1)}


def _shown(passages: list[Passage], best: int) -> list[Passage]:
    """The passages for the evidence: verbatim runs, then the longest, then those of the best
    training item; one per stretch of the generated text (the same stretch can align to several
    training items, a paragraph and a longer document that contains it, say)."""
    shown: dict[tuple[int, int], Passage] = {}
    for q in sorted(passages, key=lambda q: (-q.verbatim, -q.length, q.doc != best, q.q_start)):
        shown.setdefault((q.q_start, q.q_end), q)
    return list(shown.values())[:_MAX_PASSAGES]


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _IndexedTexts:
    """The reference texts of a stored index, their token ids read from it when one is shown."""

    def __init__(self, refs: Sequence[Item], corpus: TokenCorpus):
        self.refs, self.corpus = refs, corpus
        self._done: dict[int, _Tokenised] = {}

    def __getitem__(self, doc: int) -> _Tokenised:
        if doc not in self._done:
            start, length = int(self.corpus.starts[doc]), int(self.corpus.lengths[doc])
            self._done[doc] = _Tokenised(self.refs[doc].text or "", self.corpus.ids[start:start + length])
        return self._done[doc]


class TextCopy(Evaluator):
    name = "text_copy"
    description = ("Generated texts that reproduce a training text or a passage of one, with edits: "
                   "share covered by aligned passages, longest passage, verbatim runs.")
    modalities = (TEXT,)
    needs_reference = True
    params = (
        Param("share_threshold", float, 0.45, "covered share at or above which an item is a copy",
              minimum=0.05, maximum=1.0),
        Param("passage_tokens", int, 16, "an aligned passage this long (in tokens) makes an item a copy",
              minimum=4, maximum=10_000),
        Param("verbatim_tokens", int, 50, "a verbatim run this long (in tokens) makes an item a copy",
              minimum=4, maximum=512),
        Param("min_passage_tokens", int, 8, "shortest aligned passage counted in the covered share",
              minimum=2, maximum=10_000),
        Param("seed_tokens", int, 3, "tokens per seed n-gram", minimum=1, maximum=16),
        Param("max_gap", int, 5, "most tokens from one seed to the next within a passage",
              minimum=1, maximum=100),
        Param("max_drift", int, 4, "most insertions or deletions between two seeds of a passage",
              minimum=0, maximum=50),
        Param("max_postings", int, 1000, "seed n-grams more frequent than this in the training set "
              "are too common to anchor a passage", minimum=1),
    )
    metrics = (
        Metric(KEY_SHARE_FLAGGED, "share of text items that copy a training text or passage",
               per_item=PER_ITEM_SHARE, minimum=0.0, maximum=1.0),
        Metric(KEY_FLAGGED_COUNT, "number of text items that copy a training text or passage",
               per_item=PER_ITEM_COUNT, minimum=0.0),
        Metric(KEY_MAX_COVERED_SHARE, "highest share of an item covered by passages aligned to "
               "training text", minimum=0.0, maximum=1.0),
        Metric(KEY_LONGEST_PASSAGE, "longest passage (tokens) of any item aligned to training text",
               minimum=0.0),
        Metric(KEY_VERBATIM_COUNT, "number of items holding a verbatim run of verbatim_tokens tokens",
               minimum=0.0),
    )

    # run_audit passes a stored reference index (aigc-audit audit --index) to evaluators that take one.
    accepts_index = True

    def __init__(self, *, index: ReferenceIndex | None = None, **params: Any):
        super().__init__(**params)
        self.index = index

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        if MATCH_ID not in e:
            return "no passage aligned to any training text"
        passages = e.get(SHARED) or []
        longest = (f"; longest passage {passages[0][PASSAGE_WORDS]} tokens: "
                   f"\"{_clip(passages[0][PASSAGE_TEXT])}\"") if passages else ""
        verbatim = (f"; verbatim run of {e[LONGEST_VERBATIM]} tokens" if e.get(LONGEST_VERBATIM) else "")
        return (f"{e[COVERED_SHARE]:.0%} of its tokens in passages of training item {e[MATCH_ID]} "
                f"({e.get(MATCH_SOURCE) or 'unknown source'}, licence {e.get(MATCH_LICENSE) or 'unknown'})"
                f"{verbatim}{longest}")

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(TEXT)
        refs = reference.items_of(TEXT) if reference is not None else ()
        tokenizer = ScriptTokenizer()
        ref_texts: list[_Tokenised] | _IndexedTexts
        to_ids: Callable[[list[str]], np.ndarray]
        if self.index is not None:
            # The stored index replaces tokenising and indexing the training set; its texts are
            # checked against the index (SHA-256) and tokenised again only for shown passages.
            self.index.require(self.name, seed_tokens=p["seed_tokens"], verbatim_tokens=p["verbatim_tokens"])
            self.index.check_reference_set(reference, refs)
            corpus, seed_index, verbatim_index = (self.index.corpus, self.index.seed_index,
                                                  self.index.verbatim_index)
            ref_texts = _IndexedTexts(refs, corpus)
            to_ids = self.index.token_ids
            where = f" (stored index {self.index.path})"
        else:
            # The indexed training set is kept for the next call with the same reference set (a
            # service checks item after item against one); the vocabulary is read-only after this.
            key = (id(reference), len(refs), refs[0].id if refs else None, refs[-1].id if refs else None)
            if getattr(self, "_indexed", (None,))[0] != key:
                vocabulary: dict[str, int] = {}
                tokenised = []
                for ref in track(refs, "Tokenise reference", len(refs)):
                    ids = training_ids(tokenizer.tokens(ref.text or ""), vocabulary)
                    tokenised.append(_Tokenised(ref.text or "", ids))
                built = TokenCorpus([t.ids for t in tokenised])
                self._indexed = (key, reference, vocabulary, tokenised, built,
                                 NGramIndex(built, p["seed_tokens"]), NGramIndex(built, p["verbatim_tokens"]))
            _, _, vocabulary, ref_texts, corpus, seed_index, verbatim_index = self._indexed
            # A token the training set never uses gets an id no training token has.
            unseen = len(vocabulary)

            def to_ids(tokens: list[str]) -> np.ndarray:
                return np.fromiter(map(vocabulary.get, tokens, itertools.repeat(unseen)), dtype=np.int64,
                                   count=len(tokens))
            where = ""
        notes = [info(f"tokens: {tokenizer.name}; {len(corpus.ids)} training tokens in {len(refs)} "
                      f"texts, every {p['seed_tokens']}-gram and {p['verbatim_tokens']}-gram indexed{where}")]
        if not refs:
            notes.append(info("the reference set holds no text items; nothing can be a copy"))

        results = []
        for item in track(items, "Align to training text", len(items)):
            ids = to_ids(tokenizer.tokens(item.text or ""))
            results.append(self._item_result(item, _Tokenised(item.text or "", ids), refs, ref_texts,
                                             seed_index, verbatim_index))
        flagged = sum(r.flagged for r in results)
        metrics = {
            KEY_SHARE_FLAGGED: flagged / len(items) if items else 0.0,
            KEY_FLAGGED_COUNT: float(flagged),
            KEY_MAX_COVERED_SHARE: max((r.evidence[COVERED_SHARE] for r in results), default=0.0),
            KEY_LONGEST_PASSAGE: float(max((r.evidence[LONGEST_PASSAGE] for r in results), default=0)),
            KEY_VERBATIM_COUNT: float(sum(bool(r.evidence[LONGEST_VERBATIM]) for r in results)),
        }
        return Evaluation(self.name, dict(p), metrics, results, n_items=len(items), notes=notes,
                          seconds=time.perf_counter() - started)

    def align(self, ids: np.ndarray, seed_index: NGramIndex,
              verbatim_index: NGramIndex) -> tuple[list[Passage], list[Passage]]:
        """The passages of ``ids`` (token ids) counted in the covered share, and its verbatim runs."""
        p = self.params_
        seeds = seed_index.find(ids, max_postings=p["max_postings"])
        chains = chain_seeds(seeds, p["seed_tokens"], max_gap=p["max_gap"], max_drift=p["max_drift"])
        passages = [c for c in chains if c.length >= p["min_passage_tokens"]]
        runs = verbatim_runs(verbatim_index.find(ids), p["verbatim_tokens"])
        return passages, runs

    def _item_result(self, item: Item, text: _Tokenised, refs: Sequence[Item],
                     ref_texts: list[_Tokenised] | _IndexedTexts,
                     seed_index: NGramIndex, verbatim_index: NGramIndex) -> ItemResult:
        p = self.params_
        n = len(text.ids)
        passages, runs = self.align(text.ids, seed_index, verbatim_index)
        covered = covered_tokens(passages + runs, n)
        share = float(covered.mean()) if n else 0.0
        longest = max((q.length for q in passages + runs), default=0)
        longest_run = max((r.length for r in runs), default=0)
        flagged = bool(share >= p["share_threshold"] or longest >= p["passage_tokens"] or runs)
        evidence: dict[str, Any] = {COVERED_SHARE: round(share, 6), LONGEST_PASSAGE: longest,
                                    LONGEST_VERBATIM: longest_run, TOKENIZATION: ScriptTokenizer.name}
        if passages or runs:
            by_doc: dict[int, np.ndarray] = {}
            for q in passages + runs:
                by_doc.setdefault(q.doc, np.zeros(n, dtype=bool))[q.q_start:q.q_end] = True
            best = max(by_doc, key=lambda d: (int(by_doc[d].sum()), -d))
            ref, ref_text = refs[best], ref_texts[best]
            in_best = [q for q in passages + runs if q.doc == best]
            region = ref_text.ids[min(q.d_start for q in in_best):max(q.d_end for q in in_best)]
            a, b = _shingles(text.ids, p["seed_tokens"]), _shingles(region, p["seed_tokens"])
            evidence.update({
                SIMILARITY: round(len(a & b) / len(a | b), 6) if a | b else 0.0,
                MATCH_ID: ref.id, MATCH_SOURCE: ref.source, MATCH_LICENSE: ref.license, MATCH_TEXT: ref.text,
                SHARED: [self._passage(q, text, refs, ref_texts) for q in _shown(runs + passages, best)],
            })
        return ItemResult(item.id, share, flagged, evidence)

    @staticmethod
    def _passage(q: Passage, text: _Tokenised, refs: Sequence[Item],
                 ref_texts: list[_Tokenised] | _IndexedTexts) -> dict[str, Any]:
        s_start, s_end = text.spans[q.q_start][0], text.spans[q.q_end - 1][1]
        ref_spans = ref_texts[q.doc].spans
        return {PASSAGE_WORDS: q.length, PASSAGE_TEXT: text.text[s_start:s_end], PASSAGE_VERBATIM: q.verbatim,
                PASSAGE_MATCH_ID: refs[q.doc].id, SAMPLE_SPAN: [s_start, s_end],
                REFERENCE_SPAN: [ref_spans[q.d_start][0], ref_spans[q.d_end - 1][1]]}
