"""The reference index in Redis, shared by several machines and service workers.

``redis://HOST:PORT/DB?prefix=NAME`` names it (``rediss://`` for TLS; ``prefix`` defaults to
``aigc-audit``). It holds what the folder index holds (``reference_index``), under the prefix:

    P:manifest              JSON, written last: schemes, parameters, library versions, counts, layout
    P:building              JSON parameters of a build or update that has not finished
    P:text                  hash: chunks, items, tokens (running totals)
    P:text:K                hash of text chunk K: items (JSON [[id, sha256], ...]), lengths, word_counts
    P:tokens:K              token ids of chunk K end to end (int64), read a text at a time
    P:signatures:K          MinHash signatures of chunk K (uint32), read only for another banding
    P:seed:B P:verbatim:B   n-gram postings of bucket B: (hash uint64, global token position int64)
    P:lsh:BAND:B            LSH postings of a band's bucket B: (folded band key uint64, text int64)
    P:image                 hash: chunks
    P:image:K               hash of image chunk K: rows (JSON), phash, dhash, thumbnails

A bucket is the top bits of a hash (:data:`NGRAM_BITS`, :data:`LSH_BITS`), so every posting of one
n-gram or band key lies in one bucket: a query reads the buckets of its own n-grams and band keys
(``MGET``) and the token ids of the texts they name, and nothing else. Loaded at start: the
manifest, the texts' ids, SHA-256s and lengths, and the image part (hashes and thumbnails, which
the image evaluator searches as a whole). The band tables are kept for the banding of
:data:`LSH_THRESHOLD` and :data:`LSH_MIN_RECALL` (text_near_duplicate's defaults); an audit with
another banding reads the stored signatures once and bands them in memory.

Writes go chunk by chunk, each chunk with its postings in one ``MULTI``/``EXEC`` transaction; the
script that appends the postings records the chunk in ``P:text`` last, so a chunk whose write
failed midway is not counted and is written again when the build resumes after its last counted
chunk (a posting appended twice is read once; postings of texts beyond a process's loaded count
are ignored). The manifest is deleted before anything changes and written last, so an index whose
build or update did not finish refuses to load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import numpy as np

from aigc_audit.errors import InputError
from aigc_audit.evaluators.base import Track, no_progress
from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex, fold_band, lsh_bands
from aigc_audit.evaluators.copying.ngram_index import Hits, NGramIndex, TokenCorpus
from aigc_audit.evaluators.copying.reference_index import (
    IMAGE_CHUNK_ITEMS,
    INDEX_FORMAT,
    INDEX_VERSION,
    SCHEMES,
    IndexParams,
    ReferenceIndex,
    UpdateSummary,
    _check_compatible,
    _versions,
    image_arrays,
    image_shapes,
    items_to_add,
    text_arrays,
)
from aigc_audit.sampleset import Item

if TYPE_CHECKING:
    import redis

URL_SCHEMES = ("redis://", "rediss://")
DEFAULT_PREFIX = "aigc-audit"
# Texts per chunk. Larger than the folder's: a chunk's postings go out as one APPEND per bucket, and
# the client's cost per command, not the bytes, bounds the build.
CHUNK_ITEMS = 20_000
# Buckets: 2**18 per n-gram table, 2**12 per band. At 10 million stored windows an n-gram bucket
# holds about 40 postings (600 bytes), so a query of 100 tokens reads about 60 KB per table.
NGRAM_BITS = 18
LSH_BITS = 12
# The banding the band tables are stored for: text_near_duplicate's default threshold and recall.
LSH_THRESHOLD = 0.5
LSH_MIN_RECALL = 0.99
# The key layout a manifest records and a load checks.
LAYOUT = {"ngram_bits": NGRAM_BITS, "lsh_bits": LSH_BITS}
# Appends to each key (ARGV[1], one per line) its part of ARGV[2] (the parts' sizes in ARGV[3]),
# then records the chunk in the totals (ARGV[4] the hash, ARGV[5:] its fields and values). A script
# that fails midway stops before the totals: the chunk is written again on resume, and a posting
# appended twice is read once.
_APPEND_ALL = """
local keys = {}
for name in string.gmatch(ARGV[1], "[^\\n]+") do keys[#keys + 1] = name end
local at, i = 1, 0
for size in string.gmatch(ARGV[3], "%d+") do
  i = i + 1
  local n = tonumber(size)
  redis.call("APPEND", keys[i], string.sub(ARGV[2], at, at + n - 1))
  at = at + n
end
redis.call("HSET", ARGV[4], unpack(ARGV, 5))
return i
"""
# The byte ranges of ARGV[2] ("chunk,first,last,..." for the keys ARGV[1] .. chunk) end to end.
_READ_RANGES = """
local parts, numbers = {}, {}
for v in string.gmatch(ARGV[2], "%-?%d+") do numbers[#numbers + 1] = v end
for i = 1, #numbers, 3 do
  if tonumber(numbers[i + 2]) >= tonumber(numbers[i + 1]) then
    parts[#parts + 1] = redis.call("GETRANGE", ARGV[1] .. numbers[i], numbers[i + 1], numbers[i + 2])
  end
end
return table.concat(parts)
"""
_COMPACT = """
for i = 1, #KEYS do
  local value = redis.call("GET", KEYS[i])
  if value then redis.call("SET", KEYS[i], value) end
end
return #KEYS
"""
POSTING = np.dtype([("key", "<u8"), ("value", "<i8")])
_PREFIX = re.compile(r"[A-Za-z0-9._:-]{1,100}")
T = TypeVar("T")


def is_redis_url(location: str | object) -> bool:
    """Whether an ``--out`` or ``--index`` names a Redis index rather than a folder."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def parse_url(url: str) -> tuple[str, str, str]:
    """``(connection URL, key prefix, URL to show)`` of a Redis index URL; the shown URL hides a password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    prefixes = query.pop("prefix", [DEFAULT_PREFIX])
    shown = url if not parts.password else url.replace(f":{parts.password}@", ":***@", 1)
    if len(prefixes) != 1 or not _PREFIX.fullmatch(prefixes[0]):
        raise InputError(f"the prefix must be one name of letters, digits and . _ : - (at most 100); got "
                         f"{prefixes!r}; write e.g. redis://localhost:6379/0?prefix=team-index", path=shown)
    if query:
        raise InputError(f"unknown URL parameter(s) {', '.join(sorted(query))}; the only one is prefix "
                         "(redis://HOST:PORT/DB?prefix=NAME)", path=shown)
    if not re.fullmatch(r"/?\d*", parts.path):
        raise InputError(f"the database must be a number (redis://HOST:PORT/DB); got {parts.path[1:]!r}",
                         path=shown)
    return urlunsplit(parts._replace(query="")), prefixes[0], shown


class RedisStore:
    """A connection to the server of an index URL and its key prefix; every Redis error becomes a
    one-line :class:`InputError` naming the URL."""

    def __init__(self, url: str):
        import redis

        self._redis_error = redis.RedisError
        connection, self.prefix, self.url = parse_url(url)
        try:
            self.client: redis.Redis = redis.Redis.from_url(connection, socket_connect_timeout=5,
                                                            socket_timeout=120)
        except ValueError as error:
            raise InputError(f"not a Redis URL ({error}); write redis://HOST:PORT/DB?prefix=NAME",
                             path=self.url) from None
        self.call(self.client.ping)

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def call(self, action: Callable[..., T], *args: Any) -> T:
        try:
            return action(*args)
        except self._redis_error as error:
            raise InputError(f"the Redis server did not answer ({type(error).__name__}: {error}); check that "
                             "it runs and that the URL is right", path=self.url) from None

    def get_json(self, *parts: object) -> Any:
        raw = self.call(self.client.get, self.key(*parts))
        try:
            return None if raw is None else json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"the key {self.key(*parts)} is not JSON ({error}); build the index again under "
                             "a new prefix", path=self.url) from None

    def execute(self, build: Callable[[Any], None], *, transaction: bool = False) -> list[Any]:
        """Queue commands with ``build(pipeline)`` and send them in one round trip (atomically with
        ``transaction``)."""
        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=transaction)
            build(pipe)
            return pipe.execute()
        return self.call(run)


def _buckets(keys: np.ndarray, bits: int) -> np.ndarray:
    return (keys >> np.uint64(64 - bits)).astype(np.int64)


def _grouped(keys: np.ndarray, values: np.ndarray, bits: int) -> Iterator[tuple[int, bytes]]:
    """The postings ``(key, value)`` grouped by bucket, each group packed as :data:`POSTING` records."""
    records = np.empty(len(keys), dtype=POSTING)
    records["key"], records["value"] = keys, values
    buckets = _buckets(keys, bits)
    order = np.argsort(buckets, kind="stable")
    records, buckets = records[order], buckets[order]
    edges = np.flatnonzero(np.diff(buckets)) + 1
    for start, end in zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(buckets)]])):
        if end > start:
            yield int(buckets[start]), records[start:end].tobytes()


def _postings(store: RedisStore, table: str, keys: np.ndarray, bits: int,
              below: int) -> tuple[np.ndarray, np.ndarray]:
    """Every stored posting of the buckets of ``keys`` whose value is below ``below``, sorted by key
    then value (as the folder index's stable sort orders them). ``below`` keeps a process to the
    texts it loaded: an ``index add`` while it runs appends postings of texts it does not know."""
    buckets = np.unique(_buckets(keys, bits)).tolist()
    if not buckets:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    blobs = store.call(store.client.mget, [store.key(table, f"{b:x}") for b in buckets])
    records = np.frombuffer(b"".join(b for b in blobs if b), dtype=POSTING)
    records = records[records["value"] < below]
    # A bucket is its chunks' sorted runs end to end, in the order of their values, so a stable sort
    # by key alone orders each key's values too, unless a chunk was appended twice (its first try
    # failed midway): then both fields are sorted and a posting twice counts once.
    order = np.argsort(records["key"], kind="stable")
    stored, values = records["key"][order], records["value"][order]
    same = stored[1:] == stored[:-1]
    if (same & (values[1:] <= values[:-1])).any():
        order = np.lexsort((values, stored))
        stored, values = stored[order], values[order]
        first = np.ones(len(stored), dtype=bool)
        first[1:] = (stored[1:] != stored[:-1]) | (values[1:] != values[:-1])
        stored, values = stored[first], values[first]
    return stored, values


class _StoredTokens:
    """The token ids of the indexed texts end to end, as ``corpus.ids``, read from Redis by text
    when indexed (positions or a slice); texts read once are kept up to ``_KEEP_TOKENS`` tokens
    (64 MiB), since the texts that hold common n-grams come back query after query."""

    _KEEP_TOKENS = 8_000_000

    def __init__(self, store: RedisStore, corpus: TokenCorpus, chunk_of: np.ndarray, chunk_start: np.ndarray):
        self.store, self.corpus = store, corpus
        self.chunk_of, self.chunk_start = chunk_of, chunk_start  # per text: its chunk, its first token there
        self._texts: dict[int, np.ndarray] = {}
        self._kept = 0  # tokens in _texts
        self._total = int(corpus.lengths.sum())

    def __len__(self) -> int:
        return self._total

    def _read(self, docs: list[int]) -> None:
        missing = [d for d in docs if d not in self._texts]
        if not missing:
            return
        if self._kept + int(self.corpus.lengths[missing].sum()) > self._KEEP_TOKENS:
            self._texts.clear()  # then every text of this call is read again, the kept ones too
            self._kept = 0
            missing = list(docs)
        lengths, chunks, starts = self.corpus.lengths, self.chunk_of, self.chunk_start
        wanted = np.asarray(missing, dtype=np.int64)
        # One script call reads every text (a command per text would cost the client more).
        first = starts[wanted] * 8
        ranges = np.stack([chunks[wanted], first, first + lengths[wanted] * 8 - 1], axis=1)
        blob = self.store.call(self.store.client.eval, _READ_RANGES, 0, self.store.key("tokens", ""),
                               ",".join(map(str, ranges.ravel().tolist())))
        ids = np.frombuffer(blob, dtype="<i8")
        if len(ids) != int(lengths[wanted].sum()):
            raise InputError(f"{len(ids)} stored tokens where the index lists {int(lengths[wanted].sum())} "
                             f"for {len(wanted)} text(s); build the index again", path=self.store.url)
        at = 0
        for d in missing:
            self._texts[d] = ids[at:at + lengths[d]]
            at += int(lengths[d])
        self._kept += at

    def __getitem__(self, where: slice | np.ndarray) -> np.ndarray:
        if isinstance(where, slice):
            positions = np.arange(*where.indices(len(self)), dtype=np.int64)
        else:
            positions = np.asarray(where, dtype=np.int64)
        flat = positions.ravel()
        docs = self.corpus.doc_of(flat)
        unique = np.unique(docs).tolist()
        self._read(unique)
        # The texts end to end in a local buffer; each position moves from the corpus to it.
        buffer = np.concatenate([self._texts[d] for d in unique]) if unique else np.empty(0, np.int64)
        sizes = np.array([len(self._texts[d]) for d in unique], dtype=np.int64)
        local_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        which = np.searchsorted(np.asarray(unique, dtype=np.int64), docs)
        out = buffer[local_start[which] + flat - self.corpus.starts[docs]] if len(flat) else flat.copy()
        return out.reshape(positions.shape)


class _StoredNGramIndex(NGramIndex):
    """An n-gram index whose postings stay in Redis: a lookup reads the buckets of the query's own
    n-grams and answers as :class:`NGramIndex` over them (the same hits, in the same order)."""

    def __init__(self, store: RedisStore, table: str, corpus: TokenCorpus, n: int, size: int):
        self.store, self.table, self.corpus, self.n, self.size = store, table, corpus, n, size

    def __len__(self) -> int:
        return self.size

    def _local(self, query_ids: np.ndarray) -> NGramIndex:
        from aigc_audit.evaluators.copying.ngram_index import window_hashes

        hashes, positions = _postings(self.store, self.table, window_hashes(query_ids, self.n), NGRAM_BITS,
                                      len(self.corpus.ids))
        return NGramIndex.from_arrays(self.corpus, self.n, hashes, positions)

    def counts(self, query_ids: np.ndarray) -> np.ndarray:
        return self._local(query_ids).counts(query_ids)

    def find(self, query_ids: np.ndarray, *, max_postings: int | None = None) -> Hits:
        return self._local(query_ids).find(query_ids, max_postings=max_postings)


def _ngram_postings(ids: np.ndarray, lengths: np.ndarray, n: int,
                    first_token: int) -> tuple[np.ndarray, np.ndarray]:
    index = NGramIndex(TokenCorpus.from_arrays(ids, lengths), n)
    return index.hashes, index.positions + first_token


def _text_chunk(store: RedisStore, items: Sequence[Item], shas: Sequence[str], params: IndexParams,
                lsh: tuple[int, int], cache: dict[str, int]) -> list[str]:
    """Store one chunk of texts and its postings in one transaction, after the chunks before it;
    returns the keys appended to."""
    import redis

    arrays = text_arrays(items, params, cache)
    bands, rows = lsh
    with_words = np.flatnonzero(arrays["word_counts"] > 0)
    with store.client.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(store.key("text"))
            totals = {k.decode(): int(v) for k, v in pipe.hgetall(store.key("text")).items()}
            chunk, first_item, first_token = (totals.get(k, 0) for k in ("chunks", "items", "tokens"))
            pipe.multi()
            pipe.hset(store.key("text", chunk), mapping={
                "items": json.dumps([[item.id, sha] for item, sha in zip(items, shas)]),
                "lengths": arrays["lengths"].astype("<i8").tobytes(),
                "word_counts": arrays["word_counts"].astype("<i8").tobytes()})
            pipe.set(store.key("tokens", chunk), arrays["tokens"].astype("<i8").tobytes())
            pipe.set(store.key("signatures", chunk), arrays["signatures"].astype("<u4").tobytes())
            appends: dict[str, bytes] = {}
            for table, n in (("seed", params.seed_tokens), ("verbatim", params.verbatim_tokens)):
                hashes, positions = _ngram_postings(arrays["tokens"], arrays["lengths"], n, first_token)
                appends.update((store.key(table, f"{bucket:x}"), blob)
                               for bucket, blob in _grouped(hashes, positions, NGRAM_BITS))
            for band in range(bands):
                keys = fold_band(arrays["signatures"][with_words], band, rows)
                appends.update((store.key("lsh", band, f"{bucket:x}"), blob)
                               for bucket, blob in _grouped(keys, with_words + first_item, LSH_BITS))
            # One script call appends to every bucket: a command (or even an argument) per bucket
            # would cost the client more than the bytes do. Inside the transaction: the chunk stays whole.
            names = list(appends)
            pipe.eval(_APPEND_ALL, 0, "\n".join(names), b"".join(appends.values()),
                      ",".join(str(len(blob)) for blob in appends.values()), store.key("text"),
                      "chunks", chunk + 1, "items", first_item + len(items),
                      "tokens", first_token + len(arrays["tokens"]))
            pipe.execute()
            return names
        except redis.WatchError:
            raise InputError("another build or update wrote to this index at the same time; run one at a "
                             "time, then run this one again (it resumes)", path=store.url) from None
        except redis.RedisError as error:
            raise InputError(f"the Redis server did not answer ({type(error).__name__}: {error}); check that "
                             "it runs, then run the build again (it resumes)", path=store.url) from None


def _image_chunk(store: RedisStore, items: Sequence[Item], shas: Sequence[str | None],
                 params: IndexParams) -> None:
    from aigc_audit.evaluators.copying.image_near_duplicate import reference_hashes

    hashes = reference_hashes(items, pixel_size=params.pixel_size)
    chunk = int(store.call(store.client.hget, store.key("image"), "chunks") or 0)
    rows = [[item.id, sha, hashes.errors.get(item.id)] for item, sha in zip(items, shas)]

    def queue(pipe: Any) -> None:
        pipe.hset(store.key("image", chunk), mapping={
            "rows": json.dumps(rows),
            **{name: np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
               for name, array in image_arrays(hashes).items()}})
        pipe.hset(store.key("image"), "chunks", chunk + 1)
    store.execute(queue, transaction=True)


def _chunk_fields(store: RedisStore, part: str, *fields: str) -> list[list[bytes]]:
    chunks = int(store.call(store.client.hget, store.key(part), "chunks") or 0)

    def queue(pipe: Any) -> None:
        for k in range(chunks):
            pipe.hmget(store.key(part, k), list(fields))
    return store.execute(queue)


def _lsh_banding(num_perm: int) -> tuple[int, int]:
    return lsh_bands(LSH_THRESHOLD, num_perm, LSH_MIN_RECALL)


def update_redis_index(url: str, references: Sequence[Item], params: IndexParams | None = None, *,
                       source: str = "", track: Track = no_progress) -> UpdateSummary:
    """:func:`reference_index.update_index` for an index in Redis: build it, resume a build, or add
    the items of ``references`` it does not hold yet (``params``: the defaults when not given)."""
    params = params or IndexParams()
    store = RedisStore(url)
    manifest = store.get_json("manifest")
    if manifest is not None:
        check_manifest(manifest, store.url)
        if manifest.get("params") != asdict(params):
            raise InputError(f"the index was built with parameters {manifest.get('params')}, not "
                             f"{asdict(params)}; pass the same parameters, or build a new index under "
                             "another prefix", path=store.url)
    building = store.get_json("building")
    if manifest is None and building is None and \
            store.call(lambda: next(store.client.scan_iter(store.key("*")), None)) is not None:
        raise InputError(f"keys under the prefix {store.prefix!r} exist but hold no aigc-audit index; pick "
                         "another prefix (?prefix=NAME)", path=store.url)
    if building is not None and building != asdict(params):
        raise InputError(f"an unfinished build here used parameters {building}, not {asdict(params)}; resume "
                         "it with those, or delete the prefix's keys", path=store.url)
    indexed: dict[str, str] = {}
    for (items,) in _chunk_fields(store, "text", "items"):
        indexed.update((k, v) for k, v in json.loads(items))
    indexed_images: dict[str, str | None] = {}
    for (rows,) in _chunk_fields(store, "image", "rows"):
        indexed_images.update((row[0], row[1]) for row in json.loads(rows))
    new, new_images = items_to_add(references, indexed, indexed_images, store.url)
    # From here on the index changes: it must not load until the manifest is written again.
    store.execute(lambda pipe: (pipe.delete(store.key("manifest")),
                                pipe.set(store.key("building"), json.dumps(asdict(params)))),
                  transaction=True)
    cache: dict[str, int] = {}
    lsh = _lsh_banding(params.num_perm)
    appended: set[str] = set()
    starts = range(0, len(new), CHUNK_ITEMS)
    for start in track(starts, "Index training texts", len(starts)):
        part = new[start:start + CHUNK_ITEMS]
        appended.update(_text_chunk(store, [r for r, _ in part], [s for _, s in part], params, lsh, cache))
    starts = range(0, len(new_images), IMAGE_CHUNK_ITEMS)
    for start in track(starts, "Index training images", len(starts)):
        part = new_images[start:start + IMAGE_CHUNK_ITEMS]
        _image_chunk(store, [r for r, _ in part], [s for _, s in part], params)
    # An appended string keeps room to grow (up to its size again); copied once, it takes its size.
    keys = sorted(appended)
    for start in range(0, len(keys), 10_000):
        store.call(store.client.eval, _COMPACT, len(keys[start:start + 10_000]), *keys[start:start + 10_000])
    totals = {k.decode(): int(v) for k, v in store.call(store.client.hgetall, store.key("text")).items()}
    image_rows = [row for (rows,) in _chunk_fields(store, "image", "rows") for row in json.loads(rows)]
    written = {
        "format": INDEX_FORMAT, "version": INDEX_VERSION, "schemes": SCHEMES, "params": asdict(params),
        "versions": _versions(), "reference": source, "items": totals.get("items", 0),
        "tokens": totals.get("tokens", 0), "images": len(image_rows),
        "unreadable_images": sum(row[2] is not None for row in image_rows),
        "layout": {**LAYOUT, "lsh_threshold": LSH_THRESHOLD,
                   "lsh_min_recall": LSH_MIN_RECALL, "lsh_bands": lsh[0], "lsh_rows": lsh[1]},
    }
    store.execute(lambda pipe: (pipe.set(store.key("manifest"), json.dumps(written)),
                                pipe.delete(store.key("building"))), transaction=True)
    added_ids = {r.id for r, _ in new_images}
    return UpdateSummary(added=len(new), kept=len(indexed), total=totals.get("items", 0),
                         images_added=len(new_images), images_kept=len(indexed_images),
                         images_total=len(image_rows),
                         unreadable_images={row[0]: row[2] for row in image_rows
                                            if row[2] is not None and row[0] in added_ids})



def check_manifest(manifest: Any, url: str) -> None:
    """Refuse a manifest that is not an aigc-audit index, or one built under other schemes, versions
    or a key layout this code does not read."""
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise InputError(f"not an aigc-audit index (format {found!r} where {INDEX_FORMAT!r} was expected)",
                         path=url)
    _check_compatible(manifest, url)  # type: ignore[arg-type]  # a URL names it as a path would
    layout = manifest.get("layout", {})
    wrong = {k: layout.get(k) for k, v in LAYOUT.items() if layout.get(k) != v}
    if wrong:
        raise InputError(f"the index was built with the key layout {wrong} (this aigc-audit reads {LAYOUT}); "
                         "build it again with 'aigc-audit index build'", path=url)


class RedisReferenceIndex(ReferenceIndex):
    """A complete index in Redis, checked; the same interface as the folder's :class:`ReferenceIndex`
    (``path`` is the URL). Use :meth:`load`."""

    def __init__(self, store: RedisStore, manifest: dict[str, Any]):
        self.store, self.path, self.manifest = store, store.url, manifest
        self.params = IndexParams(**manifest["params"])
        layout = manifest["layout"]
        self.lsh_banding = (int(layout["lsh_bands"]), int(layout["lsh_rows"]))
        items, lengths, word_counts, chunk_of, chunk_start = [], [], [], [], []
        chunks = _chunk_fields(store, "text", "items", "lengths", "word_counts")
        self.text_chunks = len(chunks)  # what this process knows, whatever 'index add' appends later
        for k, (rows, chunk_lengths, counts) in enumerate(chunks):
            items += json.loads(rows)
            chunk_lengths = np.frombuffer(chunk_lengths, dtype="<i8")
            lengths.append(chunk_lengths)
            word_counts.append(np.frombuffer(counts, dtype="<i8"))
            chunk_of.append(np.full(len(chunk_lengths), k, dtype=np.int64))
            chunk_start.append(np.concatenate([[0], np.cumsum(chunk_lengths)[:-1]]).astype(np.int64))
        if len(items) != manifest["items"]:
            raise ValueError(f"the manifest counts {manifest['items']} texts but {len(items)} are stored")
        self.item_ids = [r[0] for r in items]
        self.item_sha256 = [r[1] for r in items]

        def joined(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

        corpus = TokenCorpus.__new__(TokenCorpus)
        corpus.lengths = joined(lengths)
        corpus.starts = np.concatenate([[0], np.cumsum(corpus.lengths)[:-1]]).astype(np.int64) \
            if len(corpus.lengths) else np.empty(0, np.int64)
        corpus.ids = _StoredTokens(store, corpus, joined(chunk_of), joined(chunk_start))  # type: ignore[assignment]
        self.corpus = corpus
        self.word_counts = joined(word_counts)
        self.seed_index = _StoredNGramIndex(store, "seed", corpus, self.params.seed_tokens, 0)
        self.verbatim_index = _StoredNGramIndex(store, "verbatim", corpus, self.params.verbatim_tokens, 0)
        image_rows: list[list[Any]] = []
        shapes = image_shapes(self.params.pixel_size)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in shapes}
        for rows, *blobs in _chunk_fields(store, "image", "rows", *shapes):
            image_rows += json.loads(rows)
            for (name, (dtype, shape)), blob in zip(shapes.items(), blobs):
                parts[name].append(np.frombuffer(blob, dtype=dtype.newbyteorder("<")).reshape(-1, *shape))
        self.image_ids = [r[0] for r in image_rows]
        self.image_sha256 = [r[1] for r in image_rows]
        self.image_errors = {r[0]: r[2] for r in image_rows if r[2] is not None}
        arrays = {name: (np.concatenate(parts[name]).astype(dtype) if parts[name]
                         else np.zeros((0, *shape), dtype)) for name, (dtype, shape) in shapes.items()
                  if name not in ("values", "colours")}
        self.phash, self.dhash, self.thumbnails = arrays["phash"], arrays["dhash"], arrays["thumbnails"]
        # The colour thumbnails stay in their chunks' parts, as the folder index keeps them.
        self.values, self.colours = parts["values"], parts["colours"]
        self.colour_readable = arrays["colour_readable"]
        self._check_images(len(image_rows) - len(self.image_errors))
        self._cache: dict[str, int] = {}
        self._checked: object = None
        self._lsh: dict[tuple[int, int], tuple[BandedLSHIndex, np.ndarray]] = {}

    @classmethod
    def load(cls, url: str) -> RedisReferenceIndex:  # type: ignore[override]
        store = RedisStore(url)
        manifest = store.get_json("manifest")
        if manifest is None:
            building = store.call(store.client.exists, store.key("building"))
            raise InputError("the index is incomplete (its build or update did not finish); run 'aigc-audit "
                             "index build' again to finish it" if building else
                             "no index here; build one with 'aigc-audit index build --out URL'",
                             path=store.url)
        check_manifest(manifest, store.url)
        try:
            return cls(store, manifest)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise InputError(f"the index cannot be read ({error}); build it again", path=store.url) from None

    @property
    def signatures(self) -> np.ndarray:  # type: ignore[override]
        """Every stored signature, read whole (only for a banding the band tables were not built for)."""
        blobs = self.store.execute(lambda pipe: [pipe.get(self.store.key("signatures", k))
                                                 for k in range(self.text_chunks)])
        parts = [np.frombuffer(b, dtype="<u4").reshape(-1, self.params.num_perm) for b in blobs]
        return np.concatenate(parts) if parts else np.zeros((0, self.params.num_perm), np.uint32)

    def candidate_pairs(self, queries: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
        """As :meth:`ReferenceIndex.candidate_pairs`; for the stored banding, from the band tables in
        Redis (the buckets of the queries' band keys only)."""
        if (bands, rows) != self.lsh_banding:
            return super().candidate_pairs(queries, bands=bands, rows=rows)
        if queries.ndim != 2 or queries.shape[1] < bands * rows:
            raise ValueError(f"queries must be (m, >= {bands * rows}) like the indexed signatures; got "
                             f"{queries.shape}")
        found = []
        size = max(len(self.item_ids), 1)
        for band in range(bands):
            keys = fold_band(queries, band, rows)
            stored, texts = _postings(self.store, f"lsh:{band}", keys, LSH_BITS, len(self.item_ids))
            left = np.searchsorted(stored, keys, side="left")
            counts = np.searchsorted(stored, keys, side="right") - left
            total = int(counts.sum())
            if not total:
                continue
            query_index = np.repeat(np.arange(len(queries)), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            found.append(query_index * size + texts[np.repeat(left, counts) + offsets])
        if not found:
            return np.empty((0, 2), dtype=np.int64)
        codes = np.unique(np.concatenate(found))
        return np.stack([codes // size, codes % size], axis=1)


def load_index(location: str) -> ReferenceIndex:
    """The index a ``--index`` names: a Redis URL or a folder."""
    return RedisReferenceIndex.load(location) if is_redis_url(location) else ReferenceIndex.load(location)
