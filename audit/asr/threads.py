"""Native thread counts come from audit.toml, never from what the shell exports.

Every library that runs native threads is told its count explicitly:

- CTranslate2 (faster-whisper): cpu_threads = count(threads), never 0 (0 would mean
  "OMP_NUM_THREADS, else 4"), and num_workers = 1 (audit/transcribe.py).
- Silero VAD (onnxruntime, through faster-whisper's get_vad_model): faster-whisper already
  sets 1 intra-op and 1 inter-op thread.
- PyTorch (openai-whisper engine): torch.set_num_threads(count(threads)).
- BLAS (numpy's and scipy's OpenBLAS, under librosa and scikit-learn) and OpenMP
  (scikit-learn): threadpoolctl, once the libraries are loaded. Without it they follow the
  environment: a Ray worker gets OMP_NUM_THREADS=1 from Ray when the driver exports none,
  while a local process then runs OpenBLAS on every core.
- The sentence encoder (audit/detect/similarity.py) runs one thread whatever this says.

The executor sets the BLAS/OpenMP count wherever a job runs (audit/run/executor.py): in the
local pool's worker initializer, in each Ray worker, and around the in-process loop.

Measured on 2 cores (AMD EPYC, CTranslate2 4.8.5 int8, the 7 demo calls): transcripts were
identical with OMP/OPENBLAS/MKL_NUM_THREADS unset, 1 and 3, and with cpu_threads 1 and 2
(raw tokens and log-probabilities too: cpu_threads 1 and 4 on 4 calls, up to 8 on one);
the diarizer's features, LDA and KMeans were bit-identical under 1 to 32 BLAS/OpenMP
threads. What did differ between a local run and a Ray worker was only the BLAS/OpenMP
thread count itself (all cores vs 1), so the point here is that every count comes from
the config.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Read by BLAS and OpenMP runtimes when they load (libraries loaded after pinning, and
# processes started from a pinned worker).
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def count(threads: int) -> int:
    """The configured thread count; 0 = one per core of this machine (not the environment)."""
    return threads if threads > 0 else (os.cpu_count() or 1)


def _load_pools() -> None:
    """Load the native thread pools the pipeline uses, so threadpoolctl can reach them."""
    import sklearn.cluster  # noqa: F401  (loads scikit-learn's OpenMP, and numpy's and scipy's OpenBLAS)


_process_limits = None  # keeps the process-wide limits of a worker
_process_threads = 0


def pin_process(threads: int) -> int:
    """A worker process (local pool or Ray): BLAS and OpenMP at the configured count for
    the rest of its life. Cheap when the count is already set. Returns the count."""
    global _process_limits, _process_threads
    n = count(threads)
    if n == _process_threads:
        return n
    for var in ENV_VARS:
        os.environ[var] = str(n)
    _load_pools()
    from threadpoolctl import threadpool_limits

    _process_limits = threadpool_limits(limits=n)
    _process_threads = n
    return n


@contextmanager
def pinned(threads: int) -> Iterator[int]:
    """The caller's own process: the same limits while the block runs, the old ones after."""
    n = count(threads)
    _load_pools()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield n


def native_threads() -> dict[str, int]:
    """What the loaded BLAS/OpenMP pools run now, by library kind (the largest if several)."""
    from threadpoolctl import threadpool_info

    out: dict[str, int] = {}
    for pool in threadpool_info():
        out[pool["internal_api"]] = max(out.get(pool["internal_api"], 0), pool["num_threads"])
    return out
