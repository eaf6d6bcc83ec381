"""The parts of a device lab that need no running cluster: declaring targets, shipping artifacts, the
plan's ``cluster:`` key, and that a plain benchmark never imports Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import cli
from bench.cluster.lab import declare, ray_start_argv
from bench.cluster.shipping import ArrivalError, arrive, pack, sha256_of
from common.errors import InputError
from device_runners.targets import parse_target


def _targets(*rows):
    return [parse_target(row) for row in rows]


def test_a_lab_node_declares_one_resource_per_reachable_target():
    declaration = declare(
        _targets({"name": "phone_a", "runner": "host"}, {"name": "mac", "runner": "coreml_mac"})
    )
    assert declaration.resources == {"target:phone_a": 1.0}
    if sys.platform != "darwin":
        assert "macOS" in declaration.left_out["mac"]


def test_a_lab_node_refuses_two_targets_of_one_name():
    with pytest.raises(InputError, match="'phone_a' repeats"):
        declare(_targets({"name": "phone_a", "runner": "host"}, {"name": "phone_a", "runner": "host"}))


def test_ray_start_starts_a_head_or_joins_one():
    declaration = declare(_targets({"name": "phone_a", "runner": "host"}))
    head = ray_start_argv(declaration, None, 2)
    assert head[1:] == [
        "start",
        '--resources={"target:phone_a": 1.0}',
        "--disable-usage-stats",
        "--head",
        "--include-dashboard=false",
        "--num-cpus=2",
    ]
    join = ray_start_argv(declaration, "10.0.0.5:6379", None)
    assert "--address=10.0.0.5:6379" in join and "--head" not in join


@pytest.mark.slow  # the CLI loads every command module (TensorFlow among them)
def test_lab_node_dry_run_prints_what_it_declares(tmp_path, capsys):
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - {name: phone_a, runner: host}\n  - {name: mac, runner: coreml_mac}\n")
    assert cli.main(["lab", "node", "--targets", str(targets), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "declares target:phone_a" in out
    assert "ray start" in out


@pytest.mark.parametrize("directory", [False, True])
def test_an_artifact_arrives_from_the_object_store_checked_by_sha256(tmp_path, directory):
    source = tmp_path / "a" / ("model.mlpackage" if directory else "model.tflite")
    if directory:
        (source / "Data").mkdir(parents=True)
        (source / "Data" / "weights.bin").write_bytes(b"w" * 100)
        (source / "Manifest.json").write_text("{}")
    else:
        source.parent.mkdir()
        source.write_bytes(b"tflite bytes")
    sha, archive = sha256_of(source), pack(source)
    assert arrive(source, sha, None) == source  # a shared path: used as it is
    elsewhere = tmp_path / "b" / source.name  # another node: unpacked there
    assert sha256_of(arrive(elsewhere, sha, archive)) == sha
    with pytest.raises(ArrivalError, match="does not match"):
        arrive(tmp_path / "c" / source.name, "0" * 64, archive)
    assert not (tmp_path / "c" / source.name).exists()  # nothing half-written
    with pytest.raises(ArrivalError, match="nothing was shipped"):
        arrive(tmp_path / "d" / source.name, sha, None)


def test_a_changed_file_on_a_shared_path_is_replaced_by_the_shipped_copy(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"good")
    sha, archive = sha256_of(path), pack(path)
    path.write_bytes(b"stale")
    arrive(path, sha, archive)
    assert path.read_bytes() == b"good"


def test_the_plan_cluster_key_takes_an_address_and_leaves_the_run_content_alone(tmp_path):
    import yaml

    from bench.pipeline.run import Options, cluster_section
    from bench.plans import PLANS_DIR, load_plan

    base = load_plan("smoke")
    text = tmp_path / "p.yaml"
    data = yaml.safe_load((PLANS_DIR / "smoke.yaml").read_text())
    text.write_text(yaml.safe_dump({**data, "cluster": "10.0.0.5:6379"}))
    plan = load_plan(text)
    assert plan.cluster.address == "10.0.0.5:6379"
    assert plan.canonical() == base.canonical()  # where it runs is not what it measures
    assert cluster_section(plan, Options()).address == "10.0.0.5:6379"
    assert cluster_section(plan, Options(cluster="auto")).address == "auto"
    assert cluster_section(base, Options()) is None
    text.write_text(yaml.safe_dump({**data, "cluster": {"address": "auto", "gpus": 1}}))
    with pytest.raises(InputError, match="cluster"):
        load_plan(text)


def test_the_cli_and_a_plain_benchmark_never_import_ray():
    code = (
        "import sys, bench.cli\n"
        "from bench.pipeline import run\n"
        "from bench.commands import benchmark, lab\n"
        "import bench.cluster.lab, bench.cluster.shipping\n"
        "bench.cli.build_parser()\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_a_cluster_address_nobody_answers_fails_at_once_in_one_line():
    from bench.cluster.lab import check_address

    with pytest.raises(InputError, match="no Ray head answers at 127.0.0.1:1"):
        check_address("127.0.0.1:1", timeout=2)
    with pytest.raises(InputError, match="allowed: auto or HOST:PORT"):
        check_address("nohost")
    check_address("auto")  # left to Ray
