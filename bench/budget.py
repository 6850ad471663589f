"""Time budget per engine and configuration (`compare.py --budget SECONDS`): how many warmup and timed iterations
fit, and the expected duration of a whole run. Stdlib only; imported by compare.py and worker.py.

Without a budget every engine runs exactly --warmup untimed and --iters timed iterations. With one, an engine runs
min(iters, what fits, but at least MIN_TIMED) timed iterations after min(warmup, what fits, but at least one when
any were asked for) warmups. "What fits" is estimated from one iteration: the first warmup iteration of the Python
engines (timed in-process by worker.py, which re-plans the timed part from the last warmup iteration), or a
one-iteration probe process for infc and tract (compare.py: their binaries take fixed counts).
"""

from __future__ import annotations

import math

MIN_TIMED = 5  # timed iterations an engine runs however slow it is: P50 needs a few samples
DEFAULT_OVERHEAD_S = 10.0  # per engine and configuration when no earlier run says otherwise (load, compile, start)
PROBED_ENGINES = {"infc-fp32", "infc-int8", "tract"}  # timed by their own binaries: compare.py probes them
PROFILE_WARMUP = 2  # warmup runs before `infc run --profile`
PROFILE_MIN_TIMED = 3  # profiled runs however slow: per-step means, not percentiles
PROFILE_PLAIN_MAX = 20  # `infc run --profile` also times min(iters, 20) unprofiled runs


def plan_runs(per_iter_s: float, warmup: int, iters: int, budget_s: float | None,
              min_timed: int = MIN_TIMED) -> tuple[int, int]:
    """(warmup, timed) iteration counts that fit in budget_s seconds at per_iter_s seconds per iteration.

    Without a budget (None) the requested counts, unchanged. With one, the requested counts when they fit;
    otherwise the iterations that fit are shared in the requested warmup : timed proportion, with at least one
    warmup (when warmup > 0) and at least min(min_timed, iters) timed iterations, even when that overruns the
    budget. Never more than requested."""
    if budget_s is None:
        return warmup, iters
    if warmup < 0 or iters < 1:
        raise ValueError(f"plan_runs: warmup {warmup} must be >= 0 and iters {iters} >= 1")
    if budget_s <= 0:
        raise ValueError(f"plan_runs: budget {budget_s} s must be positive")
    if not math.isfinite(per_iter_s) or per_iter_s <= 0:
        return warmup, iters  # nothing measurable (a no-op run): everything fits
    fit = math.floor(budget_s / per_iter_s)
    if warmup + iters <= fit:
        return warmup, iters
    planned_warmup = min(warmup, max(1 if warmup else 0, math.floor(fit * warmup / (warmup + iters))))
    timed = min(iters, max(min(min_timed, iters), fit - planned_warmup))
    return planned_warmup, timed


def timed_iters_left(per_iter_s: float, iters: int, remaining_s: float | None, min_timed: int = MIN_TIMED) -> int:
    """Timed iterations that fit in the remaining_s seconds left after the warmups (re-estimate from a warm
    iteration): min(iters, what fits), at least min(min_timed, iters); iters when there is no budget."""
    if remaining_s is None or not math.isfinite(per_iter_s) or per_iter_s <= 0:
        return iters
    return min(iters, max(min(min_timed, iters), math.floor(max(remaining_s, 0.0) / per_iter_s)))


def budget_loop(run, warmup: int, iters: int, budget_s: float | None, clock,
                min_timed: int = MIN_TIMED) -> tuple[list[float], int, float | None]:
    """Run `run()` for warmups and timed iterations within budget_s; returns (timed latencies in ms, warmups run,
    the first iteration's seconds used for the estimate or None without a budget). `clock` is a monotonic clock
    in seconds (time.perf_counter). The first iteration (a warmup when warmup > 0, else the first timed one)
    sets the plan; the timed count is re-planned from the last warmup iteration for what is left of the budget."""
    if budget_s is None:
        for _ in range(warmup):
            run()
        out = []
        for _ in range(iters):
            t0 = clock()
            run()
            out.append((clock() - t0) * 1e3)
        return out, warmup, None

    spent = 0.0
    t0 = clock()
    run()
    first_s = clock() - t0
    spent += first_s
    planned_warmup, planned_timed = plan_runs(first_s, warmup, iters, budget_s, min_timed)
    timed_ms: list[float] = []
    last_s = first_s
    if warmup == 0:
        timed_ms.append(first_s * 1e3)  # the first run was a timed one
    else:
        for _ in range(planned_warmup - 1):
            t0 = clock()
            run()
            last_s = clock() - t0
            spent += last_s
        planned_timed = timed_iters_left(last_s, iters, budget_s - spent, min_timed)
    while len(timed_ms) < planned_timed:
        t0 = clock()
        run()
        timed_ms.append((clock() - t0) * 1e3)
    return timed_ms, planned_warmup, first_s


def estimate_seconds(configs: list[dict], history: list[dict], budget_s: float | None, warmup: int, iters: int,
                     profile_iters: int) -> tuple[float, int]:
    """Expected seconds of a run of `configs` ({model, batch, engine} dicts), and how many of them an earlier run
    (`history`: results.json records) informs. Per configuration: the earlier record's overhead (compile, load,
    process start: its wall time minus its iterations) plus the iterations this run will do at its mean latency,
    scaled linearly in batch size from the nearest earlier batch of the same model and engine; with a budget,
    capped by what fits. infc configurations add their --profile run. Configurations nobody measured count as
    DEFAULT_OVERHEAD_S plus the whole budget (or, without a budget, only the overhead: unknown)."""
    total, informed = 0.0, 0
    for cfg in configs:
        prior = [r for r in history if r.get("model") == cfg["model"] and r.get("engine") == cfg["engine"]
                 and r.get("status") == "ok" and isinstance(r.get("mean_ms"), (int, float)) and r["mean_ms"] > 0]
        profiled = cfg["engine"].startswith("infc") and profile_iters > 0
        if not prior:
            runs = 1 + (1 if profiled else 0)
            total += DEFAULT_OVERHEAD_S + (budget_s or 0.0) * runs
            continue
        informed += 1
        near = min(prior, key=lambda r: (abs(math.log(r["batch"] / cfg["batch"])), -r["batch"]))
        per_iter_s = near["mean_ms"] / 1e3 * cfg["batch"] / near["batch"]
        ran = (near.get("warmup") or 0) + (near.get("iters") or 0)
        start = max((near.get("wall_s") or 0.0) - ran * near["mean_ms"] / 1e3, 0.0)  # process start and load
        w, n = plan_runs(per_iter_s, warmup, iters, budget_s)
        seconds = (near.get("compile_ms") or 0.0) / 1e3 + (near.get("quantize_ms") or 0.0) / 1e3
        seconds += start + (w + n) * per_iter_s
        if budget_s is not None and cfg["engine"] in PROBED_ENGINES:
            seconds += start + per_iter_s  # the probe process: its own load and one iteration
        if profiled:  # `infc run --profile` runs min(iters, 20) plain runs besides the profiled ones
            pw, pn = plan_runs(2 * per_iter_s, PROFILE_WARMUP, profile_iters, budget_s, PROFILE_MIN_TIMED)
            seconds += start + (pw + pn + min(pn, PROFILE_PLAIN_MAX)) * per_iter_s
        total += seconds
    return total, informed

