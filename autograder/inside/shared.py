"""In the child: big probe tensors the grader left in memory-backed files (sandbox/share.py)."""
from __future__ import annotations


def load_shared(path: str, dtype: str, shape: tuple):
    """In the child: a tensor the grader left in a memory-backed file, mapped copy-on-write.

    An n = 10**7 probe costs neither a pickle nor a copy: the child reads the grader's pages,
    and whatever student code writes to its argument lands in pages of its own.
    """
    import numpy as np
    import torch
    return torch.from_numpy(np.memmap(path, dtype=np.dtype(dtype), mode="c", shape=shape))
