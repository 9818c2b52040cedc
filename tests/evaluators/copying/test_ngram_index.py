"""The exact n-gram index: every occurrence found, none invented, windows inside documents."""

import numpy as np
import pytest

from aigc_audit.errors import ConfigError
from aigc_audit.evaluators.copying import ngram_index
from aigc_audit.evaluators.copying.ngram_index import NGramIndex, TokenCorpus, window_hashes


def brute_force(documents, query, n):
    found = set()
    for q in range(len(query) - n + 1):
        for d, doc in enumerate(documents):
            for p in range(len(doc) - n + 1):
                if list(doc[p:p + n]) == list(query[q:q + n]):
                    found.add((q, d, p))
    return found


def hits_set(hits):
    return set(zip(hits.query.tolist(), hits.doc.tolist(), hits.position.tolist()))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_every_occurrence_is_found_as_a_brute_force_scan_finds_it(n):
    rng = np.random.default_rng(n)
    documents = [rng.integers(0, 6, size=rng.integers(0, 30)) for _ in range(12)]
    query = rng.integers(0, 6, size=25)
    index = NGramIndex(TokenCorpus(documents), n)
    assert hits_set(index.find(query)) == brute_force(documents, query, n)


def test_windows_never_cross_a_document_boundary():
    index = NGramIndex(TokenCorpus([[1, 2], [3, 4]]), 2)
    assert len(index) == 2
    assert len(index.find(np.array([2, 3]))) == 0  # the end of one document and the start of the next
    assert hits_set(index.find(np.array([3, 4]))) == {(0, 1, 0)}


def test_a_hash_collision_is_not_an_occurrence(monkeypatch):
    # With every multiplier zero, every window hashes alike: only the token check tells them apart.
    monkeypatch.setattr(ngram_index, "_MULTIPLIERS", np.zeros(512, dtype=np.uint64))
    documents = [[1, 2, 3, 4], [5, 6, 7], [1, 2, 9]]
    index = NGramIndex(TokenCorpus(documents), 2)
    query = np.array([1, 2, 3, 8])
    expected = {(0, 0, 0), (1, 0, 1), (0, 2, 0)}
    assert hits_set(index.find(query)) == brute_force(documents, query, 2) == expected


def test_frequent_ngrams_can_be_left_out_of_a_lookup():
    documents = [[7, 7, 7, 7], [1, 2]]
    index = NGramIndex(TokenCorpus(documents), 2)
    assert index.counts(np.array([7, 7, 1, 2])).tolist() == [3, 0, 1]
    assert hits_set(index.find(np.array([7, 7, 1, 2]), max_postings=2)) == {(2, 1, 0)}


def test_empty_corpus_and_short_query():
    index = NGramIndex(TokenCorpus([]), 3)
    assert len(index) == 0 and len(index.find(np.array([1, 2, 3]))) == 0
    assert len(NGramIndex(TokenCorpus([[1, 2, 3]]), 3).find(np.array([1, 2]))) == 0
    assert window_hashes(np.array([1, 2]), 3).size == 0


def test_an_n_outside_the_supported_range_is_refused():
    with pytest.raises(ConfigError, match=r"n-gram length must be in \[1, 512\]; got 0"):
        window_hashes(np.array([1, 2, 3]), 0)


def test_the_document_of_a_position_skips_documents_of_no_tokens():
    corpus = TokenCorpus([[7, 8], [], [9], [], [], [5, 6, 4]])
    assert corpus.doc_of(np.arange(6)).tolist() == [0, 0, 2, 5, 5, 5]
    stored = TokenCorpus.from_arrays(corpus.ids, corpus.lengths)
    assert stored.doc_of(np.array([5, 2, 0])).tolist() == [5, 2, 0]
    hits = NGramIndex(corpus, 2).find(np.array([9, 5, 6], dtype=np.int64))
    # [9] is a whole document: no 2-gram of it crosses into the next; [5, 6] starts document 5.
    assert (hits.query.tolist(), hits.doc.tolist(), hits.position.tolist()) == ([1], [5], [0])
