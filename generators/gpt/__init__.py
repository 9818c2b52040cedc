"""The built-in text generator: a small GPT (HuggingFace ``transformers``, trained from scratch).

``model`` holds the network and its config, ``train`` and ``sample`` the loops; they import torch,
so this face exposes only what is light.
"""

from aigc_audit.generators.gpt.config import DataSpec, SampleConfig, TrainConfig
from aigc_audit.generators.gpt.generator import GPT

__all__ = ["GPT", "DataSpec", "SampleConfig", "TrainConfig"]
