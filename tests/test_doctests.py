"""Every example in the library's docstrings runs as written (tiny profile, no network), unless
its module is named below as an illustration: an example that needs a trained model, a built
index or a pool that a docstring cannot build in a line."""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest
import recross

# module -> what its example needs that a docstring cannot build (so it is read, not run)
ILLUSTRATIONS = {
    "recross.index": "settings, an encoder and a pool fingerprint",
    "recross.models.adaptation": "a loaded upstream model and a retrieved set",
    "recross.models.encoders": "a trained upstream model on disk",
    "recross.models.loading": "a trained upstream model on disk",
    "recross.models.onnx_runtime": "a loaded model and its token ids",
    "recross.models.scoring": "examples of a target task",
    "recross.models.upstream_training": "minutes of training into /tmp",
    "recross.reranking.cross_encoder": "mined pairs and minutes of training",
    "recross.reranking.mining": "a dense retriever over a built index and a loaded model",
    "recross.retrieval.base": "a retriever and a query set",
    "recross.retrieval.distribution": "retrieved sets",
    "recross.retrieval.factory": "a pool, an index and an encoder",
}
MODULES = sorted(info.name for info in pkgutil.walk_packages(recross.__path__, "recross."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", [m for m in MODULES if m not in ILLUSTRATIONS])
def test_docstring_examples_run_as_written(name: str) -> None:
    module = importlib.import_module(name)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_every_illustration_names_a_module_with_examples() -> None:
    """A stale entry would hide a module's examples from the run above for no reason."""
    for name in ILLUSTRATIONS:
        tests = doctest.DocTestFinder().find(importlib.import_module(name), name)
        assert any(t.examples for t in tests), f"{name} has no docstring examples any more"
