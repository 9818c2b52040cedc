"""text_copy on planted copies with known answers: each kind of copy a user means, in words and in
Chinese characters, verbatim spans exact to the token, and unrelated texts left alone."""

from __future__ import annotations

import random

import pytest

from aigc_audit.evaluators import evidence as keys
from aigc_audit.evaluators.copying.text_copy import TextCopy
from aigc_audit.evaluators.features.tokens import ScriptTokenizer
from aigc_audit.sampleset import REFERENCE, text_set

_SYLLABLES = ["ka", "lo", "mi", "ter", "san", "vo", "rel", "du", "pen", "shi", "mar", "tol", "ba", "gri",
              "nu"]


def _vocabulary(rng: random.Random, size: int = 1500) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def _paragraph(rng: random.Random, vocabulary: list[str], sentences: int = 5) -> str:
    return " ".join(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 12))).capitalize() + "."
                    for _ in range(sentences))


@pytest.fixture(scope="module")
def domain():
    rng = random.Random(7)
    vocabulary = _vocabulary(rng)
    training = [_paragraph(rng, vocabulary) for _ in range(60)]
    long_document = " ".join(_paragraph(rng, vocabulary) for _ in range(10))  # about 500 words
    unrelated = [_paragraph(rng, vocabulary) for _ in range(60)]
    return rng, vocabulary, training + [long_document], unrelated


def _run(texts, training, **params):
    result = TextCopy(**params).evaluate(text_set(texts, prefix="s"),
                                         text_set(training, role=REFERENCE, prefix="r"))
    return result, result.items


def _edit(text: str, rate: float, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for _ in range(round(rate * len(words))):
        i, kind = rng.randrange(len(words)), rng.choice("sid")
        if kind == "s":
            words[i] = rng.choice(vocabulary)
        elif kind == "i":
            words.insert(i, rng.choice(vocabulary))
        else:
            del words[i]
    return " ".join(words)


def test_each_kind_of_copy_is_flagged_and_unrelated_texts_are_not(domain):
    rng, vocabulary, training, unrelated = domain
    source, long_document = training[3], training[-1]
    sentences = [s + "." for s in source.split(". ") if s]
    words = source.split()
    middle = long_document.split()[230:290]
    planted = {
        "exact": source,
        "10% edited": _edit(source, 0.10, rng, vocabulary),
        "20% edited": _edit(training[4], 0.20, rng, vocabulary),
        "shuffled": " ".join(sentences[::-1]),
        "embedded": " ".join(unrelated[0].split()[:40] + training[5].split()[:30]
                             + unrelated[1].split()[:40]),
        "half": " ".join(words[:len(words) // 2] + unrelated[2].split()[:len(words) // 2]),
        "middle of a long document": " ".join(middle),
    }
    result, items = _run(list(planted.values()) + unrelated[3:], training)
    flagged = {kind: item.flagged for kind, item in zip(planted, items)}
    assert flagged == dict.fromkeys(planted, True)
    assert not any(item.flagged for item in items[len(planted):])
    assert result.metrics["flagged_count"] == len(planted)
    assert result.metrics["share_flagged"] == pytest.approx(len(planted) / len(items))
    by_kind = dict(zip(planted, items))
    assert by_kind["exact"].evidence[keys.COVERED_SHARE] == 1.0
    assert by_kind["exact"].evidence[keys.LONGEST_VERBATIM] == len(words)  # the whole text, verbatim
    # A long training document does not dilute the passage taken from its middle.
    assert by_kind["middle of a long document"].evidence[keys.COVERED_SHARE] == 1.0
    assert by_kind["middle of a long document"].evidence[keys.MATCH_ID] == "r-60"
    # The embedded passage covers about a quarter of its text: caught by its length, not its share.
    embedded = by_kind["embedded"].evidence
    assert embedded[keys.COVERED_SHARE] < 0.45 and embedded[keys.LONGEST_PASSAGE] >= 30


def test_verbatim_runs_are_exact_to_the_token(domain):
    _, _, training, unrelated = domain
    words = training[10].split()
    new = unrelated[5].split()
    exactly_k = " ".join(new[:20] + words[5:25] + new[20:40])  # a 20-token run
    one_short = " ".join(new[:20] + words[5:24] + new[20:40])  # 19 tokens
    params = dict(verbatim_tokens=20, passage_tokens=1000, share_threshold=1.0)
    _, (at_k, below_k) = _run([exactly_k, one_short], training, **params)
    assert at_k.flagged and at_k.evidence[keys.LONGEST_VERBATIM] == 20
    (run,) = [p for p in at_k.evidence[keys.SHARED] if p[keys.PASSAGE_VERBATIM]]
    assert run[keys.PASSAGE_TEXT] == " ".join(words[5:25]) and run[keys.PASSAGE_MATCH_ID] == "r-10"
    start, end = run[keys.REFERENCE_SPAN]
    assert training[10][start:end] == " ".join(words[5:25])
    assert not below_k.flagged and below_k.evidence[keys.LONGEST_VERBATIM] == 0
    assert not any(p[keys.PASSAGE_VERBATIM] for p in below_k.evidence.get(keys.SHARED, []))


def _hanzi(rng: random.Random, n: int) -> str:
    text = []
    for i in range(n):
        text.append(chr(rng.randint(0x4E00, 0x9FA5)))
        if i % 12 == 11:
            text.append("，" if i % 24 == 11 else "。")
    return "".join(text)


def test_chinese_copies_with_changed_characters_and_mixed_text():
    rng = random.Random(3)
    training = [_hanzi(rng, 120) for _ in range(40)]
    unrelated = [_hanzi(rng, 120) for _ in range(40)]
    source = list(training[7])
    for i in rng.sample([i for i, c in enumerate(source) if c not in "，。"], 6):  # 5% of the characters
        source[i] = chr(rng.randint(0x4E00, 0x9FA5))
    edited = "".join(source)
    embedded = unrelated[0][:40] + training[8][50:80] + unrelated[1][:40]  # 30 characters in new text
    mixed = "Model output: " + training[9][:60] + " -- end of sample, thank you for reading"
    _, items = _run([edited, embedded, mixed] + unrelated[2:], training)
    assert [i.flagged for i in items[:3]] == [True, True, True]
    assert not any(i.flagged for i in items[3:])
    assert items[0].evidence[keys.COVERED_SHARE] > 0.9
    assert "one token per character" in items[0].evidence[keys.TOKENIZATION]
    passage = items[1].evidence[keys.SHARED][0]
    start, end = passage[keys.SAMPLE_SPAN]
    assert embedded[start:end] == training[8][50:80] == passage[keys.PASSAGE_TEXT]
    assert items[2].evidence[keys.MATCH_ID] == "r-9"


def test_full_width_and_case_variants_are_the_same_copy(domain):
    _, _, training, _ = domain
    plain = training[12]
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c
                   for c in plain.upper())
    _, (item,) = _run([wide], training)
    assert item.flagged and item.evidence[keys.COVERED_SHARE] == 1.0
    assert item.evidence[keys.LONGEST_VERBATIM] == len(plain.split())
    passage = item.evidence[keys.SHARED][0]
    start, end = passage[keys.SAMPLE_SPAN]
    assert wide[start:end] == passage[keys.PASSAGE_TEXT]  # spans point into the text as written


def test_no_reference_text_and_empty_items():
    result, items = _run(["", "some words here"], ["only training text that shares nothing at all"])
    assert [i.flagged for i in items] == [False, False] and result.metrics["max_covered_share"] == 0.0
    assert TextCopy.describe(items[1]) == "no passage aligned to any training text"


def test_evidence_lists_each_stretch_once_in_order_from_the_best_match():
    from aigc_audit.evaluators.copying.text_copy import Passage, _shown

    run = Passage(doc=1, q_start=0, q_end=30, d_start=0, d_end=30, seeds=1, verbatim=True)
    short_run = Passage(doc=1, q_start=40, q_end=60, d_start=40, d_end=60, seeds=1, verbatim=True)
    same_as_run = Passage(doc=1, q_start=0, q_end=30, d_start=0, d_end=30, seeds=28)
    elsewhere = Passage(doc=2, q_start=70, q_end=80, d_start=0, d_end=10, seeds=8)
    other_doc = Passage(doc=1, q_start=70, q_end=80, d_start=90, d_end=100, seeds=8)
    shown = _shown([same_as_run, elsewhere, short_run, other_doc, run], best=1)
    # Verbatim runs first, longest first; each stretch once, from the best training item.
    assert [(q.q_start, q.verbatim, q.doc) for q in shown] == [(0, True, 1), (40, True, 1), (70, False, 1)]


def test_one_evaluator_reuses_its_index_only_for_the_same_training_set(domain):
    _, _, training, unrelated = domain
    copied = training[3]
    evaluator = TextCopy()
    first_reference = text_set(training, role=REFERENCE)
    samples = text_set([copied, unrelated[0]])
    first = evaluator.evaluate(samples, first_reference)
    again = evaluator.evaluate(samples, first_reference)
    assert [(r.item_id, r.flagged, r.evidence) for r in first.items] == \
        [(r.item_id, r.flagged, r.evidence) for r in again.items]
    assert [r.flagged for r in first.items] == [True, False]
    other = evaluator.evaluate(samples, text_set(training[10:20], role=REFERENCE))
    assert [r.flagged for r in other.items] == [False, False]


@pytest.fixture(scope="module")
def chinese_domain():
    rng = random.Random(11)
    training = [_hanzi(rng, 120) for _ in range(50)]
    long_document = _hanzi(rng, 600)  # about 600 characters, in the training set only as a whole
    unrelated = [_hanzi(rng, 120) for _ in range(50)]
    return rng, training + [long_document], unrelated


def _edit_characters(text: str, rate: float, rng: random.Random) -> str:
    characters = list(text)
    for _ in range(round(rate * len(characters))):
        i, kind = rng.randrange(len(characters)), rng.choice("sid")
        if kind == "s":
            characters[i] = chr(rng.randint(0x4E00, 0x9FA5))
        elif kind == "i":
            characters.insert(i, chr(rng.randint(0x4E00, 0x9FA5)))
        else:
            del characters[i]
    return "".join(characters)


def test_each_kind_of_chinese_copy_is_flagged_and_unrelated_texts_are_not(chinese_domain):
    rng, training, unrelated = chinese_domain
    source, long_document = training[3], training[-1]
    sentences = [s + "。" for s in source.split("。") if s]
    planted = {
        "exact": source,
        "10% edited": _edit_characters(source, 0.10, rng),
        "20% edited": _edit_characters(training[4], 0.20, rng),
        "shuffled": "".join(sentences[::-1]),
        "embedded": unrelated[0][:40] + training[5][20:50] + unrelated[1][:40],
        "half": source[:len(source) // 2] + unrelated[2][:len(source) // 2],
        "middle of a long document": long_document[280:320],
    }
    result, items = _run(list(planted.values()) + unrelated[3:], training)
    assert {kind: item.flagged for kind, item in zip(planted, items)} == dict.fromkeys(planted, True)
    assert not any(item.flagged for item in items[len(planted):])
    by_kind = dict(zip(planted, items))
    assert by_kind["exact"].evidence[keys.COVERED_SHARE] == 1.0
    assert by_kind["exact"].evidence[keys.LONGEST_VERBATIM] == len(ScriptTokenizer().tokens(source))
    assert by_kind["middle of a long document"].evidence[keys.MATCH_ID] == "r-50"
    assert by_kind["middle of a long document"].evidence[keys.COVERED_SHARE] == 1.0
    (passage,) = by_kind["middle of a long document"].evidence[keys.SHARED]
    start, end = passage[keys.REFERENCE_SPAN]
    assert long_document[start:end] == long_document[280:320]  # where it sits in the training item
    # Half copied: about half its characters covered, the covered ones those of the copied half.
    half = by_kind["half"].evidence
    assert 0.45 <= half[keys.COVERED_SHARE] <= 0.55
    assert half[keys.SHARED][0][keys.SAMPLE_SPAN][0] == 0


def test_a_chinese_verbatim_run_one_character_short_of_k_is_not_one(chinese_domain):
    rng, training, unrelated = chinese_domain
    long_document = training[-1]
    # Default k = 50 tokens, here 50 characters (punctuation is no token: count tokens, not chars).
    tokens, spans = ScriptTokenizer().tokens_with_spans(long_document)
    start = spans[100][0]
    at_k, one_short = (long_document[start:spans[100 + n - 1][1]] for n in (50, 49))
    _, (with_run, without_run) = _run([unrelated[0][:30] + at_k + unrelated[1][:30],
                                       unrelated[2][:30] + one_short + unrelated[3][:30]], training)
    assert with_run.flagged and with_run.evidence[keys.LONGEST_VERBATIM] == 50
    (run,) = [p for p in with_run.evidence[keys.SHARED] if p[keys.PASSAGE_VERBATIM]]
    assert run[keys.PASSAGE_TEXT] == at_k and run[keys.REFERENCE_SPAN] == [start, spans[149][1]]
    # Still a copied passage (flagged by its length), but not a verbatim run of k tokens.
    assert without_run.evidence[keys.LONGEST_VERBATIM] == 0
    assert not any(p[keys.PASSAGE_VERBATIM] for p in without_run.evidence[keys.SHARED])
    assert without_run.evidence[keys.LONGEST_PASSAGE] == 49


def test_mixed_scripts_copy_is_found_in_each_script():
    # English words, Chinese characters, Japanese kana and Thai in one training text.
    rng = random.Random(5)
    words = _vocabulary(rng, 200)
    training = [" ".join(rng.choice(words) for _ in range(12)) + _hanzi(rng, 20)
                + "ひらがなとカタカナのぶんしょう" + " ".join(rng.choice(words) for _ in range(12))
                + "ภาษาไทยไม่มีช่องว่าง" for _ in range(20)]
    copy = "Ｓａｍｐｌｅ： " + training[6]  # with a full-width prefix, which tokenises to a new word
    unrelated = ["Completely different text " + _hanzi(rng, 30) + " nothing shared here" for _ in range(5)]
    _, items = _run([copy] + unrelated, training)
    assert items[0].flagged and items[0].evidence[keys.MATCH_ID] == "r-6"
    passage = items[0].evidence[keys.SHARED][0]
    start, end = passage[keys.SAMPLE_SPAN]
    assert copy[start:end] == training[6] and passage[keys.REFERENCE_SPAN] == [0, len(training[6])]
    assert not any(item.flagged for item in items[1:])
