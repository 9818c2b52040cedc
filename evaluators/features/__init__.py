"""Feature extractors the evaluators share: the one word tokenizer, text embeddings (MiniLM,
shipped in a package) and image features (``image_features``, which imports torch and is
therefore imported only where it runs)."""

from aigc_audit.evaluators.features.text_embeddings import MiniLMEmbedder
from aigc_audit.evaluators.features.tokens import tokenize, tokenize_with_spans

__all__ = ["MiniLMEmbedder", "tokenize", "tokenize_with_spans"]
