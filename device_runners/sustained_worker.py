#!/usr/bin/env python3
"""Sustained mode for LiteRT on a Linux machine: invoke at a fixed rate for a while, record latency and heat.

    python sustained_worker.py --model m.tflite --delegate xnnpack --threads 2 --fps 30 --secs 60 --out r.json

A companion of ``worker.py`` (copied beside it to a board, or run from device_runners/): it reuses the
worker's interpreter set-up and result format (protocol, ``samples_ms``, ``init_ms``, delegation fields,
``runtime``) and adds a ``sustained`` object: ``target_fps``, ``duration_secs``, ``sample_times_s`` (start
of each invocation, from the first), ``temperatures`` ([seconds, degrees C] of the hottest
/sys/class/thermal zone, read every ``--thermal-interval-secs``) and ``dropped_frames``. With ``--power``
a ``power`` object too: RAPL or hwmon readings (``power_linux.py``, copied beside it) for an idle
baseline of ``--idle-secs`` after loading and then at every thermal reading, or ``reason`` where none.

Pacing: invocation k is due at k / fps. One that starts after its slot has passed runs at once, and the
slots it overran are counted as dropped frames and skipped, as a camera pipeline drops frames: the rate
never exceeds ``fps`` and a slow model shows as drops rather than as a slower clock.
Only the standard library, numpy and LiteRT are needed, like the worker itself.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

try:  # copied beside worker.py on a board, or run as a script from device_runners/
    import power_linux
    import worker
except ImportError:  # imported as part of the package
    from device_runners import power_linux, worker


def read_soc_temperature() -> float | None:
    """The hottest thermal zone in degrees C (Linux sysfs reports millidegrees); None where there is none."""
    readings = []
    for path in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        try:
            with open(path) as handle:
                value = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        readings.append(value / 1000.0 if abs(value) > 1000 else float(value))
    return max(readings) if readings else None


def paced_run(
    invoke,
    fps: float,
    secs: float,
    read_temperature=read_soc_temperature,
    thermal_interval: float = 1.0,
    clock=time.perf_counter,
    sleep=time.sleep,
    read_power=None,
) -> dict:
    """Invoke at ``fps`` for ``secs`` seconds.

    Args:
        invoke: One inference (LiteRT's ``interpreter.invoke``, Core ML's ``predict``).
        fps: Invocations per second asked for.
        secs: Duration.
        read_temperature: Degrees C now, or None.
        thermal_interval: Seconds between temperature readings.
        clock, sleep: Injected for tests.
        read_power: Raw power readings now (``LinuxPower.read``), taken with the temperature; None: none.

    Returns:
        samples_ms, sample_times_s, temperatures, dropped_frames, duration_secs, and power_times_s and
        power_raw when ``read_power`` is given.
    """
    period = 1.0 / fps
    samples, times, temperatures = [], [], []
    power_times, power_raw = [], []
    dropped = 0
    start = clock()
    next_reading = 0.0
    slot = 0
    while True:
        due = start + slot * period
        if due - start >= secs:
            break
        now = clock()
        if now < due:
            sleep(due - now)
        elif now - due >= period:  # whole slots already passed: those frames are dropped
            missed = int((now - due) / period)
            dropped += missed
            slot += missed
            continue
        began = clock()
        if began - start >= next_reading:
            value = read_temperature()
            if value is not None:
                temperatures.append([round(began - start, 3), value])
            if read_power is not None:
                power_times.append(round(clock() - start, 4))
                power_raw.append(read_power())
            next_reading += thermal_interval
        invoke()
        samples.append((clock() - began) * 1000.0)
        times.append(began - start)
        slot += 1
    result = {
        "samples_ms": samples,
        "sample_times_s": times,  # the first slot is due at once, so these count from the first start
        "temperatures": temperatures,
        "dropped_frames": dropped,
        "duration_secs": clock() - start,
    }
    if read_power is not None:  # a last reading closes the final interval of a counter
        power_times.append(round(clock() - start, 4))
        power_raw.append(read_power())
        result.update(power_times_s=power_times, power_raw=power_raw)
    return result


def measure(args: argparse.Namespace) -> dict:
    """Load with the worker's set-up, warm up, then run paced."""
    interpreter, init_ms, model_nodes = worker.build_interpreter(args.model, args.delegate, args.threads)
    worker.fill_inputs(interpreter, args.seed)
    graph = worker.delegation(interpreter, model_nodes)
    if args.cooldown_secs > 0:
        time.sleep(args.cooldown_secs)
    power = power_linux.LinuxPower(args.sysfs_root) if args.power else None
    idle = None
    if power is not None and power.sensors:  # the idle baseline: loaded, not yet invoked
        idle = power_linux.sample_while(
            power, args.idle_secs, args.thermal_interval_secs, time.perf_counter, time.sleep
        )
    warmup = worker.run_phase(interpreter.invoke, args.warmup_runs, args.warmup_min_secs, 150.0)
    paced = paced_run(
        interpreter.invoke,
        args.fps,
        args.secs,
        thermal_interval=args.thermal_interval_secs,
        read_power=power.read if power is not None and power.sensors else None,
    )
    outside = graph["outside"]
    delegated = args.delegate != "cpu" and outside is not None
    sustained = {
        key: paced[key] for key in ("sample_times_s", "temperatures", "dropped_frames", "duration_secs")
    }
    return {
        "init_ms": init_ms,
        "first_inference_ms": warmup[0] if warmup else None,
        "warmup_samples_ms": warmup,
        "samples_ms": paced["samples_ms"],
        "ops_total": graph["ops_total"],
        "ops_outside_delegate": len(outside) if delegated else None,
        "outside_ops": outside if delegated else None,
        "delegate_partitions": graph["delegate_partitions"],
        "sustained": {"target_fps": args.fps, **sustained},
        **({"power": power_result(power, idle, paced)} if power is not None else {}),
    }


def power_result(power, idle, paced: dict) -> dict:
    """The ``power`` object of the result: the sensors' traces (idle and paced) in mW, or the reason."""
    if not power.sensors:
        return {"reason": power.reason}
    return {
        "source": power.source,
        "sensor": power.sensor_label,
        "idle": power.to_trace(*idle),
        "trace": power.to_trace(paced["power_times_s"], paced["power_raw"]),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a .tflite model at a fixed rate; write one JSON file.")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--delegate", choices=worker.DELEGATES, default="xnnpack")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--secs", type=float, required=True)
    parser.add_argument("--thermal-interval-secs", type=float, default=1.0)
    parser.add_argument("--warmup-runs", type=int, default=1)
    parser.add_argument("--warmup-min-secs", type=float, default=0.5)
    parser.add_argument("--cooldown-secs", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--power", action="store_true", help="sample RAPL / hwmon power (and an idle baseline)"
    )
    parser.add_argument("--idle-secs", type=float, default=10.0, help="idle baseline length before the run")
    parser.add_argument("--sysfs-root", default="/", help="where /sys is (tests point it at a fake tree)")
    args = parser.parse_args(argv)
    if args.fps <= 0 or args.secs <= 0 or args.threads < 1:
        parser.error(
            f"--fps and --secs must be positive and --threads at least 1; got {args.fps}, {args.secs}, "
            f"{args.threads}"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    header = {
        "protocol": worker.PROTOCOL,
        "model": args.model,
        "delegate": args.delegate,
        "threads": args.threads,
    }
    try:
        body = {"ok": True, **measure(args)}
    except (ValueError, RuntimeError, OSError) as error:  # what LiteRT raises for a model it cannot use
        body = {"ok": False, "error": {"type": type(error).__name__, "message": " ".join(str(error).split())}}
    _, _, litert = worker.load_litert()
    runtime = {
        "litert": litert,
        "python": sys.version.split()[0],
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
    worker.write_atomically(
        args.out, {**header, **body, "runtime": runtime, "peak_rss_mb": worker.peak_rss_mb()}
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # as the worker: a delegate crashing at teardown must not undo a finished measurement


if __name__ == "__main__":
    main()
