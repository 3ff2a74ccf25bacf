"""The fast backend's files: a local sentence-transformers model exported to ONNX, optionally quantised
to int8, and cached per user.

The export runs once per model, locally, from the model's own files (torch is imported only then)
and is cached with a small JSON saying what it was made from; index/onnx_embedder.py runs the result.
See docs/PERFORMANCE.md for the recipe's measurements.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsbot.index.errors import ModelUnavailable

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
META_FILE = "export.json"
COPIED_FILES = ("tokenizer.json", "sentence_bert_config.json")
OPSET = 17
# Bump when the export or quantisation recipe changes, so old exports are redone. Indexes and the
# embedding cache know an encoder by its name only ("...#onnx-int8"): a recipe that moves the vectors
# must also get a new backend name, or an index built before it keeps its old vectors.
EXPORT_FORMAT = 3
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SOURCE_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                 "sentence_bert_config.json", "modules.json", "1_Pooling/config.json")


def default_cache_dir() -> Path:
    """`NEWSBOT_ONNX_DIR`, else the user cache (`$XDG_CACHE_HOME/newsbot/onnx`).

    Per user rather than per index: the embedder is made before any index is known, and one export
    serves every index (the product's, the evaluation's, the tests') built with that model.
    """
    explicit = os.environ.get("NEWSBOT_ONNX_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsbot" / "onnx"


def cached_export_dir(model_dir: Path, cache_dir: Path | None = None) -> Path:
    """Where the export of `model_dir` lives: one folder per model and version of its files."""
    model_dir = Path(model_dir).resolve()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_dir.name).strip("-") or "model"
    return (cache_dir or default_cache_dir()) / f"{slug}-{source_fingerprint(model_dir)[:16]}"


def source_fingerprint(model_dir: Path) -> str:
    """Changes when the model's files do (names, sizes, modification times: cheap enough for every start)."""
    digest = hashlib.sha256()
    for relative in _SOURCE_FILES:
        path = Path(model_dir) / relative
        if path.is_file():
            stat = path.stat()
            digest.update(f"{relative}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def export_onnx(model_dir: Path, out_dir: Path, *, quantize: bool) -> Path:
    """Export a local sentence-transformers model to `out_dir/model.onnx`, and with `quantize` also
    `model-int8.onnx`; returns the file asked for. A file already exported from the same source is reused.
    """
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir)
    wanted = INT8_FILE if quantize else FP32_FILE
    meta = _read_meta(out_dir)
    source = source_fingerprint(model_dir)
    if not _meta_matches(meta, source):
        meta = {"format": EXPORT_FORMAT, "source": str(model_dir), "source_fingerprint": source,
                "opset": OPSET, "files": {}}
    if _is_exported(out_dir, meta, wanted):
        return out_dir / wanted
    _check_pooling(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        _atomic_write(out_dir / name, (model_dir / name).read_bytes())
    if not _is_exported(out_dir, meta, FP32_FILE):
        versions = _export_fp32(model_dir, out_dir / FP32_FILE)
        meta["exporter"] = versions
        meta["files"][FP32_FILE] = _describe(out_dir / FP32_FILE)
    if quantize:
        meta["quantization"] = _quantize(out_dir / FP32_FILE, out_dir / INT8_FILE)
        meta["files"][INT8_FILE] = _describe(out_dir / INT8_FILE)
    _atomic_write(out_dir / META_FILE, (json.dumps(meta, indent=2) + "\n").encode())
    return out_dir / wanted


def _check_pooling(model_dir: Path) -> None:
    """The embedder pools by mean over tokens and normalises; refuse a model configured otherwise."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        modes = [key for key, value in pooling.items() if key.startswith("pooling_mode") and value]
    except (OSError, ValueError, LookupError, TypeError, AttributeError):  # missing, not JSON, not its shape
        raise ModelUnavailable(f"{model_dir} has no readable modules.json and 1_Pooling/config.json, which the "
                               "ONNX backend needs; use the torch backend") from None
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise ModelUnavailable(f"the ONNX backend supports Transformer + mean Pooling + Normalize models; "
                               f"{model_dir} has {kinds} with {modes}; use the torch backend")


def _export_fp32(model_dir: Path, out_file: Path) -> dict[str, str]:
    """The transformer, token embeddings out; TorchScript exporter (dynamo=False), which needs only torch and onnx."""
    import torch
    import transformers
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar mid-way through `newsbot ask`'s output
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.int64) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    partial = out_file.with_suffix(f".{os.getpid()}.partial")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
        torch.onnx.export(TokenEmbeddings(), example, str(partial), dynamo=False, input_names=list(INPUTS),
                          output_names=["token_embeddings"], dynamic_axes=axes, opset_version=OPSET)
    os.replace(partial, out_file)
    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _quantize(fp32_file: Path, out_file: Path) -> dict[str, object]:
    """Dynamic int8 of every weight matrix, one scale per output channel; the embedding tables stay fp32.

    Measured on SQuAD dev (docs/PERFORMANCE.md): quantising the embedding tables too (onnxruntime's
    default) or using one scale per matrix loses 0.8 point of P@1 or more; this recipe loses 0.4,
    within the 0.5 allowed.
    """
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = out_file.with_suffix(f".{os.getpid()}.partial")
    with _root_logger_silenced():
        quantize_dynamic(str(fp32_file), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})
    os.replace(partial, out_file)
    return {"weight_type": "QInt8", "per_channel": True, "op_types": ["MatMul"], "MatMulConstBOnly": True,
            "onnxruntime": onnxruntime.__version__}


@contextmanager
def _root_logger_silenced() -> Iterator[None]:
    """quantize_dynamic warns about pre-processing with `logging.warning`, which also gives a root logger
    without handlers a handler for good. Meanwhile the root logger drops what is below ERROR and holds a
    handler that writes nothing; then it comes back as it was, level and handlers."""
    root = logging.getLogger()
    level, placeholder = root.level, logging.NullHandler()
    root.setLevel(logging.ERROR)
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)
        root.setLevel(level)


def _read_meta(out_dir: Path) -> dict:
    try:
        meta = json.loads((out_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _meta_matches(meta: dict, source: str) -> bool:
    return (meta.get("format") == EXPORT_FORMAT and meta.get("opset") == OPSET
            and meta.get("source_fingerprint") == source and isinstance(meta.get("files"), dict))


def _is_exported(out_dir: Path, meta: dict, name: str) -> bool:
    recorded = meta.get("files", {}).get(name)
    path = out_dir / name
    return (recorded is not None and path.is_file() and path.stat().st_size == recorded["bytes"]
            and all((out_dir / copied).is_file() for copied in COPIED_FILES))


def _describe(path: Path) -> dict[str, object]:
    with open(path, "rb") as handle:
        return {"bytes": os.fstat(handle.fileno()).st_size, "sha256": hashlib.file_digest(handle, "sha256").hexdigest()}


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
