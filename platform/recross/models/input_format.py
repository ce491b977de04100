"""How texts reach M: as they are (``plain``), or as the reference pipeline fed BART0.

The reference (metax/task_manager/dataloader.py, ``append_another_bos``) put "<s> " before every
input and every target, and generated with ``decoder_start_token_id = bos``
(``models.input_format: reference``, the paper profile's). The format is recorded on the model's
config, so it travels with every copy and every ``save_pretrained`` of M and M', and every place
that tokenizes for M (training, adaptation, losses, generation, M's index encoder) reads it
through :func:`formatted` instead of deciding for itself.

    >>> set_input_format(bundle.model, "reference")  # doctest: +SKIP
    >>> formatted(bundle.model, ["Is it positive?"])  # doctest: +SKIP
    ['<s> Is it positive?']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from transformers import PreTrainedModel

InputFormat = Literal["plain", "reference"]
REFERENCE_PREFIX = "<s> "
_CONFIG_KEY = "recross_input_format"


def set_input_format(model: PreTrainedModel, input_format: InputFormat) -> None:
    """Record ``input_format`` on ``model`` and start its decoding from bos (reference) or from
    the config's decoder start token (plain)."""
    setattr(model.config, _CONFIG_KEY, input_format)
    start = (model.config.bos_token_id if input_format == "reference"
             else model.config.decoder_start_token_id)
    model.generation_config.decoder_start_token_id = start


def input_format_of(model: PreTrainedModel) -> InputFormat:
    """The format recorded on ``model`` (plain when none was)."""
    return getattr(model.config, _CONFIG_KEY, "plain")


def formatted(model: PreTrainedModel, texts: Sequence[str]) -> list[str]:
    """``texts`` as ``model`` is fed them: prefixed with "<s> " under the reference format."""
    prefix = REFERENCE_PREFIX if input_format_of(model) == "reference" else ""
    return [prefix + text for text in texts]
