"""Turn benchmark records into BENCHMARKS.md (tables per model, infc/onnxruntime ratios, machine description) and
one hand-written SVG chart per model (P50 latency by batch size per engine, log scale). Stdlib only."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import machine

# Engine id -> label, in table/legend order.
ENGINES = {
    "infc-fp32": "infc FP32",
    "infc-int8": "infc INT8",
    "ort-fp32": "onnxruntime FP32",
    "ort-int8": "onnxruntime INT8 (quantize_dynamic)",
    "tract": "tract (1 thread)",
    "torch": "PyTorch eager",
}
COLORS = {"infc-fp32": "#d62728", "infc-int8": "#ff7f0e", "ort-fp32": "#1f77b4", "ort-int8": "#17becf",
          "tract": "#2ca02c", "torch": "#9467bd"}
DASHED = {"infc-int8", "ort-int8"}


def fmt_ms(ms: float | None) -> str:
    if ms is None or not math.isfinite(ms):
        return "-"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.{digits}f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_mib(b: int | None) -> str:
    return "-" if b is None else f"{b / 1048576:.0f}"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def load_cell(r: dict) -> str:
    """The load / compile column: what each engine spends before the first inference."""
    load = fmt_ms(r.get("load_ms"))
    engine = r["engine"]
    if engine.startswith("infc"):
        return f"compile {fmt_ms(r.get('compile_ms'))} + load {load}"
    if engine == "ort-int8":
        q = r.get("quantize_ms")
        quant = "quantize cached" if q is None else f"quantize {fmt_ms(q)}"
        return f"{quant} + session {load}"
    if engine == "ort-fp32":
        return f"session {load}"
    if engine == "tract":
        return f"load+optimise {load}"
    if engine == "torch":
        return f"build {load} (random init)"
    return load


def ok(r: dict) -> bool:
    return r.get("status") == "ok"


def p50_of(records: list[dict], model: str, batch: int, engine: str) -> float | None:
    for r in records:
        if r["model"] == model and r["batch"] == batch and r["engine"] == engine and ok(r):
            return r["p50_ms"]
    return None


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 else f"{a / b:.2f}×"


def runs_cell(r: dict) -> str:
    """Warmup + timed iterations this row actually ran (fewer than requested under --budget), per round."""
    w, n = r.get("warmup"), r.get("iters")
    cell = "-" if not isinstance(n, int) else f"{w if isinstance(w, int) else '?'} + {n}"
    return cell + (f" × {r['rounds']} rounds" if r.get("rounds", 1) > 1 else "")


def p50_cell(r: dict) -> str:
    """The P50, with the range of the rounds' P50s under --rounds."""
    rounds = r.get("round_p50s_ms") or []
    spread = f" ({fmt_ms(min(rounds))} – {fmt_ms(max(rounds))})" if len(rounds) > 1 else ""
    return fmt_ms(r["p50_ms"]) + spread


def model_table(records: list[dict], model: str) -> list[str]:
    lines = ["| batch | engine | P50 | P99 | mean | throughput (samples/s) | peak RSS (MiB) | runs (warmup + timed) "
             "| load / compile | P50 / ORT FP32 |", "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    rows = [r for r in records if r["model"] == model]
    batches = sorted({r["batch"] for r in rows})
    for batch in batches:
        ort = p50_of(records, model, batch, "ort-fp32")
        for engine in ENGINES:
            for r in (r for r in rows if r["batch"] == batch and r["engine"] == engine):
                label = ENGINES[engine]
                if not ok(r):
                    msg = _cell(f"{r['status']}: {r.get('error') or 'no detail'}")
                    lines.append(f"| {batch} | {label} | {msg} | - | - | - | - | - | - | - |")
                    continue
                lines.append(
                    f"| {batch} | {label} | {p50_cell(r)} | {fmt_ms(r['p99_ms'])} | {fmt_ms(r['mean_ms'])} "
                    f"| {fmt_num(r['throughput_per_s'])} | {fmt_mib(r.get('peak_rss_bytes'))} | {runs_cell(r)} "
                    f"| {load_cell(r)} "
                    f"| {ratio(r['p50_ms'], ort)} |")
    return lines


def round_p50s(records: list[dict], model: str, batch: int, engine: str) -> list[float] | None:
    """Every round's P50 of an engine (harness --rounds), or None for a single round."""
    for r in records:
        if r["model"] == model and r["batch"] == batch and r["engine"] == engine and ok(r):
            return r.get("round_p50s_ms")
    return None


def ratio_cell(records: list[dict], model: str, batch: int, a: str, b: str) -> str:
    """P50 ratio of engines a and b; with --rounds also the range of the per-round ratios (round i of a over
    round i of b, run minutes apart), when both have every round."""
    cell = ratio(p50_of(records, model, batch, a), p50_of(records, model, batch, b))
    ra, rb = round_p50s(records, model, batch, a), round_p50s(records, model, batch, b)
    if ra and rb and len(ra) == len(rb) > 1:
        per = sorted(x / y for x, y in zip(ra, rb) if y > 0)
        cell += f" (rounds {per[0]:.2f}–{per[-1]:.2f}×)"
    return cell


def summary_table(records: list[dict], models: list[str]) -> list[str]:
    lines = ["| model | batch | infc FP32 / ORT FP32 | infc INT8 / ORT INT8 | infc INT8 / ORT FP32 |",
             "|---|---:|---:|---:|---:|"]
    for model in models:
        for batch in sorted({r["batch"] for r in records if r["model"] == model}):
            cells = [ratio_cell(records, model, batch, a, b)
                     for a, b in (("infc-fp32", "ort-fp32"), ("infc-int8", "ort-int8"), ("infc-int8", "ort-fp32"))]
            lines.append(f"| {model} | {batch} | " + " | ".join(cells) + " |")
    return lines


# --------------------------------------------------------------------------------------------------
# SVG chart
# --------------------------------------------------------------------------------------------------


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** exp
            if lo * 0.999 <= v <= hi * 1.001:
                ticks.append(v)
    return ticks


def _nice_below(v: float) -> float:
    """Largest 1-2-5 × 10^k value <= v."""
    e = math.floor(math.log10(v))
    return max(m * 10.0 ** e for m in (1, 2, 5) if m * 10.0 ** e <= v * (1 + 1e-9))


def _nice_above(v: float) -> float:
    """Smallest 1-2-5 × 10^k value >= v."""
    e = math.floor(math.log10(v))
    return min(m * 10.0 ** e for m in (1, 2, 5, 10) if m * 10.0 ** e >= v * (1 - 1e-9))


def _tick_label(v: float) -> str:
    return f"{v:g}" if v < 1000 else f"{v / 1000:g} s"


def svg_chart(records: list[dict], model: str, title: str) -> str:
    """P50 latency (log y) against batch size (categorical x), one polyline per engine."""
    width, height = 820, 420
    left, right, top, bottom = 70, 285, 40, 50
    pw, ph = width - left - right, height - top - bottom
    rows = [r for r in records if r["model"] == model and ok(r) and r["p50_ms"] > 0]
    batches = sorted({r["batch"] for r in records if r["model"] == model})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
           f'{escape(title)}</text>']
    if not rows or not batches:
        out.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle">no successful runs</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    values = [r["p50_ms"] for r in rows]
    lo, hi = _nice_below(min(values)), _nice_above(max(values))
    if hi / lo < 4:  # keep at least a few gridlines when every engine is close
        lo, hi = _nice_below(lo * 0.99), _nice_above(hi * 1.01)

    def y_of(v: float) -> float:
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    def x_of(batch: int) -> float:
        if len(batches) == 1:
            return left + pw / 2
        return left + 30 + batches.index(batch) * (pw - 60) / (len(batches) - 1)

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    for v in _log_ticks(lo, hi):
        y = y_of(v)
        major = abs(math.log10(v) - round(math.log10(v))) < 1e-9
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"'
                   + ("" if major else ' stroke-dasharray="2,3"') + "/>")
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick_label(v)}</text>')
    for b in batches:
        x = x_of(b)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="#444"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{b}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">batch size</text>')
    out.append(f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
               "P50 latency, ms (log scale)</text>")

    legend_y = top + 10
    for engine, label in ENGINES.items():
        pts = sorted((r["batch"], r["p50_ms"]) for r in rows if r["engine"] == engine)
        color = COLORS[engine]
        dash = ' stroke-dasharray="6,4"' if engine in DASHED else ""
        if pts:
            if len(pts) > 1:
                coords = " ".join(f"{x_of(b):.1f},{y_of(v):.1f}" for b, v in pts)
                out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            for b, v in pts:
                out.append(f'<circle cx="{x_of(b):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="{color}">'
                           f"<title>{escape(label)}, batch {b}: {fmt_ms(v)}</title></circle>")
        lx = left + pw + 15
        suffix = "" if pts else " (did not run)"
        out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 24}" y2="{legend_y}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{legend_y + 4}"'
                   + (' fill="#888"' if not pts else "") + f">{escape(label + suffix)}</text>")
        legend_y += 20
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# BENCHMARKS.md
# --------------------------------------------------------------------------------------------------


def history_of(path: Path) -> str:
    """The `## History` section (to the end of the file) of an existing BENCHMARKS.md, or ""; a rewrite
    of the report keeps it."""
    try:
        text = Path(path).read_text()
    except OSError:
        return ""
    at = text.find("\n## History\n")
    return "" if at < 0 else "\n" + text[at + 1:]


def profile_table(records: list[dict], model: str) -> list[str]:
    """Top five infc op kinds by time per (batch, engine), from `infc run --profile`; empty when none ran."""
    rows = [r for r in records if r["model"] == model and ok(r) and isinstance(r.get("profile"), dict)]
    if not rows:
        return []
    lines = [f"Where infc spends its time (`infc run --profile`, mean of the profiled runs; runtime overhead = run "
             "latency minus the sum of step times):", "",
             "| batch | engine | top op kinds (share of the run, GFLOP/s) | runtime overhead | runs (warmup + profiled) |",
             "|---:|---|---|---:|---:|"]
    for r in rows:
        prof = r["profile"]
        if "error" in prof:
            lines.append(f"| {r['batch']} | {ENGINES.get(r['engine'], r['engine'])} | "
                         f"profile failed: {_cell(prof['error'])} | - | - |")
            continue
        kinds = []
        for k in prof.get("top_kinds", []):
            g = k.get("gflops_per_s")
            rate = f", {g:.1f}" if isinstance(g, (int, float)) else ""
            kinds.append(f"{k['kind']} {k['share_pct']:.1f}%{rate}")
        over = prof.get("overhead_pct")
        over_cell = f"{over:.2f}%" if isinstance(over, (int, float)) else "-"
        lines.append(f"| {r['batch']} | {ENGINES.get(r['engine'], r['engine'])} | {'; '.join(kinds)} | "
                     f"{over_cell} | {runs_cell(prof)} |")
    return lines + [""]


def _shown(path: Path, repo: Path) -> str:
    """`path` relative to the repo root when it is inside it (links in BENCHMARKS.md), else absolute."""
    path = Path(path).resolve()
    try:
        return path.relative_to(repo.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def iterations_method(cfg: dict) -> list[str]:
    """The Method bullet on iteration counts: fixed, or capped by the --budget time budget."""
    budget_s = cfg.get("budget_s")
    if budget_s is None:
        return [f"- {cfg['warmup']} untimed warmup iterations, then {cfg['iters']} timed iterations, for every "
                "engine and configuration."]
    min_timed = cfg.get("min_timed", 5)
    return [f"- Time budget {budget_s:g} s per engine and (model, batch): up to {cfg['warmup']} untimed warmup and "
            f"{cfg['iters']} timed iterations, cut to what fits in {budget_s:g} s at the latency of one iteration "
            "(the first warmup iteration for onnxruntime and PyTorch, which re-plan the timed part from the last "
            "warmup one; a separate one-iteration probe process for infc and tract), keeping the requested "
            f"warmup : timed proportion, at least one warmup and at least {min_timed} timed iterations however "
            "slow the engine (those rows overrun the budget). The **runs** column gives the counts each row "
            "actually ran; rows with few timed iterations have a less reliable P99 (nearest rank = the maximum "
            "below 100 samples). The infc `--profile` runs have the same budget (at least "
            f"{cfg.get('profile_min_timed', 3)} profiled runs)."]


def rounds_method(cfg: dict) -> list[str]:
    """The Method bullet on --rounds (none for a single round)."""
    n = cfg.get("rounds", 1)
    if n <= 1:
        return []
    return [f"- {n} rounds: the engines of each (model, batch) ran {n} times in turn (round-robin, so a slow "
            "phase of the machine hits every engine alike). Each row is the engine's round with the median P50 "
            "(its P99, mean and RSS from that same run), with the range of the rounds' P50s in brackets; the "
            "summary also gives the range of the per-round ratios. Profiles come from round 1."]


def benchmarks_md(results: dict, repo: Path, svg_paths: dict[str, Path]) -> str:
    cfg = results["config"]
    records = results["records"]
    models = cfg["models"]
    lines = ["# Benchmarks", "",
             f"Generated by `{cfg['command']}` on {results['date']}; finished in {results['elapsed_s'] / 60:.1f} min. "
             "This file is overwritten by every run of the harness (see bench/README.md); raw numbers are in "
             f"`{_shown(Path(cfg['results_json']), repo)}`.", ""]
    if cfg["quick"]:
        lines += ["> **Quick smoke run** (batch 1, up to 3 warmup / 10 timed iterations): numbers are indicative "
                  "only. Run without `--quick` for the full comparison.", ""]
    lines += ["## Machine", ""] + machine.markdown(results["machine"])
    load = results.get("load_average")
    if load:
        lines += [f"- Load average (1 min) at start / end of the run: {load['start']:.2f} / {load['end']:.2f} "
                  f"on {results['machine'].get('logical_cpus') or '?'} logical CPUs (other work on the machine "
                  "inflates latencies)"]
    lines += [""]
    lines += ["## Method", "",
              f"- Models: full-size {', '.join('`' + cfg['model_dirs'][m] + '`' for m in models)} from "
              "`models/export.py --full` (random weights, seeded); images 3×224×224; transformers sequence "
              f"{cfg['seq']}, all-ones attention mask, token ids uniform below the vocabulary size. Batch sizes "
              f"{', '.join(map(str, cfg['batches']))}.",
              f"- Every engine gets the same input arrays and {cfg['threads']} intra-op thread(s), except tract, which "
              "runs single-threaded (tract-onnx has no multithreaded build enabled here). Engines run one after "
              "another for each (model, batch), each in a fresh process.",
              *iterations_method(cfg),
              *rounds_method(cfg),
              "- Latency per iteration is wall-clock (`time.perf_counter` in-process for Python engines, the "
              "engine's own timer for infc and tract). P50/P99 are nearest-rank percentiles; throughput = batch / "
              "mean latency.",
              "- Peak RSS is the engine process's own `VmHWM` as it reports it (`ru_maxrss` from `wait4` when it "
              "reports none), so it includes the interpreter and libraries for the Python engines (the PyTorch "
              "worker also imports onnx/onnxruntime through models/export.py).",
              "- infc: `infc compile MODEL -O3 --shape …` (+ `--int8`), then `infc run PLAN --bench --json`; "
              "onnxruntime: CPUExecutionProvider, `ORT_ENABLE_ALL`, `intra_op_num_threads` = threads, sequential; "
              "onnxruntime INT8: `quantize_dynamic(weight_type=QInt8)` of the same ONNX file (done once, cached); "
              "PyTorch: the same module rebuilt by models/export.py's builders, eval mode, `torch.inference_mode`, "
              "`torch.set_num_threads`.",
              "- Ratios are P50 latency ratios: below 1.00× means faster than the engine it is compared with.", ""]
    lines += ["## infc vs onnxruntime (P50 latency ratio)", ""] + summary_table(records, models) + [""]
    for model in models:
        svg = svg_paths.get(model)
        lines += [f"## {model} (`{cfg['model_dirs'][model]}`)", ""]
        if svg is not None:
            lines += [f"![{model} P50 latency by batch size]({_shown(svg, repo)})", ""]
        lines += model_table(records, model) + [""]
        lines += profile_table(records, model)
    return "\n".join(lines).rstrip() + "\n"
