"""A benchmark across a local Ray cluster: a head and two workers, each worker one fake "phone".

The phones are host-runner targets named phone_a / phone_b; each worker node declares the resource of one
(``target:phone_a``), as ``edgebench lab node`` would. Each test re-runs itself in a private network
namespace (:mod:`netns`), where the cluster stays on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections import defaultdict

import pytest
from netns import inside, rerun_isolated

MB = 1 << 20
NODE = {"num_cpus": 1, "object_store_memory": 100 * MB}

PLAN = """
name: cluster_test
dataset:
  synthetic: {seed: 0, train: 8, val: 4, size: 64, max_objects: 2}
variants:
  - {name: tiny_ssdlite_mobilenet_v2}
training: {steps: 2, batch_size: 2, warmup_steps: 0, checkpoint_every: 2, log_every: 1}
recipes: [tflite_fp32]
export: {calibration_samples: 2, tflite_metadata: false}
evaluation: {max_images: 4}
targets:
  - {name: phone_a, runner: host, delegates: [cpu], threads: [1, 2]}
  - {name: phone_b, runner: host, delegates: [xnnpack], threads: [1, 2]}
timing: {warmup_runs: 1, warmup_min_secs: 0.0, min_runs: 3, min_secs: 0.3, max_secs: 10}
cluster: {lost_target_secs: 5}
"""


@pytest.fixture
def lab():
    """(cluster, {target: worker node}), the driver connected to it; None outside the namespace."""
    if importlib.util.find_spec("ray") is None:  # not importorskip: this process must not load Ray
        pytest.skip("Ray is the `cluster` extra: pip install 'edgebench[cluster]'")
    if not inside():
        yield None
        return
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={**NODE, "include_dashboard": False, "node_ip_address": "127.0.0.1"},
    )
    workers = {}
    for name in ("phone_a", "phone_b"):
        workers[name] = cluster.add_node(**NODE, node_ip_address="127.0.0.1", resources={f"target:{name}": 1})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


def _run(tmp_path, cluster):
    from bench.pipeline import Options, run_benchmark
    from bench.plans import load_plan

    (tmp_path / "plan.yaml").write_text(PLAN)
    options = Options(
        tmp_path / "work", f"sqlite:///{tmp_path / 'store.sqlite'}", quiet=True, cluster=cluster.address
    )
    return run_benchmark(load_plan(tmp_path / "plan.yaml"), options)


def _spans(tmp_path, run_id: str) -> dict[str, list[tuple[float, float]]]:
    """Target -> (start, end) of each timing task, from the run's timing log."""
    from bench.cluster.scheduler import spans_path

    spans = defaultdict(list)
    for line in spans_path(tmp_path / "work", run_id).read_text().splitlines():
        span = json.loads(line)
        spans[span["target"]].append((span["start"], span["end"]))
    return spans


@pytest.mark.slow
def test_a_plan_runs_across_the_lab_one_job_per_phone_at_a_time(request, tmp_path, lab):
    if not inside():
        rerun_isolated(request.node.nodeid)
        return
    cluster, _ = lab
    outcome = _run(tmp_path, cluster)
    records = outcome.records
    assert len(records) == outcome.expected == 4
    assert len({r.record_id for r in records}) == 4
    assert {r.status.value for r in records} == {"ok"}
    assert {r.target.threads for r in records} == {1, 2}
    spans = _spans(tmp_path, outcome.run_id)
    assert sorted(spans) == ["phone_a", "phone_b"]
    for target, times in spans.items():
        times.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in zip(times, times[1:], strict=False)), target


@pytest.mark.slow
def test_a_phone_host_dying_mid_run_leaves_a_complete_run(request, tmp_path, lab):
    if not inside():
        rerun_isolated(request.node.nodeid)
        return
    from bench.cluster.scheduler import spans_path

    cluster, workers = lab
    result = {}
    driver = threading.Thread(target=lambda: result.update(outcome=_run(tmp_path, cluster)))
    driver.start()
    deadline = time.monotonic() + 400
    while not list((tmp_path / "work" / "cluster").glob("*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)  # the first timing finished: training and export are done, phones are busy
    cluster.remove_node(workers["phone_b"], allow_graceful=False)
    driver.join(timeout=400)
    outcome = result["outcome"]
    records = outcome.records
    assert len(records) == outcome.expected == 4
    assert len({r.record_id for r in records}) == 4  # none duplicated
    by_delegate = defaultdict(list)
    for record in records:
        by_delegate[record.target.delegate.value].append(record)
    assert {r.status.value for r in by_delegate["cpu"]} == {"ok"}  # phone_a's
    lost = [r for r in by_delegate["xnnpack"] if r.status.value != "ok"]  # phone_b's: ok before, failed after
    assert lost, "phone_b's node was removed before its jobs ran: some must fail"
    assert all(r.status.value == "failed" and "phone_b" in r.error.message for r in lost), [
        r.error for r in lost
    ]
    assert spans_path(tmp_path / "work", outcome.run_id).is_file()
