"""The stage cache, the run manifest and record ids, and what a plan expands to."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from pl_fakes import tiny_plan

from bench import cache
from bench.pipeline import runs
from bench.pipeline.jobs import select, slots
from common.errors import InputError
from results.identity import Identity
from results.schema import ArtifactFormat


def test_digest_is_canonical():
    assert cache.digest({"a": 1, "b": [1, 2]}) == cache.digest({"b": [1, 2], "a": 1})
    assert cache.digest({"a": 1}) != cache.digest({"a": 2})


def test_code_salt_follows_the_stage_sources(tmp_path, monkeypatch):
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    monkeypatch.setattr(cache, "REPO_ROOT", tmp_path)
    monkeypatch.setitem(cache.STAGE_SOURCES, "demo", ("pkg",))
    cache.code_salt.cache_clear()
    before = cache.stage_key("demo", "input")
    source.write_text("x = 2\n")
    cache.code_salt.cache_clear()
    after = cache.stage_key("demo", "input")
    assert before != after
    source.write_text('"""A docstring now."""\n\nx = 2  # and a comment\n')
    cache.code_salt.cache_clear()
    reworded = cache.stage_key("demo", "input")
    cache.code_salt.cache_clear()
    assert reworded == after


def test_stage_cache_round_trip_and_atomic_writes(tmp_path):
    store = cache.StageCache(tmp_path)
    assert store.get("train", "k") is None
    store.put("train", "k", {"weights": "w.h5"})
    assert store.get("train", "k") == {"weights": "w.h5"}
    assert [p.name for p in (tmp_path / "cache" / "train").iterdir()] == ["k.json"]  # no temp files left
    store.entry_path("train", "bad").write_text("{half a fi")
    assert store.get("train", "bad") is None  # a torn entry is a miss, not a crash


def test_run_manifest_resumes_an_unfinished_run_and_renews_a_finished_one(tmp_path):
    first = runs.find_run(tmp_path, "quick", "k" * 64)
    assert not first.resumed and first.previous is None
    runs.write_manifest(first, "quick", "k" * 64, complete=False)
    again = runs.find_run(tmp_path, "quick", "k" * 64)
    assert again.resumed and again.run_id == first.run_id
    runs.write_manifest(again, "quick", "k" * 64, complete=True, records=5)
    done = runs.find_run(tmp_path, "quick", "k" * 64)
    assert done.previous_complete and not done.resumed and done.run_id == first.run_id
    assert runs.start_new(done, "quick").run_id != first.run_id
    assert runs.find_run(tmp_path, "quick", "j" * 64).run_id != first.run_id  # other content, other run


def test_record_ids_are_deterministic_per_run_and_identity():
    identity = Identity("v", "tflite_fp32", None, "host", "host-1", "cpu", 1, None)
    assert runs.record_id("r1", identity) == runs.record_id("r1", identity)
    assert runs.record_id("r1", identity) != runs.record_id("r2", identity)
    assert runs.record_id("r1", identity) != runs.record_id("r1", replace(identity, sustained="30fps/60s"))


def test_only_selects_by_variant_recipe_or_pair():
    plan = tiny_plan()
    assert [(w.label, len(w.recipes)) for w in select(plan, None)] == [
        ("tiny_ssdlite_mobilenet_v2", 3),
        ("tiny_ssdlite_mobilenet_v3_small", 3),
    ]
    assert [w.label for w in select(plan, "*v3*")] == ["tiny_ssdlite_mobilenet_v3_small"]
    assert {r.name for w in select(plan, "coreml_*") for r in w.recipes} == {"coreml_fp16"}
    picked = select(plan, "tiny_ssdlite_mobilenet_v2/tflite_int8, *v3*/tflite_fp32")
    assert [(w.label, [r.name for r in w.recipes]) for w in picked] == [
        ("tiny_ssdlite_mobilenet_v2", ["tflite_int8"]),
        ("tiny_ssdlite_mobilenet_v3_small", ["tflite_fp32"]),
    ]
    with pytest.raises(InputError, match=r"--only: 'yolo\*' matches no variant or recipe"):
        select(plan, "yolo*")


def test_finetune_steps_of_the_plan_reach_qat_recipes_only():
    from converters.recipes import get_recipe

    plan = tiny_plan(
        recipes=[
            "tflite_fp32",
            "tflite_int8_qat",
            "tflite_int8_pruned",
            {"name": "coreml_pruned", "finetune_steps": 9},
        ],
        finetune={"steps": 7},
    )
    recipes = {r.name: r for r in select(plan, None)[0].recipes}
    assert recipes["tflite_int8_qat"].finetune_steps == 7 and recipes["tflite_fp32"].finetune_steps == 0
    # Pruning keeps its own schedule: the registered steps, or the plan's recipe-list override.
    assert recipes["tflite_int8_pruned"].finetune_steps == get_recipe("tflite_int8_pruned").finetune_steps
    assert recipes["coreml_pruned"].finetune_steps == 9


def test_slots_pair_formats_with_runners_and_expand_every_axis():
    targets = [
        {"runner": "host", "delegates": ["cpu", "xnnpack"], "threads": [1, 2], "sustained": {"secs": 5}},
        {"runner": "coreml_mac"},
    ]
    plan = tiny_plan(targets=targets)
    tflite = slots(plan, ArtifactFormat.TFLITE)
    assert len(tflite) == 2 * 2 * 2  # delegates x threads x (steady, sustained)
    assert sum(s.sustained for s in tflite) == 4
    (coreml,) = slots(plan, ArtifactFormat.COREML)
    assert coreml.delegate.value == "coreml_all" and coreml.target.runner == "coreml_mac"


def test_one_run_at_a_time_per_work_folder(tmp_path):
    # A second holder conflicts even in this process: flock locks belong to the open file.
    busy = rf"pid {os.getpid()}\) is running in this work folder"
    with runs.exclusive(tmp_path), pytest.raises(InputError, match=busy), runs.exclusive(tmp_path):
        pass
    with runs.exclusive(tmp_path):  # released, and taken again
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
