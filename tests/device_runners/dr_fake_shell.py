"""The fake Android device's shell: a small POSIX-like interpreter over a temp-dir file system.

Only what the adb runner uses exists (getprop, dumpsys, mkdir, chmod, rm, echo, cat, ls, touch, sleep and
benchmark_model), but the tokenising is a real shell's: ``;``, ``&&`` and ``||`` separate commands unless
quoted, so an unquoted ``;touch PWNED`` in a path creates the file PWNED, and a test can see it.
"""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

_OPERATORS = {";", "&&", "||"}
_OPTIONAL = ("--result_file_path", "--report_peak_memory_footprint")


class FakeShell:
    """Runs device commands against ``config.root``."""

    def __init__(self, config) -> None:
        self.config = config
        self.thermal_reads = 0

    def local(self, device_path: str) -> Path:
        """Where a device path lives on this machine (relative paths are relative to '/')."""
        return self.config.root / device_path.lstrip("/")

    def write_file(self, device_path: str, data: bytes, mode: int) -> None:
        target = self.local(device_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(stat.S_IMODE(mode) or 0o644)

    def run(self, command: str) -> bytes:
        """Run a command line; returns everything it printed."""
        output, status, joiner = [], 0, ";"
        for words, operator in self._commands(command):
            if (joiner == "&&" and status != 0) or (joiner == "||" and status == 0):
                joiner = operator
                continue
            words = [word.replace("$?", str(status)) for word in words]
            text, status = self._one(words)
            output.append(text)
            joiner = operator
        return "".join(output).encode()

    def _commands(self, command: str):
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        tokens = list(lexer)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token in _OPERATORS:
                yield words, token
                words = []
            elif token in (">&", ">") and words and words[-1] == "2":
                words.pop()  # "2>&1": stderr is already folded into the output here
                index += 1
            else:
                words.append(token)
            index += 1
        if words:
            yield words, ";"

    def _one(self, words: list[str]) -> tuple[str, int]:
        name, args = words[0], words[1:]
        if name.endswith("/benchmark_model"):
            return self._benchmark(name, args)
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return f"/system/bin/sh: {name}: inaccessible or not found\n", 127
        return handler(args)

    # -- commands ------------------------------------------------------------------------------------

    def _cmd_getprop(self, args):
        return self.config.getprop, 0

    def _cmd_dumpsys(self, args):
        if args[:1] == ["battery"] and args[1:] in (["unplug"], ["reset"]):
            self.config.battery_unplugged = args[1] == "unplug"
            return "", 0
        screen = getattr(self.config, "screen", None)
        if args == ["power"] and screen:  # mWakefulness, changing between reads; the last stays
            state = screen.pop(0) if len(screen) > 1 else screen[0]
            return f"POWER MANAGER (dumpsys power)\n  mWakefulness={state}\n", 0
        index = min(self.thermal_reads // 2, len(self.config.thermal) - 1)
        self.thermal_reads += 1
        service, battery = self.config.thermal[index]
        if args == ["thermalservice"]:
            return service, 0
        battery = getattr(self.config, "battery", None) or battery  # the adb CLI fake has no power script
        if getattr(
            self.config, "battery_unplugged", False
        ):  # what the framework reports after `dumpsys battery unplug`
            battery = battery.replace("powered: true", "powered: false")
        return battery, 0

    def _cmd_mkdir(self, args):
        for path in (a for a in args if not a.startswith("-")):
            self.local(path).mkdir(parents=True, exist_ok=True)
        return "", 0

    def _cmd_chmod(self, args):
        mode, *paths = args
        for path in paths:
            self.local(path).chmod(int(mode, 8))
        return "", 0

    def _cmd_rm(self, args):
        import shutil

        for path in (a for a in args if not a.startswith("-")):
            local = self.local(path)
            if local.is_dir():
                shutil.rmtree(local)
            elif local.exists():
                local.unlink()
        return "", 0

    def _cmd_echo(self, args):
        return " ".join(args) + "\n", 0

    def _cmd_touch(self, args):
        for path in args:
            self.local(path).touch()
        return "", 0

    def _cmd_cat(self, args):
        output, status = [], 0
        for path in args:
            script = getattr(self.config, "sysfs", {}).get(path)
            if script:  # a sysfs file whose value changes between reads; the last value stays
                output.append((script.pop(0) if len(script) > 1 else script[0]) + "\n")
                continue
            local = self.local(path)
            if not local.is_file():
                output.append(f"cat: {path}: No such file or directory\n")
                status = 1
                continue
            output.append(local.read_text(errors="replace"))
        return "".join(output), status

    def _cmd_ls(self, args):
        local = self.local(args[0] if args else "/")
        return "".join(f"{p.name}\n" for p in sorted(local.iterdir())) if local.is_dir() else "", 0

    def _cmd_sleep(self, args):
        return "", 0

    # -- benchmark_model -----------------------------------------------------------------------------

    def _benchmark(self, binary: str, args: list[str]) -> tuple[str, int]:
        local = self.local(binary)
        if not local.is_file() or not local.stat().st_mode & 0o100:
            return f"/system/bin/sh: {binary}: can't execute: Permission denied\n", 126
        flags = dict(arg[2:].split("=", 1) for arg in args if arg.startswith("--") and "=" in arg)
        graph = flags.get("graph", "")
        if not self.local(graph).is_file():
            return f"ERROR: Could not open '{graph}'.\nERROR: Benchmarking failed.\n", 1
        optional = [arg for arg in args if arg.startswith(_OPTIONAL)]
        if self.config.old_binary and optional:
            warning = f"Unconsumed cmdline flags: {' '.join(optional)}\n"
            if self.config.old_binary == "fail":
                return warning + "ERROR: Benchmarking failed.\n", 1
            return warning + self.config.benchmark_outputs[self._recording(flags)], self.config.benchmark_exit
        if "result_file_path" in flags and self.config.proto is not None:
            self.write_file(flags["result_file_path"], self.config.proto, 0o644)
        return self.config.benchmark_outputs[self._recording(flags)], self.config.benchmark_exit

    def _recording(self, flags: dict[str, str]) -> str:
        if flags.get("use_gpu") == "true":
            return "gpu"
        if flags.get("use_nnapi") == "true":
            return "nnapi"
        return "cpu" if flags.get("use_xnnpack") == "false" else "xnnpack"
