import torch
from recross.models import example_losses, finetune_steps, mean_loss

LENGTHS = {"max_input_length": 64, "max_output_length": 16}


def test_mean_loss_is_the_mean_of_per_example_losses_independent_of_batching(tiny_bundle, examples):
    per_example = example_losses(tiny_bundle, examples, batch_size=3, **LENGTHS)
    assert len(per_example) == len(examples)
    assert abs(mean_loss(tiny_bundle, examples, batch_size=16, **LENGTHS)
               - sum(per_example) / len(per_example)) < 1e-4


def test_finetune_steps_lowers_the_loss_on_its_examples_and_leaves_the_original(
        tiny_bundle, examples):
    original = {k: v.clone() for k, v in tiny_bundle.model.state_dict().items()}
    before = mean_loss(tiny_bundle, examples[:4], batch_size=4, **LENGTHS)
    tuned = finetune_steps(tiny_bundle, examples[:4], steps=5, lr=1e-3, batch_size=4, **LENGTHS)
    assert mean_loss(tuned, examples[:4], batch_size=4, **LENGTHS) < before
    assert all(torch.equal(v, tiny_bundle.model.state_dict()[k]) for k, v in original.items())
