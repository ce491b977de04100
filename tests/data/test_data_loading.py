import json

import pytest
from recross.data import QuerySet, TaskRegistry, load_examples, load_target, load_upstream_pool
from recross.data.targets import validate_query_inputs
from recross.errors import DataError


def test_full_local_pool_has_34_tasks_and_118000_examples(data_dir):
    pool = load_upstream_pool(data_dir)
    assert len(pool.tasks) == 34 and len(pool) == 118_000
    assert set(pool.missing) == {"wiki_hop-original", "multi_news"}
    assert pool.sources["dream"] == "validation-1000.json"  # stand-in, logged as such
    assert pool.sources["ag_news"] == "upstream-5000.json"


def test_registry_knows_upstream_targets_and_bigbench(data_dir):
    registry = TaskRegistry.from_data_dir(data_dir)
    assert len(registry.upstream) == 36 and len(registry.targets) == 10
    assert "strategyqa" in registry.known
    with pytest.raises(DataError, match="Did you mean super_glue-cb"):
        registry.check("super_glue_cb")


def test_pool_cap_is_a_prefix_per_task(data_dir):
    pool = load_upstream_pool(data_dir, tasks=["ag_news", "dream"], cap_per_task=7)
    assert pool.task_counts() == {"ag_news": 7, "dream": 7}
    example = pool.examples[0]
    assert example.task == "ag_news" and example.split == "train" and example.answers
    assert pool.get(example.example_id) is example


def test_unknown_upstream_task_is_rejected(data_dir):
    with pytest.raises(DataError, match="unknown upstream task 'ag_newz'"):
        load_upstream_pool(data_dir, tasks=["ag_newz"])


def test_target_gives_test_set_and_five_query_sets_disjoint_from_it(data_dir):
    target = load_target(data_dir, "super_glue-cb", query_size=16, n_query_sets=5)
    assert len(target.test) == 280 and len(target.query_sets) == 5
    test_inputs = {ex.input for ex in target.test}
    for qs in target.query_sets:
        assert len(qs) == 16 and len(set(qs.inputs)) == 16
        assert not test_inputs & set(qs.inputs)
    assert target.query_sets[0].inputs != target.query_sets[1].inputs
    again = load_target(data_dir, "super_glue-cb", query_size=16, n_query_sets=5)
    assert again.query_sets == target.query_sets  # seeded


def test_query_set_exposes_no_answers(data_dir):
    qs = load_target(data_dir, "piqa", query_size=4, n_query_sets=1).query_sets[0]
    assert not hasattr(qs, "answers") and not hasattr(qs, "examples")
    assert all(isinstance(x, str) for x in qs.inputs)


@pytest.mark.parametrize("inputs, message", [
    ([], "is empty"),
    (["a", "a"], "identical"),
    (["a", 3], "not text"),
    (["a", "  "], "blank"),
])
def test_bad_query_sets_are_rejected(inputs, message):
    with pytest.raises(DataError, match=message):
        validate_query_inputs(inputs)
    with pytest.raises(DataError, match=message):
        QuerySet(task="t", seed=0, inputs=tuple(inputs))


def test_over_long_query_set_is_rejected():
    with pytest.raises(DataError, match="more than the limit 2"):
        validate_query_inputs(["a", "b", "c"], max_size=2)


@pytest.mark.parametrize("content, message", [
    ('[["x", ["y"], "t|train|p|#1"]', "not valid JSON"),  # truncated
    ('{"a": 1}', "expected a JSON array"),
    ("[]", "holds no examples"),
    ('[["x", ["y"]]]', r"\[0\]: expected a 3-element array"),
    ('[["x", "y", "t|train|p|#1"]]', "answers .* list of strings"),
    ('[["x", ["y"], "no-separators"]]', "must look like"),
    ('[["", ["y"], "t|train|p|#1"]]', "non-empty text"),
])
def test_malformed_data_files_name_file_index_and_expectation(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        load_examples(path, task="t")
    assert str(path) in str(err.value)


def test_data_dir_without_split_json_tells_how_to_download(tmp_path, monkeypatch):
    from recross.data import resolve_data_dir

    monkeypatch.setenv("RECROSS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="recross data download"):
        resolve_data_dir()


def test_examples_round_trip_through_the_pool_table(data_dir):
    pool = load_upstream_pool(data_dir, tasks=["sciq"], cap_per_task=5)
    from recross.data import Example, UpstreamPool

    again = UpstreamPool.from_frame(pool.to_frame())
    assert again.examples == pool.examples
    for example in pool.examples:  # and through JSON (JSONL outputs, payloads): nothing lost
        record = json.loads(json.dumps(example.to_record()))
        assert Example(**{**record, "answers": tuple(record["answers"])}) == example
