"""Text from samples, the store and reviewers as Streamlit markup that shows exactly that text.

Every Streamlit call that takes a string (``st.markdown``, ``st.caption``, ``st.info``, labels)
parses it as Markdown, with Streamlit's extras (``:red[...]``, ``:material/...:``, ``$math$``):
``![t](http://host/x.png)`` in a generated text would make the reviewer's browser fetch that URL.
Pages wrap every piece of data in :func:`md` (running text) or :func:`code` (an id or a path).
No Streamlit here, so tests call these directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# CommonMark lets a backslash escape any ASCII punctuation; each such character is escaped, so
# none can start a link, an image, emphasis, a heading, a table, a directive or math.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# In an HTML block: the characters html.escape handles, Markdown's and Streamlit's own, and line
# breaks (a blank line would end the block and let Markdown parse what follows).
_HTML_ENTITIES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;",
                  ord("'"): "&#x27;", ord("\n"): "&#10;", ord("\r"): "&#13;",
                  **{ord(c): f"&#{ord(c)};" for c in "\\`*_[](){}#!|~:$=^+-"}}


def md(text: object) -> str:
    """``text`` on one line with every Markdown character escaped: shown as written."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))


def code(text: object) -> str:
    """``text`` as an inline code span (for ids and paths): a code span's content is literal,
    so only its fence must be longer than any run of backticks inside."""
    text = _LINE_BREAKS.sub(" ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A space each side (stripped again by Markdown) lets the text start or end with a backtick.
    padded = f" {text} " if longest or not text.strip() or text != text.strip() else text
    return f"{fence}{padded}{fence}"


def html_text(text: str) -> str:
    """``text`` escaped for an HTML block passed to ``st.markdown(..., unsafe_allow_html=True)``:
    no tag, no Markdown, and on one source line so that the block never ends early."""
    return text.translate(_HTML_ENTITIES)


def highlight_html(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` as escaped HTML with each (already merged) span in ``<mark>``."""
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(html_text(text[position:start]))
        pieces.append(f"<mark>{html_text(text[start:end])}</mark>")
        position = end
    pieces.append(html_text(text[position:]))
    return '<div style="white-space: pre-wrap; line-height: 1.6">' + "".join(pieces) + "</div>"

