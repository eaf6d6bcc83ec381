"""The orchestration for real, with training, conversion, evaluation and host timing faked (conftest)."""

from __future__ import annotations

import dataclasses

import pytest
from pl_fakes import TINY_EXPECTED, manifest, tiny_plan

from bench.pipeline import RunStatus, run_benchmark
from results.schema import Status
from results.store import Store


def _records(options, run_id):
    store = Store(options.store)
    try:
        return store.records(run_id=run_id)
    finally:
        store.close()


def test_first_run_stores_every_record_with_accuracy_and_reasons(fakes, options):
    outcome = run_benchmark(tiny_plan(), options)
    assert outcome.status == RunStatus.DONE
    assert len(outcome.records) == outcome.expected == TINY_EXPECTED
    assert fakes.calls == {"train": 2, "convert": 6, "evaluate": 6, "time": 8}
    by_status = {s: [r for r in outcome.records if r.status is s] for s in Status}
    assert len(by_status[Status.OK]) == 8
    assert all(r.accuracy is not None and r.accuracy.map == 0.25 for r in by_status[Status.OK])
    assert all(r.model.params == 10 and r.plan == "tiny" for r in outcome.records)
    (mac,) = {r.error.message for r in by_status[Status.UNSUPPORTED]}
    assert "macOS" in mac
    assert all(r.artifact.size_bytes > 0 for r in by_status[Status.UNSUPPORTED])  # converted and sized
    assert manifest(options.workdir)["complete"] is True


def test_each_file_gets_its_share_of_the_fp32_mAP_with_an_interval(fakes, options):
    import shutil

    from bench.cache import StageCache
    from bench.pipeline.context import Context
    from bench.pipeline.jobs import select
    from bench.pipeline.stages import build_variant, dataset_stage
    from bench.pipeline.summary import records_frame

    outcome = run_benchmark(tiny_plan(), options)
    by_recipe = {}
    for record in outcome.records:
        by_recipe.setdefault(record.artifact.recipe, []).append(record)
    fp32 = {r.model.variant: r.artifact.sha256 for r in by_recipe["tflite_fp32"]}
    for record in by_recipe["tflite_int8"]:  # the fake int8 misses one of the ground-truth boxes
        share = record.accuracy.share
        assert share.reference_recipe == "tflite_fp32"
        assert share.reference_sha256 == fp32[record.model.variant]
        assert 0 < share.share < 1 and share.low <= share.share <= share.high <= 1
        assert share.reference_map == pytest.approx(1.0) and share.level == 0.9
    assert all(r.accuracy.share is None for r in by_recipe["tflite_fp32"])
    assert all(r.accuracy is None for r in by_recipe["coreml_fp16"])  # not evaluated off macOS
    frame = records_frame(outcome.records)
    int8 = frame[frame["recipe"] == "tflite_int8"]["share"]
    assert int8.str.match(r"^\d+\.\d% \[\d+\.\d, \d+\.\d\]$").all()
    # A build job of the int8 recipe alone (a variant's fine-tune job, bench.pipeline.builds.split)
    # finds the fp32 file's evaluation in the cache and takes the same share again.
    shutil.rmtree(options.workdir / "cache" / "share")
    plan = tiny_plan()
    ctx = Context(plan, StageCache(options.workdir), True, outcome.run_id, None)
    work = select(plan, None)[0]
    alone = dataclasses.replace(work, recipes=tuple(r for r in work.recipes if r.name == "tflite_int8"))
    ((_, (_, _, evaluated)),) = build_variant(ctx, dataset_stage(ctx), alone)
    record = next(r for r in by_recipe["tflite_int8"] if r.model.variant == work.spec.name)
    assert evaluated.accuracy.share == record.accuracy.share


def test_a_reference_that_detects_nothing_gives_no_share_and_says_so(fakes, options, capsys):
    fakes.blind_recipe = "tflite_fp32"
    outcome = run_benchmark(tiny_plan(), dataclasses.replace(options, quiet=False))
    assert outcome.status == RunStatus.DONE
    assert all(r.accuracy.share is None for r in outcome.records if r.accuracy is not None)
    assert "share of tiny_ssdlite_mobilenet_v2 tflite_int8: none (the reference model's mAP is 0" in (
        capsys.readouterr().err
    )


def test_second_run_with_nothing_changed_does_nothing(fakes, options):
    first = run_benchmark(tiny_plan(), options)
    fakes.calls.clear()
    second = run_benchmark(tiny_plan(), options)
    assert second.status == RunStatus.NOTHING_CHANGED
    assert second.run_id == first.run_id
    assert not fakes.calls
    assert len(_records(options, first.run_id)) == TINY_EXPECTED


def test_interrupted_run_resumes_under_the_same_id_without_duplicates(fakes, options):
    fakes.interleave = False  # a runner that times artifact by artifact: each finished timing is cached
    fakes.interrupt_after = 3
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(tiny_plan(), options)
    interrupted = manifest(options.workdir)
    assert interrupted["complete"] is False
    stored = _records(options, interrupted["run_id"])
    assert 0 < len(stored) < TINY_EXPECTED
    fakes.interrupt_after = None
    fakes.calls.clear()
    outcome = run_benchmark(tiny_plan(), options)
    assert outcome.resumed and outcome.run_id == interrupted["run_id"]
    records = _records(options, outcome.run_id)
    assert len(records) == TINY_EXPECTED == len({r.record_id for r in records})
    assert fakes.calls["train"] == 0  # both trainings finished (and were cached) before the first timing
    assert fakes.calls["time"] == 8 - 3  # three timings were done (and cached) before the interrupt


def test_host_timings_are_one_interleaved_batch_that_fills_the_timing_cache(fakes, options):
    outcome = run_benchmark(tiny_plan(), options)
    assert len(fakes.batches) == 1 and len(fakes.batches[0]) == 8  # every host artifact x slot at once
    timed = [item for item in outcome.items if item.stage == "time" and item.status == "run"]
    assert len(timed) == 8  # reported as run in this pass, not as cache hits
    cache = options.workdir / "cache" / "time"
    assert len(list(cache.glob("*.json"))) == 8
    fakes.batches.clear()
    again = run_benchmark(tiny_plan(), dataclasses.replace(options, retime=True))
    assert again.run_id != outcome.run_id and len(again.records) == TINY_EXPECTED
    assert [len(batch) for batch in fakes.batches] == [8]  # --retime measures the batch again, once


def test_an_interrupted_batch_is_timed_again_whole_on_resume(fakes, options):
    fakes.interrupt_after = 3
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(tiny_plan(), options)
    fakes.interrupt_after = None
    fakes.batches.clear()
    outcome = run_benchmark(tiny_plan(), options)
    assert outcome.resumed and [len(batch) for batch in fakes.batches] == [8]
    assert len(outcome.records) == TINY_EXPECTED == len({r.record_id for r in outcome.records})


def test_failed_conversion_becomes_failed_records_and_the_rest_continues(fakes, options):
    fakes.fail_recipe = "tflite_int8"
    outcome = run_benchmark(tiny_plan(), options)
    failed = [r for r in outcome.records if r.status is Status.FAILED]
    assert len(failed) == 2 * 2  # two variants x two delegates
    assert {r.artifact.recipe for r in failed} == {"tflite_int8"}
    assert all(r.error.type == "ConversionError" and "refused" in r.error.message for r in failed)
    assert len(outcome.records) == TINY_EXPECTED
    fakes.calls.clear()
    assert (
        run_benchmark(tiny_plan(), options).status == RunStatus.NOTHING_CHANGED
    )  # the failure is cached too
    assert not fakes.calls


def test_retime_measures_again_under_a_new_run(fakes, options):
    first = run_benchmark(tiny_plan(), options)
    fakes.calls.clear()
    again = run_benchmark(tiny_plan(), dataclasses.replace(options, retime=True))
    assert again.status == RunStatus.DONE and again.run_id != first.run_id
    assert fakes.calls == {"time": 8}
    assert len(again.records) == TINY_EXPECTED


def test_changed_timing_settings_reuse_training_and_conversion(fakes, options):
    first = run_benchmark(tiny_plan(), options)
    fakes.calls.clear()
    changed = run_benchmark(tiny_plan(timing={"min_runs": 3, "min_secs": 0.0}), options)
    assert changed.run_id != first.run_id
    assert fakes.calls == {"time": 8}


def test_a_variant_recipe_override_converts_again_without_training_again(fakes, options):
    from pl_fakes import TINY_PLAN

    run_benchmark(tiny_plan(), options)
    fakes.calls.clear()
    variants = [dict(v) for v in TINY_PLAN["variants"]]
    variants[0]["recipes"] = {"tflite_int8": {"representative_samples": 3}}
    run_benchmark(tiny_plan(variants=variants), options)
    assert fakes.calls["train"] == 0
    assert fakes.calls["convert"] == 1  # that variant's tflite_int8 only


def test_only_filters_variants_and_recipes(fakes, options):
    only = "tiny_ssdlite_mobilenet_v2/tflite_*"
    outcome = run_benchmark(tiny_plan(), dataclasses.replace(options, only=only))
    assert len(outcome.records) == 2 * 2
    assert {r.model.variant for r in outcome.records} == {"tiny_ssdlite_mobilenet_v2"}


def test_dry_run_computes_and_stores_nothing(fakes, options):
    outcome = run_benchmark(tiny_plan(), dataclasses.replace(options, dry_run=True))
    assert outcome.status == RunStatus.DRY_RUN and outcome.expected == TINY_EXPECTED
    assert not fakes.calls
    assert not (options.workdir / "runs").exists()
    assert {i.status for i in outcome.items if i.stage == "train"} == {"pending"}
    run_benchmark(tiny_plan(), options)
    fakes.calls.clear()
    planned = run_benchmark(tiny_plan(), dataclasses.replace(options, dry_run=True))
    assert {i.status for i in planned.items} <= {"cached", "stored"}


def _cli(tmp_path, options, *extra):
    import yaml
    from pl_fakes import TINY_PLAN

    from bench.cli import main

    plan = tmp_path / "tiny.yaml"
    plan.write_text(yaml.safe_dump(TINY_PLAN))
    argv = ["benchmark", "--plan", str(plan), "--workdir", str(options.workdir), "--store", options.store]
    return main([*argv, "--quiet", "--jobs", "1", *extra])  # the fakes live in this process


def test_cli_dry_run_then_run_then_nothing_changed(fakes, options, tmp_path, capsys):
    assert _cli(tmp_path, options, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"{TINY_EXPECTED} records in this plan selection" in out and "pending" in out
    assert not fakes.calls
    assert _cli(tmp_path, options) == 0
    out = capsys.readouterr().out
    assert "Pareto-optimal" in out and "make dashboard" in out and "records: 8 ok, 2 unsupported" in out
    assert _cli(tmp_path, options) == 0
    assert f"nothing changed: {TINY_EXPECTED} records already stored in run" in capsys.readouterr().out


def test_cli_exits_1_when_a_record_failed(fakes, options, tmp_path, capsys):
    fakes.fail_recipe = "tflite_fp32"
    assert _cli(tmp_path, options, "--only", "*v3*") == 1
    assert "failed: export failed: tflite_fp32" in capsys.readouterr().out
