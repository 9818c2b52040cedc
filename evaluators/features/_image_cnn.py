"""The domain feature network: a small CNN classifier whose penultimate layer gives the features.

Pure model code: the module and its config, no training loop and no I/O
(``evaluators.features.image_features`` trains, caches and applies it). Imported lazily: it imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class FeatureCNNConfig:
    image_size: int = 16      # input side; images are resized to it
    n_classes: int = 10
    feature_dim: int = 64     # width of the feature layer
    width: int = 16           # channels of the first convolution; doubled twice

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FeatureCNN(nn.Module):
    """Three convolution blocks, a feature layer and a linear classifier.

    The features are the feature layer's pre-activation output: taken after a ReLU, units that are
    never active would give constant dimensions and a singular covariance.
    """

    def __init__(self, config: FeatureCNNConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),           # (B, w, S/2, S/2)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),       # (B, 2w, S/4, S/4)
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(),                    # (B, 4w, S/4, S/4)
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),                               # (B, 64w)
        )
        self.features = nn.Linear(64 * w, config.feature_dim)                   # (B, F)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(config.feature_dim, config.n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) pixels in [0, 1] -> (B, F) features."""
        return self.features(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, C) class logits."""
        return self.classifier(self.embed(x))
