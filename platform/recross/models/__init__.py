"""Seq2seq models: loading, building and upstream training, encoders, generation, adaptation, losses."""

from recross.models.adaptation import AdaptationResult, adapt, load_adapted
from recross.models.device import resolve_device
from recross.models.encoder_interface import ExampleEncoder
from recross.models.encoders import (
           SentenceEncoder,
           UpstreamEncoder,
           sentence_encoder,
           upstream_encoder,
)
from recross.models.finetune import finetune_steps
from recross.models.generation import generate
from recross.models.loading import (
    Seq2SeqBundle,
    load_seq2seq,
    load_tokenizer,
    weights_fingerprint,
)
from recross.models.losses import example_losses, mean_loss
from recross.models.upstream_training import UpstreamTrainingResult, build_upstream_model

__all__ = [
           "AdaptationResult",
           "ExampleEncoder",
           "SentenceEncoder",
           "Seq2SeqBundle",
           "UpstreamEncoder",
           "UpstreamTrainingResult",
           "adapt",
           "build_upstream_model",
           "example_losses",
           "finetune_steps",
           "generate",
           "load_adapted",
           "load_seq2seq",
           "load_tokenizer",
           "mean_loss",
           "resolve_device",
           "sentence_encoder",
           "upstream_encoder",
           "weights_fingerprint",
]
