"""Tokens: the word tokenizer of the quality metrics, and the script-aware tokens of copy detection."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigc_audit.evaluators.features.tokens import (
    _SCRIPT_TOKEN,
    ScriptTokenizer,
    tokenize,
    tokenize_with_spans,
)


def test_words_keep_apostrophes_and_spans_point_into_the_text():
    text = "Don't STOP, the band's playing."
    assert tokenize(text) == ["don't", "stop", "the", "band's", "playing"]
    spans = [span for _, span in tokenize_with_spans(text)]
    assert [text[a:b] for a, b in spans] == ["Don't", "STOP", "the", "band's", "playing"]


def test_scripts_without_spaces_are_one_token_per_character_in_mixed_text():
    tokens, spans = ScriptTokenizer().tokens_with_spans("我们学习Python语言。Hello, 世界!")
    assert tokens == ["我", "们", "学", "习", "python", "语", "言", "hello", "世", "界"]
    text = "我们学习Python语言。Hello, 世界!"
    assert [text[a:b] for a, b in spans] == ["我", "们", "学", "习", "Python", "语", "言", "Hello", "世",
                                             "界"]
    assert ScriptTokenizer().tokens("ภาษาไทย") == list("ภาษาไทย")  # Thai: no spaces, one per character
    assert ScriptTokenizer().tokens("カタカナ と ひらがな") == list("カタカナとひらがな")


@pytest.mark.parametrize("variant, plain", [
    ("ＦＵＬＬ－ＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３", "full-width letters 123"),
    ("the ﬁrst ﬂoor", "the first floor"),
    ("Don’t STOP", "don't stop"),
    (unicodedata.normalize("NFD", "café naïve"), "café naïve"),
    ("ｶﾀｶﾅ", "カタカナ"),
    ("Straße", "strasse"),
])
def test_unicode_variants_tokenise_like_their_plain_form(variant, plain):
    tokenizer = ScriptTokenizer()
    assert tokenizer.tokens(variant) == tokenizer.tokens(plain)


def test_spans_of_normalised_tokens_still_cut_the_original_text():
    text = "ＡＢＣ　ｄｅｆ"
    tokens, spans = ScriptTokenizer().tokens_with_spans(text)
    assert tokens == ["abc", "def"] and [text[a:b] for a, b in spans] == ["ＡＢＣ", "ｄｅｆ"]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_text_tokenises_as_normalising_each_token_would(text):
    """ASCII text takes a faster path (lower-case the whole text, a simpler pattern); it must give
    the tokens of the general one, and spans that cut them out of the text."""
    tokenizer = ScriptTokenizer()
    general = [tokenizer.normalise(m.group()) for m in _SCRIPT_TOKEN.finditer(text)]
    assert tokenizer.tokens(text) == general
    assert [tokenizer.normalise(text[a:b]) for a, b in tokenizer.spans(text)] == general
