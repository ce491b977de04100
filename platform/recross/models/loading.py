"""Loading the upstream seq2seq model M from a hub id, a local directory, or a ``build:`` name.

Offline-first: a hub id is looked up in the local cache before any network access; when it is not
cached and the hub is unreachable (``HF_HUB_OFFLINE=1`` or no connection), the error names the id
and how to provide it, immediately, instead of hanging in retries.

    >>> bundle = load_seq2seq("build:tiny-bart")          # untrained tiny model, for tests
    >>> bundle = load_seq2seq(".recross/models/upstream/build-minilm-seq2seq")
"""

from __future__ import annotations

import copy
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from recross.errors import ModelError
from recross.models.building import BUILD_PREFIX, build_initial_seq2seq
from recross.models.device import resolve_device

ADAPTER_CONFIG = "adapter_config.json"


@dataclass
class Seq2SeqBundle:
    """A seq2seq model with its tokenizer; ``source`` is where its weights were loaded from."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    source: str | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def fingerprint(self) -> str:
        return weights_fingerprint(self.model)

    def copy(self) -> Seq2SeqBundle:
        """A fresh copy whose weights can be trained without touching this bundle's."""
        return Seq2SeqBundle(model=copy.deepcopy(self.model), tokenizer=self.tokenizer,
                             name=self.name, source=self.source)


def weights_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes: equal iff the weights are equal."""
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{key}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_seq2seq(name_or_path: str | Path, *, device: str = "auto") -> Seq2SeqBundle:
    """Load M: a local checkpoint directory, a ``build:`` name (untrained), or a hub id."""
    target = resolve_device(device)
    text = str(name_or_path)
    if text.startswith(BUILD_PREFIX):
        model, tokenizer = build_initial_seq2seq(text)
        return _finish(model, tokenizer, name=text, source=None, device=target)
    path = Path(text).expanduser()
    if path.exists():
        return _finish(*_load_local(path), name=path.name, source=str(path.resolve()), device=target)
    if _looks_like_path(text):
        raise ModelError(f"model directory {text} does not exist. Fix: check the path; "
                         "a model trained by the platform appears there once it is built.")
    return _finish(*_load_hub(text), name=text, source=text, device=target)


def _finish(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, name: str,
            source: str | None, device: torch.device) -> Seq2SeqBundle:
    model.to(device)
    model.eval()
    return Seq2SeqBundle(model=model, tokenizer=tokenizer, name=name, source=source)


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.count("/") > 1 or os.sep + os.sep in text


def _load_local(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if (path / ADAPTER_CONFIG).is_file():
        raise ModelError(f"{path} holds a LoRA adapter, not a full model. "
                         "Fix: load it with recross.models.load_adapted(path).")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a model checkpoint (no config.json). Fix: point to a "
                         "directory written by save_pretrained, or rebuild the model.")
    try:
        return (AutoModelForSeq2SeqLM.from_pretrained(path),
                AutoTokenizer.from_pretrained(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the seq2seq checkpoint in {path}: {exc}. Fix: rebuild or "
                         "re-download it; it may be incomplete or not an encoder-decoder.") from exc


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a saved checkpoint alone, for length checks that need no weights."""
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a model checkpoint (no config.json). Fix: build the "
                         "upstream model first (upstream_model asset / `recross run`).")
    return AutoTokenizer.from_pretrained(path)


def _load_hub(model_id: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    cached = cached_snapshot(model_id)
    if cached is not None:
        return _load_local(cached)
    check_hub_available(model_id)
    try:
        return AutoModelForSeq2SeqLM.from_pretrained(model_id), AutoTokenizer.from_pretrained(model_id)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot download seq2seq model {model_id!r}: {exc}. "
                         f"Check the id (e.g. yuchenlin/BART0, bigscience/T0_3B). "
                         f"{_how_to_provide(model_id)}") from exc


def cached_snapshot(model_id: str) -> Path | None:
    """The local snapshot directory of a cached hub model, found without any network request.

    (``from_pretrained(..., local_files_only=True)`` still probes the hub for optional files such
    as ``adapter_config.json``, retrying for tens of seconds when the network is down.)
    """
    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def check_hub_available(model_id: str) -> None:
    """Raise a :class:`ModelError` at once when ``model_id`` cannot be downloaded from here."""
    if _hub_offline():
        raise ModelError(f"model {model_id!r} is not in the local Hugging Face cache and the hub "
                         f"is offline (HF_HUB_OFFLINE=1). {_how_to_provide(model_id)}")
    if not _hub_reachable():
        raise ModelError(f"model {model_id!r} is not in the local Hugging Face cache and "
                         f"{hub_constants.ENDPOINT} cannot be reached. {_how_to_provide(model_id)}")


def _how_to_provide(model_id: str) -> str:
    return (f"Fix: download it where a network exists (hf download {model_id}) and copy the "
            f"cache to {hub_constants.HF_HUB_CACHE} (or set HF_HOME), or save it with "
            "save_pretrained to a local directory and pass that directory instead.")


def _hub_offline() -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return flag in {"1", "ON", "YES", "TRUE"} or bool(hub_constants.HF_HUB_OFFLINE)


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """A bounded connection probe, so a machine without network fails fast instead of retrying."""
    parsed = urlparse(hub_constants.ENDPOINT)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            return True
    except OSError:
        return False
