#!/usr/bin/env python3
"""Side-by-side benchmark: infc FP32/INT8 vs onnxruntime FP32/INT8 vs tract vs PyTorch eager.

    python3 bench/compare.py [--models resnet50,gpt2,distilbert] [--batches 1,4,8,16] [--warmup 20]
                             [--iters 100] [--threads 2] [--budget SECONDS] [--estimate] [--quick]
                             [--system-python]

Steps: (1) unless --system-python, create bench/.venv and install bench/requirements.txt into it, then re-run
itself inside it; (2) export the full-size models with models/export.py --full if missing; (3) build
target/release/infc and infc-tract-bench (cargo, release); (4) for each model and batch size, write the
inputs once and run every engine one after another, each in its own process, with the same inputs and
thread count; (5) write bench/out/results.json, bench/out/<model>.svg and BENCHMARKS.md at the repo root.

An engine that cannot run (infc not built yet, a compile error, a model tract rejects, a timeout) is
recorded with its error in the table instead of stopping the run.

--budget SECONDS caps each engine's warmup + timed iterations per (model, batch) (and each infc --profile run)
to what fits in that time, estimated from one iteration (bench/budget.py); the table shows the counts run.
--estimate prints the expected duration (from the last results.json) and exits; it is also printed at start.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import budget  # noqa: E402  (bench/budget.py, stdlib only)

REPO = BENCH.parent
VENV = BENCH / ".venv"
CACHE = BENCH / ".cache"  # generated inputs, INT8 models, infc plans (gitignored)
OUT = BENCH / "out"  # results.json and charts
MODELS_FULL = REPO / "models" / "full"
FAMILY_VOCAB = {"gpt2": 50257, "distilbert": 30522}  # GPT2Config() / DistilBertConfig() defaults
ALL_ENGINES = ["infc-fp32", "infc-int8", "ort-fp32", "ort-int8", "tract", "torch"]
IN_VENV_ENV = "INFC_BENCH_IN_VENV"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheels
TORCH_INDEX_ENV = "INFC_BENCH_TORCH_INDEX"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------
# Python environment
# --------------------------------------------------------------------------------------------------


def requirement_specs(req: Path, names: set[str]) -> list[str]:
    """The requirement lines of requirements.txt whose project is one of names (e.g. `torch>=2.5`)."""
    import re

    out = []
    for line in req.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"([A-Za-z0-9_.-]+)", line)
        if match and not line.startswith("-") and match.group(1).lower() in names:
            out.append(line)
    return out


def torch_index_reachable(py: Path, url: str, timeout_s: float = 20) -> bool:
    """Whether pip (with this machine's pip configuration: proxy, certificates) can list torch on the index at
    url, asked once with a short timeout and no retries. An unreachable index otherwise costs every package
    lookup pip's retries (about 6 s each when the host does not resolve; 5 × --timeout when packets are
    dropped), and a half-reachable one can stall the install for hours."""
    cmd = [str(py), "-m", "pip", "index", "versions", "torch", "--index-url", url, "--timeout", "10",
           "--retries", "0", "--disable-pip-version-check"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def pip_install(py: Path, args: list[str]) -> None:
    """pip install without pip's wheel cache: the venv is installed once, and the cache would keep a second
    copy of the multi-GB PyTorch wheels."""
    cmd = [str(py), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", *args]
    log("  " + shlex.join(cmd[1:]))
    subprocess.run(cmd, check=True)


def ensure_venv(argv: list[str], torch_index: str) -> None:
    """Create bench/.venv, install requirements when they changed, and re-exec this script inside it.

    PyTorch comes from torch_index (the CPU-only wheel index by default) when pip can reach it, so the venv
    holds the ~200 MB CPU build; when it cannot (an offline mirror, a firewall) or torch_index is "pypi", from
    PyPI, whose Linux x86-64 torch pulls the CUDA runtime wheels as well (several GB, unused here)."""
    py = VENV / "bin" / "python"
    req = BENCH / "requirements.txt"
    stamp = VENV / f".installed-{hashlib.sha256(req.read_bytes()).hexdigest()[:16]}"
    if not py.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists():
        started = time.perf_counter()
        log(f"installing {req.relative_to(REPO)} into {VENV} (first run only)")
        pip_install(py, ["--upgrade", "pip"])
        torch_specs = requirement_specs(req, {"torch", "torchvision"})
        source = "PyPI"
        if torch_index != "pypi" and torch_specs:
            why = "is not reachable from here"
            if torch_index_reachable(py, torch_index):
                try:
                    pip_install(py, ["--index-url", torch_index, *torch_specs])
                    source = torch_index
                except subprocess.CalledProcessError as exc:
                    why = f"has no usable {' '.join(torch_specs)} (pip exit code {exc.returncode})"
            if source == "PyPI":
                log(f"  {torch_index} {why}: installing PyTorch from PyPI instead (on Linux x86-64 that is the "
                    "CUDA build with its nvidia-* wheels, several GB; pass --torch-index to use a mirror of the "
                    "CPU wheels)")
        pip_install(py, ["-r", str(req)])
        elapsed = time.perf_counter() - started
        stamp.write_text(f"torch from {source}; installed in {elapsed:.0f} s\n")
        log(f"installed {req.relative_to(REPO)} in {elapsed:.0f} s (PyTorch from {source})")
    env = dict(os.environ, **{IN_VENV_ENV: "1"})
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *argv], env)


# --------------------------------------------------------------------------------------------------
# Subprocesses with peak RSS
# --------------------------------------------------------------------------------------------------


class Proc:
    """Outcome of one child process: exit code, output, peak RSS (ru_maxrss of that child) and wall time."""

    def __init__(self, rc: int | None, stdout: str, stderr: str, maxrss: int | None, wall_s: float, timed_out: bool):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.maxrss, self.wall_s, self.timed_out = maxrss, wall_s, timed_out

    def error(self) -> str:
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f} s"
        lines = [ln.strip() for ln in (self.stderr or self.stdout).splitlines() if ln.strip()]
        # The first "error..." line is the cause (cargo's error[E…], clap's "error: unrecognized subcommand",
        # a Python exception's last line otherwise).
        errors = [ln for ln in lines if ln.lower().startswith("error")]
        detail = (errors[0] if errors else lines[-1]) if lines else "no output"
        return f"exit code {self.rc}: {detail}"


def run_proc(cmd: list[str], timeout_s: float, env: dict | None = None, cwd: Path = REPO) -> Proc:
    """Run cmd to completion, collecting stdout/stderr through files and the child's own rusage via wait4."""
    import tempfile

    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        except OSError as exc:
            return Proc(None, "", f"error: cannot start {cmd[0]}: {exc}", None, 0.0, False)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            if time.perf_counter() - start > timeout_s and not timed_out:
                timed_out = True
                child.kill()
            time.sleep(0.02)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Proc(child.returncode, out.read(), err.read(), usage.ru_maxrss * 1024, wall, timed_out)


def last_json(text: str) -> dict | None:
    """The last JSON object in an engine's stdout, on one line or pretty-printed over several."""
    decoder = json.JSONDecoder()
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].lstrip().startswith("{"):
            continue
        try:
            obj, _ = decoder.raw_decode("\n".join(lines[i:]).lstrip())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def child_env(threads: int) -> dict:
    t = str(threads)
    return dict(os.environ, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, RAYON_NUM_THREADS=t,
                TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore")


# --------------------------------------------------------------------------------------------------
# Preparation: models, binaries, inputs, INT8 models
# --------------------------------------------------------------------------------------------------


def ensure_models(models: dict[str, Path], exporter: str) -> None:
    missing = [d.name for d in models.values() if not (d / "model.onnx").exists() or not (d / "meta.json").exists()]
    if not missing:
        return
    cmd = [sys.executable, str(REPO / "models" / "export.py"), "--full", "--exporter", exporter, "--only", *missing]
    log(f"exporting missing full-size models: {' '.join(missing)}")
    subprocess.run(cmd, check=True, cwd=REPO)


def build_binaries(needed: set[str], skip: bool, timeout_s: float) -> dict[str, Path | str]:
    """Build infc and/or infc-tract-bench (release). Value: the binary, or the reason it is unavailable."""
    out: dict[str, Path | str] = {"infc": "not requested", "infc-tract-bench": "not requested"}
    for package, binary in (("infc-cli", "infc"), ("infc-tract-bench", "infc-tract-bench")):
        if binary not in needed:
            continue
        path = REPO / "target" / "release" / binary
        if not skip:
            log(f"cargo build --release -p {package}")
            proc = run_proc(["cargo", "build", "--release", "-p", package], timeout_s)
            if proc.rc != 0:
                out[binary] = f"cargo build -p {package} failed: {proc.error()}"
                log(f"  {out[binary]}")
                continue
        out[binary] = path if path.exists() else f"{path.relative_to(REPO)} not built"
    return out


def batch_inputs(model_dir: Path, meta: dict, batch: int, seq: int) -> list[tuple[str, Path]]:
    """(name, .npy path) for each model input at this batch size. The exported inputs are reused when their
    shape matches; otherwise seeded inputs are generated once into bench/.cache/inputs/."""
    import numpy as np

    family = meta["family"]
    out = []
    rng = np.random.default_rng(1000 + batch)
    for spec in meta["inputs"]:
        name = spec["name"]
        shape = [batch, *spec["shape"][1:]]
        if family != "resnet":
            shape = [batch, seq]
        if list(spec["shape"]) == shape:
            out.append((name, model_dir / spec["file"]))
            continue
        sub = f"bs{batch}" if family == "resnet" else f"bs{batch}_s{seq}"
        path = CACHE / "inputs" / model_dir.name / sub / spec["file"]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if family == "resnet":
                arr = rng.standard_normal(shape, dtype=np.float32)
            elif name == "attention_mask":
                arr = np.ones(shape, dtype=np.int64)
            else:
                arr = rng.integers(0, FAMILY_VOCAB[family], size=shape, dtype=np.int64)
            np.save(path, arr)
        out.append((name, path))
    return out


def quantized_model(model_dir: Path, timeout_s: float) -> tuple[Path, float | None]:
    """onnxruntime quantize_dynamic (QInt8 weights) of model.onnx, cached in bench/.cache/ort_int8/. Returns
    (path, milliseconds, or None when the cached file was used). Runs in a subprocess so this process stays
    small (a forked child starts with its parent's peak RSS in ru_maxrss)."""
    dst = CACHE / "ort_int8" / model_dir.name / "model.int8.onnx"
    src = model_dir / "model.onnx"
    if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst, None
    dst.parent.mkdir(parents=True, exist_ok=True)
    log(f"  quantize_dynamic {model_dir.name} -> {dst.relative_to(REPO)}")
    proc = run_proc([sys.executable, str(BENCH / "worker.py"), "quantize", str(src), str(dst)], timeout_s)
    if proc.rc != 0 or not dst.exists():
        raise RuntimeError(f"quantize_dynamic failed: {proc.error()}")
    return dst, proc.wall_s * 1e3


# --------------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------------


def from_report(rec: dict, proc: Proc, what: str) -> dict:
    """Fill rec from the JSON object an engine printed; status failed when there is none."""
    rep = last_json(proc.stdout) if proc.rc == 0 else None
    if rep is None:
        rec.update(status="failed", error=proc.error() if proc.rc != 0 else f"{what} printed no JSON object")
        return rec
    missing = [k for k in ("p50_ms", "p99_ms", "mean_ms", "throughput_per_s") if not isinstance(rep.get(k), (int, float))]
    if missing:
        rec.update(status="failed", error=f"{what} JSON lacks {', '.join(missing)}")
        return rec
    rec.update(status="ok", reported=rep, p50_ms=rep["p50_ms"], p99_ms=rep["p99_ms"], mean_ms=rep["mean_ms"],
               throughput_per_s=rep["throughput_per_s"], load_ms=rep.get("load_ms"),
               reported_peak_rss_bytes=rep.get("peak_rss_bytes"), wait4_maxrss_bytes=proc.maxrss,
               peak_rss_bytes=rep.get("peak_rss_bytes") or proc.maxrss,
               threads=rep.get("threads"), wall_s=proc.wall_s)
    for key in ("warmup", "iters"):  # the counts actually run (fewer than requested under --budget)
        if isinstance(rep.get(key), int):
            rec[key] = rep[key]
    if isinstance(rep.get("first_iter_ms"), (int, float)):
        rec["first_iter_ms"] = rep["first_iter_ms"]
    return rec


def budgeted_counts(ctx: dict, rec: dict, probe_cmd: list[str], env: dict, what: str) -> tuple[int, int] | str:
    """(warmup, iters) for an engine timed by its own binary (infc, tract): the requested counts without a
    budget; with one, what fits after a one-iteration probe run of probe_cmd (`--warmup 0 --iters 1 --json`),
    or the probe's error."""
    if ctx["budget"] is None:
        return ctx["warmup"], ctx["iters"]
    proc = run_proc(probe_cmd, ctx["timeout"], env=env)
    probe = from_report({}, proc, f"{what} (budget probe)")
    if probe["status"] != "ok":
        return probe["error"]
    rec["first_iter_ms"] = probe["mean_ms"]
    rec["probe_wall_s"] = proc.wall_s
    return budget.plan_runs(probe["mean_ms"] / 1e3, ctx["warmup"], ctx["iters"], ctx["budget"])


_INT8_SUPPORT: dict[str, bool] = {}


def infc_has_int8(infc: Path) -> bool:
    """Whether this infc binary's `compile --help` lists `--int8` (checked once per binary)."""
    key = str(infc)
    if key not in _INT8_SUPPORT:
        proc = run_proc([str(infc), "compile", "--help"], 60)
        _INT8_SUPPORT[key] = proc.rc == 0 and "--int8" in proc.stdout
    return _INT8_SUPPORT[key]


def run_infc(ctx: dict, rec: dict, int8: bool) -> dict:
    infc = ctx["binaries"]["infc"]
    if not isinstance(infc, Path):
        rec.update(status="unavailable", error=infc)
        return rec
    if int8 and not infc_has_int8(infc):
        rec.update(status="unavailable", error="this infc has no `compile --int8` yet")
        return rec
    model_dir, batch, inputs = ctx["model_dir"], rec["batch"], ctx["inputs"]
    plan = CACHE / "plans" / model_dir.name / f"bs{batch}_{'int8' if int8 else 'fp32'}.plan"
    plan.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(infc), "compile", str(model_dir / "model.onnx"), "-O3", "-o", str(plan)]
    for name, path in inputs:
        import numpy as np

        shape = np.load(path, mmap_mode="r").shape
        cmd += ["--shape", f"{name}={'x'.join(map(str, shape))}"]
    if int8:
        cmd.append("--int8")
    rec["compile_cmd"] = shlex.join(cmd)
    compiled = ctx.setdefault("compiled_ms", {})  # plans compiled earlier in this run (later --rounds)
    if str(plan) not in compiled:
        proc = run_proc(cmd, ctx["timeout"], env=child_env(ctx["threads"]))
        if proc.rc != 0:
            rec.update(status="unavailable", error=f"infc compile: {proc.error()}")
            return rec
        compiled[str(plan)] = proc.wall_s * 1e3
    rec["compile_ms"] = compiled[str(plan)]
    feeds = [arg for name, path in inputs for arg in ("--input", f"{name}={path}")]
    run = [str(infc), "run", str(plan), "--bench", "--json", "--threads", str(ctx["threads"]), *feeds]
    counts = budgeted_counts(ctx, rec, [*run, "--warmup", "0", "--iters", "1"], child_env(ctx["threads"]), "infc run")
    if isinstance(counts, str):
        rec.update(status="unavailable", error=f"infc run: {counts}")
        return rec
    cmd = [*run[:4], "--warmup", str(counts[0]), "--iters", str(counts[1]), *run[4:]]
    rec["run_cmd"] = shlex.join(cmd)
    proc = run_proc(cmd, ctx["timeout"], env=child_env(ctx["threads"]))
    rec = from_report(rec, proc, "infc run")
    if rec["status"] != "ok":
        rec["status"] = "unavailable"
        rec["error"] = f"infc run: {rec['error']}"
        return rec
    if ctx.get("profile_iters", 0) > 0:
        rec["profile"] = profile_infc(dict(ctx, per_iter_s=rec["mean_ms"] / 1e3), infc, plan, inputs)
    return rec


def profile_infc(ctx: dict, infc: Path, plan: Path, inputs: list[tuple[str, Path]]) -> dict:
    """`infc run --profile` of the plan just benchmarked: runtime overhead and the top five op kinds."""
    prof_json = plan.with_suffix(".profile.json")
    prof_json.unlink(missing_ok=True)  # a stale file from an earlier run must not pass for this one
    # `infc run --profile` does min(iters, 20) unprofiled runs besides the profiled ones: plan at twice the cost.
    warmup, iters = budget.plan_runs(2 * ctx["per_iter_s"], budget.PROFILE_WARMUP, ctx["profile_iters"],
                                     ctx["budget"], budget.PROFILE_MIN_TIMED)
    cmd = [str(infc), "run", str(plan), "--profile", "--warmup", str(warmup), "--iters", str(iters),
           "--threads", str(ctx["threads"]), "--json", str(prof_json)]
    for name, path in inputs:
        cmd += ["--input", f"{name}={path}"]
    proc = run_proc(cmd, ctx["timeout"], env=child_env(ctx["threads"]))
    if proc.rc != 0 or not prof_json.exists():
        return {"error": proc.error(), "cmd": shlex.join(cmd)}
    prof = json.loads(prof_json.read_text())
    top = [{"kind": k["kind"], "mean_ms": k["mean_ms"], "share_pct": k["share_pct"],
            "gflops_per_s": k.get("gflops_per_s")} for k in prof.get("kinds", [])[:5]]
    return {"cmd": shlex.join(cmd), "file": str(prof_json), "warmup": warmup, "iters": iters,
            "latency_ms": prof.get("latency_ms"),
            "steps_total_ms": prof.get("steps_total_ms"), "overhead_pct": prof.get("overhead_pct"), "top_kinds": top}


def run_tract(ctx: dict, rec: dict) -> dict:
    binary = ctx["binaries"]["infc-tract-bench"]
    if not isinstance(binary, Path):
        rec.update(status="unavailable", error=binary)
        return rec
    run = [str(binary), str(ctx["model_dir"] / "model.onnx"), "--json"]
    run += [arg for name, path in ctx["inputs"] for arg in ("--input", f"{name}={path}")]
    counts = budgeted_counts(ctx, rec, [*run, "--warmup", "0", "--iters", "1"], child_env(1), "infc-tract-bench")
    if isinstance(counts, str):
        rec.update(status="failed", error=counts)
        return rec
    cmd = [*run, "--warmup", str(counts[0]), "--iters", str(counts[1])]
    rec["run_cmd"] = shlex.join(cmd)
    return from_report(rec, run_proc(cmd, ctx["timeout"], env=child_env(1)), "infc-tract-bench")


def run_python(ctx: dict, rec: dict, kind: str, target: Path) -> dict:
    cmd = [sys.executable, str(BENCH / "worker.py"), kind, str(target), "--threads", str(ctx["threads"]),
           "--warmup", str(ctx["warmup"]), "--iters", str(ctx["iters"])]
    if ctx["budget"] is not None:
        cmd += ["--budget", str(ctx["budget"])]
    for name, path in ctx["inputs"]:
        cmd += ["--input", f"{name}={path}"]
    rec["run_cmd"] = shlex.join(cmd)
    return from_report(rec, run_proc(cmd, ctx["timeout"], env=child_env(ctx["threads"])), f"worker.py {kind}")


def run_engine(engine: str, ctx: dict, rec: dict) -> dict:
    try:
        if engine == "infc-fp32":
            return run_infc(ctx, rec, int8=False)
        if engine == "infc-int8":
            return run_infc(ctx, rec, int8=True)
        if engine == "ort-fp32":
            return run_python(ctx, rec, "ort", ctx["model_dir"] / "model.onnx")
        if engine == "ort-int8":
            path, quantize_ms = ctx["int8_model"](ctx["timeout"])
            rec["quantize_ms"] = quantize_ms
            return run_python(ctx, rec, "ort", path)
        if engine == "tract":
            return run_tract(ctx, rec)
        if engine == "torch":
            return run_python(ctx, rec, "torch", ctx["model_dir"])
        raise ValueError(f"unknown engine {engine}")
    except Exception as exc:  # noqa: BLE001 - one engine's failure must not stop the comparison
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        return rec


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def median_round(recs: list[dict]) -> dict:
    """One engine's record from its rounds: the round with the median P50 (the lower middle one for an even
    count; its P99, mean and RSS come from that same run), with every round's P50 in `round_p50s_ms` and the
    first round's profile. The first round's record when no round succeeded."""
    good = sorted((r for r in recs if r["status"] == "ok"), key=lambda r: r["p50_ms"])
    if not good:
        return recs[0]
    rec = dict(good[(len(good) - 1) // 2])
    if len(recs) > 1:
        rec["rounds"] = len(recs)
        rec["round_p50s_ms"] = [r["p50_ms"] for r in recs if r["status"] == "ok"]
        rec["failed_rounds"] = sum(r["status"] != "ok" for r in recs)
    if "profile" in recs[0]:
        rec["profile"] = recs[0]["profile"]
    return rec


def csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet50,gpt2,distilbert", help="comma-separated model families")
    p.add_argument("--batches", default="1,4,8,16", help="comma-separated batch sizes")
    p.add_argument("--engines", default=",".join(ALL_ENGINES), help=f"subset of {','.join(ALL_ENGINES)}")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads for every engine but tract")
    p.add_argument("--seq", type=int, default=128, help="sequence length for the transformers")
    p.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                   help="which models/full export to use (ts17 or dynamo18)")
    p.add_argument("--quick", action="store_true", help="smoke test: batch 1, 3 warmup, 10 iterations")
    p.add_argument("--system-python", action="store_true", help="use this interpreter, no bench/.venv")
    p.add_argument("--torch-index", default=os.environ.get(TORCH_INDEX_ENV, CPU_TORCH_INDEX),
                   help="pip index for PyTorch when creating bench/.venv (falls back to PyPI when unreachable; "
                        f"'pypi' = PyPI only; default ${TORCH_INDEX_ENV} or %(default)s)")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build; use target/release as is")
    p.add_argument("--infc", type=Path, default=None, help="use this infc binary instead of building target/release/infc")
    p.add_argument("--profile-iters", type=int, default=10,
                   help="after each infc benchmark, profile this many runs (infc run --profile); 0 skips")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="per engine and (model, batch): run only the warmup and timed iterations that fit in this "
                        f"time (at least {budget.MIN_TIMED} timed), estimated from one iteration; also caps each "
                        "infc --profile run. Default: no budget, exactly --warmup and --iters")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the engines of each (model, batch) this many times, one after another in turn "
                        "(round-robin, so slow phases of a noisy machine hit every engine alike); each engine's "
                        "row is its median-P50 round, with every round's P50 kept. Profiles run in round 1")
    p.add_argument("--estimate", action="store_true",
                   help="print the expected duration of this run (from the last results.json) and exit")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per engine process (and per build)")
    p.add_argument("--report", type=Path, default=REPO / "BENCHMARKS.md", help="markdown file to write")
    p.add_argument("--out", type=Path, default=OUT, help="directory for results.json and the SVG charts")
    args = p.parse_args(argv)
    if args.quick:
        args.batches, args.warmup, args.iters = "1", 3, 10
    try:
        args.batch_list = [int(b) for b in csv_list(args.batches)]
    except ValueError:
        p.error(f"--batches {args.batches!r}: expected comma-separated integers")
    if not args.batch_list or min(args.batch_list) < 1:
        p.error("--batches needs positive batch sizes")
    args.engine_list = csv_list(args.engines)
    unknown = set(args.engine_list) - set(ALL_ENGINES)
    if unknown:
        p.error(f"unknown engines {sorted(unknown)}; known: {ALL_ENGINES}")
    args.model_list = csv_list(args.models)
    if args.iters < 1 or args.warmup < 0 or args.threads < 1 or args.rounds < 1:
        p.error("--iters, --threads and --rounds must be >= 1, --warmup >= 0")
    if args.budget is not None and not args.budget > 0:
        p.error(f"--budget {args.budget}: expected a positive number of seconds")
    return args


def history_records(out_dir: Path) -> list[dict]:
    """The records of earlier runs' results.json (the --out directory's and bench/out*/), for the estimate."""
    files = {(out_dir / "results.json").resolve(), *(f.resolve() for f in BENCH.glob("out*/results.json"))}
    records = []
    for f in sorted(files):
        try:
            records += json.loads(f.read_text()).get("records", [])
        except (OSError, ValueError, AttributeError):
            continue
    return records


def estimate_message(args: argparse.Namespace) -> str:
    configs = [{"model": m, "batch": b, "engine": e} for m in args.model_list for b in args.batch_list
               for e in args.engine_list]
    seconds, informed = budget.estimate_seconds(configs, history_records(args.out), args.budget, args.warmup,
                                                args.iters, args.profile_iters)
    seconds *= args.rounds  # (a slight overestimate: profiles and compiles happen in round 1 only)
    how = (f"budget {args.budget:g} s per engine and configuration" if args.budget is not None
           else "no --budget")
    unknown = len(configs) - informed
    note = "" if not unknown else (f"; {unknown} not in any earlier results.json, counted as "
                                   f"{budget.DEFAULT_OVERHEAD_S:.0f} s + the budget each" if args.budget is not None
                                   else f"; {unknown} not in any earlier results.json and, without a budget, "
                                   "counted as their start-up only")
    duration = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    rounds = f" × {args.rounds} rounds" if args.rounds > 1 else ""
    return (f"expected duration: about {duration} for {len(configs)} engine configurations{rounds} ({how}; "
            f"{args.warmup} warmup + {args.iters} iterations requested; {informed} estimated from earlier "
            f"results{note}); model exports, builds and the venv install not included")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.estimate:
        print(estimate_message(args))
        return 0
    if not args.system_python and os.environ.get(IN_VENV_ENV) != "1":
        ensure_venv(argv, args.torch_index)  # does not return

    import machine
    import report

    started = time.perf_counter()
    log(estimate_message(args))
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    tag = "ts17" if args.exporter == "torchscript" else "dynamo18"
    model_dirs = {m: MODELS_FULL / f"{m}_{tag}" for m in args.model_list}
    known = {"resnet50", "gpt2", "distilbert"}
    if set(model_dirs) - known:
        log(f"error: unknown models {sorted(set(model_dirs) - known)}; known: {sorted(known)}")
        return 2
    ensure_models(model_dirs, args.exporter)
    needed = {"infc"} if any(e.startswith("infc") for e in args.engine_list) else set()
    needed |= {"infc-tract-bench"} if "tract" in args.engine_list else set()
    if args.infc is not None:
        needed.discard("infc")
    binaries = build_binaries(needed, args.no_build, args.timeout)
    if args.infc is not None:
        binaries["infc"] = args.infc.resolve() if args.infc.exists() else f"--infc {args.infc}: no such file"

    records: list[dict] = []
    for model, model_dir in model_dirs.items():
        meta = json.loads((model_dir / "meta.json").read_text())
        int8_cache: dict[str, tuple[Path, float | None]] = {}

        def int8_model(timeout_s: float, model_dir: Path = model_dir,
                       cache: dict = int8_cache) -> tuple[Path, float | None]:
            if "v" not in cache:
                path, ms = quantized_model(model_dir, timeout_s)
                cache["v"] = (path, ms)
                return path, ms
            return cache["v"][0], None

        for batch in args.batch_list:
            inputs = batch_inputs(model_dir, meta, batch, args.seq)
            ctx = {"model_dir": model_dir, "inputs": inputs, "threads": args.threads, "warmup": args.warmup,
                   "iters": args.iters, "timeout": args.timeout, "binaries": binaries, "int8_model": int8_model,
                   "profile_iters": args.profile_iters, "budget": args.budget}
            rounds: dict[str, list[dict]] = {engine: [] for engine in args.engine_list}
            for round_no in range(1, args.rounds + 1):
                # Profiles only in the first round; later rounds time the same plans again.
                ctx["profile_iters"] = args.profile_iters if round_no == 1 else 0
                for engine in args.engine_list:
                    rec = {"model": model, "model_dir": model_dir.name, "batch": batch, "engine": engine,
                           "threads": 1 if engine == "tract" else args.threads, "warmup": args.warmup,
                           "iters": args.iters}
                    which = f" (round {round_no}/{args.rounds})" if args.rounds > 1 else ""
                    log(f"{model} bs{batch} {engine}{which} ...")
                    rec = run_engine(engine, ctx, rec)
                    if rec["status"] == "ok":
                        log(f"  P50 {rec['p50_ms']:.2f} ms  P99 {rec['p99_ms']:.2f} ms  "
                            f"{rec['throughput_per_s']:.2f}/s  RSS {(rec['peak_rss_bytes'] or 0) / 1048576:.0f} MiB  "
                            f"({rec['warmup']} warmup + {rec['iters']} timed, {rec['wall_s']:.0f} s)")
                    else:
                        log(f"  {rec['status']}: {rec['error']}")
                    rounds[engine].append(rec)
            records.extend(median_round(recs) for recs in rounds.values())
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python3 bench/compare.py " + shlex.join(argv) if argv else "python3 bench/compare.py"
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": time.perf_counter() - started,
        "config": {"command": command.strip(), "models": list(model_dirs),
                   "model_dirs": {m: d.name for m, d in model_dirs.items()}, "batches": args.batch_list,
                   "engines": args.engine_list, "warmup": args.warmup, "iters": args.iters, "threads": args.threads,
                   "budget_s": args.budget, "min_timed": budget.MIN_TIMED, "profile_iters": args.profile_iters,
                   "rounds": args.rounds,
                   "profile_min_timed": budget.PROFILE_MIN_TIMED,
                   "seq": args.seq, "quick": args.quick, "exporter": args.exporter,
                   "results_json": str(args.out.resolve() / "results.json")},
        "machine": machine.describe(),
        "load_average": None if load_start is None else {"start": load_start, "end": os.getloadavg()[0]},
        "records": records,
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    svgs = {}
    for model in model_dirs:
        svg = args.out.resolve() / f"{model}.svg"
        title = f"{model}: P50 latency by batch size ({args.threads} threads; tract 1)"
        svg.write_text(report.svg_chart(records, model, title))
        svgs[model] = svg
    history = report.history_of(args.report)
    args.report.write_text(report.benchmarks_md(results, REPO, svgs).rstrip("\n") + "\n" + history)
    log(f"wrote {args.out / 'results.json'}, {len(svgs)} chart(s), {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
