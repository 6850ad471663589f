"""Describe the machine and software a benchmark ran on: CPU model, cores, SIMD features, memory, OS, and the
versions of onnxruntime / PyTorch / tract / infc (git revision). Stdlib only, every probe is best effort."""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Flags from /proc/cpuinfo that matter for the kernels being compared, in display order.
INTERESTING_FLAGS = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                     "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"]


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _lscpu() -> dict[str, str]:
    out = {}
    for line in _run(["lscpu"]).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _cpu_flags(lscpu: dict[str, str]) -> set[str]:
    flags = lscpu.get("Flags", "")
    if not flags:
        try:
            text = Path("/proc/cpuinfo").read_text()
            m = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
            flags = m.group(1) if m else ""
        except OSError:
            flags = ""
    return set(flags.split())


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _os_name() -> str:
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{pretty or platform.system()} (kernel {platform.release()})"


def _lock_version(crate: str) -> str | None:
    try:
        text = (REPO / "Cargo.lock").read_text()
    except OSError:
        return None
    m = re.search(r'name = "' + re.escape(crate) + r'"\nversion = "([^"]+)"', text)
    return m.group(1) if m else None


def _git_rev() -> str:
    rev = _run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO).strip() or "unknown"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO).strip()
    return rev + ("+dirty" if dirty else "")


def _module_version(name: str) -> str | None:
    try:
        module = __import__(name)
        return str(getattr(module, "__version__", "unknown"))
    except Exception:  # noqa: BLE001 - a broken install is reported as missing, never fatal
        return None


def describe() -> dict:
    """Everything BENCHMARKS.md states about the machine and the software versions."""
    lscpu = _lscpu()
    flags = _cpu_flags(lscpu)
    sockets = lscpu.get("Socket(s)")
    cores_per_socket = lscpu.get("Core(s) per socket")
    physical = None
    if sockets and cores_per_socket and sockets.isdigit() and cores_per_socket.isdigit():
        physical = int(sockets) * int(cores_per_socket)
    return {
        "cpu_model": lscpu.get("Model name") or platform.processor() or "unknown",
        "logical_cpus": int(lscpu["CPU(s)"]) if lscpu.get("CPU(s)", "").isdigit() else None,
        "physical_cores": physical,
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "hypervisor": lscpu.get("Hypervisor vendor"),
        "l2_cache": lscpu.get("L2 cache"),
        "l3_cache": lscpu.get("L3 cache"),
        "flags": [f for f in INTERESTING_FLAGS if f in flags],
        "memory_gib": _mem_total_gib(),
        "os": _os_name(),
        "python": platform.python_version(),
        "versions": {
            "onnxruntime": _module_version("onnxruntime"),
            "torch": _module_version("torch"),
            "transformers": _module_version("transformers"),
            "numpy": _module_version("numpy"),
            "tract-onnx": _lock_version("tract-onnx"),
            "infc": _git_rev(),
        },
    }


def markdown(desc: dict) -> list[str]:
    """Bullet lines describing `desc` (from describe())."""
    cores = f"{desc['logical_cpus']} logical CPUs"
    if desc.get("physical_cores"):
        cores += f", {desc['physical_cores']} physical cores ({desc['threads_per_core']} thread(s) per core)"
    cpu = f"{desc['cpu_model']}, {cores}"
    if desc.get("hypervisor"):
        cpu += f", virtualised ({desc['hypervisor']})"
    caches = ", ".join(f"{k.upper()} {desc[k + '_cache']}" for k in ("l2", "l3") if desc.get(k + "_cache"))
    absent = [f for f in ("avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8") if f not in desc["flags"]]
    mem = f"{desc['memory_gib']:.1f} GiB" if desc.get("memory_gib") else "unknown"
    v = desc["versions"]
    versions = ", ".join(f"{k} {v[k] or 'not installed'}" for k in ("onnxruntime", "torch", "transformers", "numpy"))
    return [
        f"- CPU: {cpu}" + (f"; caches {caches}" if caches else ""),
        f"- SIMD: {' '.join(desc['flags']) or 'none of interest'}"
        + (f" (absent: {' '.join(absent)})" if absent else ""),
        f"- Memory: {mem}; OS: {desc['os']}; Python {desc['python']}",
        f"- Versions: {versions}, tract-onnx {v['tract-onnx'] or 'unknown'}, infc git {v['infc']}",
    ]
