"""Rough dump/load timings of amberfile next to joblib on this machine (best of 3).

Run: .venv/bin/python python/examples/compare_joblib.py [directory]
Not a benchmark suite: one 256 MB float64 array and one 100-tree random forest.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

import amberfile


def best_of(action, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    amber_path = os.path.join(directory, "object.amber")
    joblib_path = os.path.join(directory, "object.joblib")
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    subjects = {
        "array 256 MB": np.random.default_rng(0).random((4000, 8000)),
        "RandomForest 100 trees": RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y),
    }
    for name, obj in subjects.items():
        timings = {
            "amber dump": best_of(lambda: amberfile.dump(obj, amber_path)),
            "joblib dump": best_of(lambda: joblib.dump(obj, joblib_path)),
            "amber load": best_of(lambda: amberfile.load(amber_path)),
            "joblib load": best_of(lambda: joblib.load(joblib_path)),
            "amber load mmap": best_of(lambda: amberfile.load(amber_path, mmap_mode="r")),
            "joblib load mmap": best_of(lambda: joblib.load(joblib_path, mmap_mode="r")),
        }
        sizes = f"sizes {os.path.getsize(amber_path):,} / {os.path.getsize(joblib_path):,} bytes"
        print(f"{name}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in timings.items()) + f"; {sizes}")


if __name__ == "__main__":
    main()
