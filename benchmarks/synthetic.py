"""A Fashion-MNIST-shaped dataset that can be generated anywhere: 60,000 + 10,000 images of
28x28 pixels in [0, 255], 10 classes, learnable (each class is a fixed random prototype
image plus noise), from a fixed seed. Written as an npz dnn-lab reads with dataset: npz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def make(n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 255, size=(10, 28, 28)).astype(np.float32)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, size=count)
        # tuned so that a linear model reaches about 0.84, near Fashion-MNIST's difficulty
        noise = rng.normal(0, 130, size=(count, 28, 28)).astype(np.float32)
        images = np.clip(prototypes[labels] * 0.22 + noise + 80, 0, 255).astype(np.uint8)
        return images, labels.astype(np.uint8)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write(path: Path, **kwargs) -> Path:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **make(**kwargs))
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/fashion_like.npz")))
