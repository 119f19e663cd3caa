"""Label maps: the binary tasks of the Forced Apart experiments.

Forced Apart trains on a coarse label (e.g. digits 0-4 versus 5-9) and evaluates how well the
learned features separate the original classes, so the caller keeps the original labels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_GROUPS = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))


def binary_labels(labels, groups: Sequence[Sequence[int]] = DEFAULT_GROUPS) -> np.ndarray:
    """Maps each label to the index of the group holding it: int32, 0 or 1 for two groups.

    Args:
      labels: integer array of any shape.
      groups: disjoint collections of labels; group ``g`` maps to ``g``.

    Raises:
      ValueError: non-integer labels, overlapping groups, or a label in no group.
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    groups = tuple(tuple(int(v) for v in group) for group in groups)
    if len(groups) < 2:
        raise ValueError(f"groups must hold at least two groups, got {groups}")
    group_of = {}
    for index, group in enumerate(groups):
        for value in group:
            if value in group_of:
                raise ValueError(f"groups overlap: label {value} is in groups "
                                 f"{group_of[value]} and {index}")
            group_of[value] = index
    unknown = sorted(set(np.unique(labels).tolist()) - set(group_of))
    if unknown:
        raise ValueError(f"labels {unknown} are in no group of {groups}")
    table_keys = np.array(sorted(group_of), dtype=np.int64)
    table_values = np.array([group_of[k] for k in table_keys], dtype=np.int32)
    return table_values[np.searchsorted(table_keys, labels)]
