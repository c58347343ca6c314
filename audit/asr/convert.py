"""`callaudit model convert`: a CTranslate2 Whisper model.bin -> an openai-whisper checkpoint (.pt).

So both engines run on identical weights and can be compared honestly. The reader
follows CTranslate2's binary layout (version 6: spec name, variables with rank,
shape, dtype and raw bytes, then aliases); the name mapping follows CTranslate2's
Whisper spec (fused q/k/v in self-attention, fused k/v in cross-attention).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
from pathlib import Path

import numpy as np

from audit.errors import ModelError

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 model.bin (aliases resolved)."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:

        def num(fmt: str):
            size = struct.calcsize(fmt)
            return struct.unpack("<" + fmt, f.read(size))[0]

        def text() -> str:
            return f.read(num("H")).rstrip(b"\0").decode()

        version = num("I")
        if version < 5:
            raise ModelError(f"{path}: CTranslate2 binary version {version} is too old to convert (need >= 5)")
        spec, _revision = text(), num("I")
        if spec != "WhisperSpec":
            raise ModelError(f"{path}: a {spec} model, not Whisper")
        for _ in range(num("I")):
            name = text()
            shape = [num("I") for _ in range(num("B"))]
            dtype = num("B")
            nbytes = num("I")
            raw = f.read(nbytes)
            if dtype not in _DTYPES:
                raise ModelError(f"{path}: variable {name} has dtype id {dtype}; convert needs float16/float32 weights")
            out[name] = np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(shape)
        for _ in range(num("I")):
            alias, target = text(), text()
            out[alias] = out[target]
    if any(k.endswith("weight_scale") for k in out):
        raise ModelError(f"{path}: an int8-quantized model; convert needs the float16/float32 weights")
    return out


def _attn(v: dict, src: str, dst: str, state: int, sd: dict, cross: bool = False) -> None:
    if cross:
        sd[f"{dst}.query.weight"] = v[f"{src}/linear_0/weight"]
        sd[f"{dst}.query.bias"] = v[f"{src}/linear_0/bias"]
        kv_w, kv_b = v[f"{src}/linear_1/weight"], v[f"{src}/linear_1/bias"]
        sd[f"{dst}.key.weight"] = kv_w[:state]
        sd[f"{dst}.value.weight"], sd[f"{dst}.value.bias"] = kv_w[state:], kv_b[state:]
        out = f"{src}/linear_2"
    else:
        w, b = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
        sd[f"{dst}.query.weight"], sd[f"{dst}.query.bias"] = w[:state], b[:state]
        sd[f"{dst}.key.weight"] = w[state : 2 * state]  # Whisper's key projection has no bias
        sd[f"{dst}.value.weight"], sd[f"{dst}.value.bias"] = w[2 * state :], b[2 * state :]
        out = f"{src}/linear_1"
    sd[f"{dst}.out.weight"], sd[f"{dst}.out.bias"] = v[f"{out}/weight"], v[f"{out}/bias"]


def _ln(v: dict, src: str, dst: str, sd: dict) -> None:
    sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/gamma"], v[f"{src}/beta"]


def _linear(v: dict, src: str, dst: str, sd: dict) -> None:
    sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/weight"], v[f"{src}/bias"]


def to_openai_state(v: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(dims, state_dict of numpy arrays) in openai-whisper's naming."""
    def layers(part: str) -> int:
        return len({m.group(1) for k in v if (m := re.match(rf"{part}/layer_(\d+)/", k))})

    n_enc, n_dec = layers("encoder"), layers("decoder")
    state = v["encoder/conv1/weight"].shape[0]
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    sd: dict[str, np.ndarray] = {}
    _linear(v, "encoder/conv1", "encoder.conv1", sd)
    _linear(v, "encoder/conv2", "encoder.conv2", sd)
    sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _ln(v, f"{s}/self_attention/layer_norm", f"{d}.attn_ln", sd)
        _attn(v, f"{s}/self_attention", f"{d}.attn", state, sd)
        _ln(v, f"{s}/ffn/layer_norm", f"{d}.mlp_ln", sd)
        _linear(v, f"{s}/ffn/linear_0", f"{d}.mlp.0", sd)
        _linear(v, f"{s}/ffn/linear_1", f"{d}.mlp.2", sd)
    _ln(v, "encoder/layer_norm", "encoder.ln_post", sd)
    sd["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _ln(v, f"{s}/self_attention/layer_norm", f"{d}.attn_ln", sd)
        _attn(v, f"{s}/self_attention", f"{d}.attn", dims["n_text_state"], sd)
        _ln(v, f"{s}/attention/layer_norm", f"{d}.cross_attn_ln", sd)
        _attn(v, f"{s}/attention", f"{d}.cross_attn", dims["n_text_state"], sd, cross=True)
        _ln(v, f"{s}/ffn/layer_norm", f"{d}.mlp_ln", sd)
        _linear(v, f"{s}/ffn/linear_0", f"{d}.mlp.0", sd)
        _linear(v, f"{s}/ffn/linear_1", f"{d}.mlp.2", sd)
    _ln(v, "decoder/layer_norm", "decoder.ln", sd)
    return dims, sd


def checkpoint_path(model_dir: str) -> Path:
    """Where the converted checkpoint of a CTranslate2 folder lives (user cache, keyed by the folder)."""
    from audit.asr.model import cache_dir

    tag = hashlib.sha256(os.path.abspath(model_dir).encode()).hexdigest()[:10]
    return cache_dir() / "openai-whisper" / f"{Path(model_dir).name}-{tag}.pt"


def convert(model_dir: str, out: Path | None = None) -> Path:
    """Write the openai-whisper checkpoint for a CTranslate2 Whisper folder (atomically)."""
    import torch

    src = Path(model_dir) / "model.bin"
    if not src.exists():
        raise ModelError(f"{model_dir}: no model.bin to convert")
    dims, sd = to_openai_state(read_ct2(src))
    out = out or checkpoint_path(model_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: torch.from_numpy(np.array(a, dtype=np.float16)) for k, a in sd.items()}
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".pt", dir=out.parent)
    os.close(fd)
    try:
        torch.save({"dims": dims, "model_state_dict": tensors}, tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    (out.with_suffix(".json")).write_text(json.dumps({"source": str(src), "dims": dims}, indent=1))
    return out
