"""Unit tests for the harness's pure parts (no engine runs): `python3 -m unittest discover -s bench -p 'test_*.py'`."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import unittest
from unittest import mock
import xml.dom.minidom
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import budget  # noqa: E402
import compare  # noqa: E402
import report  # noqa: E402
import worker  # noqa: E402


def record(engine: str, batch: int, p50: float | None, model: str = "m") -> dict:
    if p50 is None:
        return {"model": model, "batch": batch, "engine": engine, "status": "unavailable",
                "error": "infc compile: exit code 2: error: unrecognized subcommand 'compile' | pipe"}
    return {"model": model, "batch": batch, "engine": engine, "status": "ok", "p50_ms": p50, "p99_ms": p50 * 1.2,
            "mean_ms": p50 * 1.1, "throughput_per_s": batch * 1000 / (p50 * 1.1), "peak_rss_bytes": 300 << 20,
            "load_ms": 1500.0, "compile_ms": 4000.0}


class PercentileTest(unittest.TestCase):
    def test_nearest_rank_matches_the_rust_runner(self):
        ms = sorted([5.0, 1, 4, 2, 3, 10, 6, 7, 9, 8])
        self.assertEqual(worker.nearest_rank(ms, 50), 5.0)
        self.assertEqual(worker.nearest_rank(ms, 99), 10.0)
        self.assertEqual(worker.nearest_rank([3.0], 99), 3.0)
        s = worker.summarise([2.0, 4.0], batch=4)
        self.assertAlmostEqual(s["mean_ms"], 3.0)
        self.assertAlmostEqual(s["throughput_per_s"], 4000 / 3)


class JsonParsingTest(unittest.TestCase):
    def test_last_json_object_single_line_and_pretty(self):
        self.assertEqual(compare.last_json('log line\n{"p50_ms": 1.5}\n'), {"p50_ms": 1.5})
        pretty = 'compiling\n{\n  "p50_ms": 2,\n  "p99_ms": 3\n}\n'
        self.assertEqual(compare.last_json(pretty), {"p50_ms": 2, "p99_ms": 3})
        self.assertIsNone(compare.last_json("no json here\n{ broken"))

    def test_from_report_rejects_missing_fields(self):
        proc = compare.Proc(0, '{"p50_ms": 1}', "", 1024, 0.5, False)
        rec = compare.from_report({}, proc, "x")
        self.assertEqual(rec["status"], "failed")
        self.assertIn("p99_ms", rec["error"])

    def test_from_report_prefers_the_engine_reported_rss(self):
        out = '{"p50_ms": 1, "p99_ms": 2, "mean_ms": 1.5, "throughput_per_s": 600, "peak_rss_bytes": 7}'
        rec = compare.from_report({}, compare.Proc(0, out, "", 99, 0.5, False), "x")
        self.assertEqual((rec["status"], rec["peak_rss_bytes"], rec["wait4_maxrss_bytes"]), ("ok", 7, 99))

    def test_error_line_is_the_first_error(self):
        proc = compare.Proc(101, "", "Compiling x\nerror[E0425]: cannot find value `y`\nerror: could not compile", None,
                            1.0, False)
        self.assertEqual(proc.error(), "exit code 101: error[E0425]: cannot find value `y`")
        self.assertIn("timed out", compare.Proc(None, "", "", None, 12.0, True).error())


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.records = [record("infc-fp32", 1, 8.0), record("infc-int8", 1, None), record("ort-fp32", 1, 10.0),
                        record("ort-int8", 1, 5.0), record("tract", 1, 30.0), record("infc-fp32", 4, 30.0),
                        record("ort-fp32", 4, 40.0)]

    def test_table_has_ratios_and_escaped_errors(self):
        lines = report.model_table(self.records, "m")
        infc = next(ln for ln in lines if ln.startswith("| 1 | infc FP32 |"))
        self.assertTrue(infc.rstrip().endswith("| 0.80× |"), infc)
        broken = next(ln for ln in lines if ln.startswith("| 1 | infc INT8 |"))
        self.assertIn("unavailable: infc compile", broken)
        self.assertIn("\\|", broken)  # a '|' in an error message must not split the cell
        self.assertEqual(broken.count(" | "), lines[0].count(" | "))
        self.assertTrue(any(ln.startswith("| 4 | infc FP32 |") and "0.75×" in ln for ln in lines))

    def test_summary_ratios(self):
        rows = report.summary_table(self.records, ["m"])
        self.assertIn("| m | 1 | 0.80× | - | - |", rows)
        self.assertIn("| m | 4 | 0.75× | - | - |", rows)

    def test_rounds_pick_the_median_round_and_report_the_spread(self):
        def rounds(engine: str, p50s: list[float | None]) -> dict:
            recs = [record(engine, 1, p) for p in p50s]
            recs[0]["profile"] = {"overhead_pct": 0.5}
            return compare.median_round(recs)

        infc = rounds("infc-int8", [16.0, 15.0, None, 18.0, 15.5])
        ort = rounds("ort-int8", [20.0, 21.0, 25.0, 20.5, 30.0])
        self.assertEqual(infc["p50_ms"], 15.5)  # lower median of the four that ran
        self.assertEqual(infc["p99_ms"], 15.5 * 1.2)  # from that same round
        self.assertEqual(infc["round_p50s_ms"], [16.0, 15.0, 18.0, 15.5])
        self.assertEqual((infc["rounds"], infc["failed_rounds"]), (5, 1))
        self.assertEqual(infc["profile"], {"overhead_pct": 0.5})
        self.assertEqual(ort["p50_ms"], 21.0)
        line = next(ln for ln in report.model_table([infc, ort], "m") if "infc INT8" in ln)
        self.assertIn("15.5 ms (15.0 ms – 18.0 ms)", line)
        self.assertIn("× 5 rounds", line)
        # A failed round leaves the per-round lists unequal: only the ratio of the medians.
        self.assertIn("| m | 1 | - | 0.74× | - |", report.summary_table([infc, ort], ["m"]))
        ort_all = rounds("ort-int8", [20.0, 21.0, 25.0, 20.0])
        infc_all = rounds("infc-int8", [16.0, 15.0, 18.0, 15.0])
        row = report.summary_table([infc_all, ort_all], ["m"])[-1]
        self.assertIn("(rounds 0.71–0.80×)", row)
        self.assertEqual(compare.median_round([record("tract", 1, None)])["status"], "unavailable")
        self.assertEqual(report.rounds_method({"rounds": 1}), [])
        self.assertIn("5 rounds", report.rounds_method({"rounds": 5})[0])

    def test_svg_is_well_formed_with_one_polyline_per_multi_batch_engine(self):
        svg = report.svg_chart(self.records, "m", "title & <stuff>")
        xml.dom.minidom.parseString(svg)
        self.assertEqual(svg.count("<polyline"), 2)  # infc FP32 and ORT FP32 have two batch sizes
        self.assertIn("did not run", svg)  # infc INT8 has no successful point
        empty = report.svg_chart([record("infc-int8", 1, None)], "m", "t")
        self.assertIn("no successful runs", empty)
        xml.dom.minidom.parseString(empty)

    def test_nice_bounds(self):
        self.assertEqual((report._nice_below(136), report._nice_above(136)), (100, 200))
        self.assertEqual((report._nice_below(4.9), report._nice_above(4.9)), (2, 5))
        self.assertEqual(report._nice_above(1000), 1000)
        self.assertEqual(report._log_ticks(100, 1000), [100, 200, 500, 1000])


class FakeClock:
    """A clock that only moves when the fake engine runs: each run() takes the next scripted duration."""

    def __init__(self, durations: list[float]):
        self.now, self.durations, self.runs = 0.0, list(durations), 0

    def __call__(self) -> float:
        return self.now

    def run(self) -> None:
        self.now += self.durations[min(self.runs, len(self.durations) - 1)]
        self.runs += 1


class BudgetPlanTest(unittest.TestCase):
    def test_no_budget_keeps_the_requested_counts(self):
        self.assertEqual(budget.plan_runs(100.0, 20, 100, None), (20, 100))

    def test_everything_that_fits_runs_in_full(self):
        self.assertEqual(budget.plan_runs(0.1, 20, 100, 12.0), (20, 100))  # 120 × 0.1 s = 12 s

    def test_what_does_not_fit_is_shared_in_the_requested_proportion(self):
        # 0.5 s per iteration (onnxruntime INT8 ResNet50 bs1) in 30 s: 60 iterations = 10 warmup + 50 timed.
        self.assertEqual(budget.plan_runs(0.5, 20, 100, 30.0), (10, 50))

    def test_slow_engines_keep_one_warmup_and_the_minimum_timed(self):
        # 8 s per iteration in 20 s: only 2 fit, but P50 needs a few samples.
        self.assertEqual(budget.plan_runs(8.0, 20, 100, 20.0), (1, budget.MIN_TIMED))
        self.assertEqual(budget.plan_runs(8.0, 0, 100, 20.0), (0, budget.MIN_TIMED))
        self.assertEqual(budget.plan_runs(8.0, 20, 3, 20.0), (1, 3))  # never more than requested

    def test_bad_arguments_are_errors(self):
        for args in ((1.0, -1, 10, 5.0), (1.0, 2, 0, 5.0), (1.0, 2, 10, 0.0)):
            with self.assertRaises(ValueError):
                budget.plan_runs(*args)
        self.assertEqual(budget.plan_runs(0.0, 3, 10, 5.0), (3, 10))  # unmeasurably fast: all of it

    def test_timed_iters_left(self):
        self.assertEqual(budget.timed_iters_left(0.5, 100, 10.0), 20)
        self.assertEqual(budget.timed_iters_left(0.5, 100, -3.0), budget.MIN_TIMED)
        self.assertEqual(budget.timed_iters_left(0.5, 100, None), 100)
        self.assertEqual(budget.timed_iters_left(0.001, 100, 10.0), 100)


class BudgetLoopTest(unittest.TestCase):
    def test_without_budget_runs_exactly_the_requested_counts(self):
        clock = FakeClock([0.25])
        ms, warmup, first = budget.budget_loop(clock.run, 3, 7, None, clock)
        self.assertEqual((len(ms), warmup, first, clock.runs), (7, 3, None, 10))
        self.assertTrue(all(abs(m - 250.0) < 1e-9 for m in ms))

    def test_first_warmup_plans_and_last_warmup_replans_the_timed_part(self):
        # A cold first run of 2 s plans 10 s / 2 s = 5 iterations: 1 warmup (20:100 of 5, at least 1), then the
        # timed part is re-planned from that same run for the 8 s left: 4 → the minimum of 5.
        clock = FakeClock([2.0, 0.5])
        ms, warmup, first = budget.budget_loop(clock.run, 20, 100, 10.0, clock)
        self.assertEqual((warmup, len(ms), first), (1, budget.MIN_TIMED, 2.0))
        # 1 s cold, then 0.1 s warm in a 30 s budget: 30 fit at the cold estimate -> 5 warmups (1 + 4 at 0.1 s),
        # then the warm re-estimate fills the remaining 28.6 s with timed runs, capped at the requested 100.
        clock = FakeClock([1.0, 0.1])
        ms, warmup, _ = budget.budget_loop(clock.run, 20, 100, 30.0, clock)
        self.assertEqual((warmup, len(ms)), (5, 100))
        clock = FakeClock([1.0, 0.5])
        ms, warmup, _ = budget.budget_loop(clock.run, 20, 100, 30.0, clock)
        self.assertEqual((warmup, len(ms)), (5, 54))  # (30 s - 1 s - 4 × 0.5 s) / 0.5 s = 54 timed runs

    def test_warmup_zero_counts_the_first_run_as_timed(self):
        clock = FakeClock([1.0])
        ms, warmup, first = budget.budget_loop(clock.run, 0, 100, 8.0, clock)
        self.assertEqual((warmup, len(ms), clock.runs, first), (0, 8, 8, 1.0))


class EstimateTest(unittest.TestCase):
    history = [{"model": "m", "batch": 1, "engine": "ort-int8", "status": "ok", "mean_ms": 500.0, "warmup": 10,
                "iters": 30, "wall_s": 22.0, "quantize_ms": None},
               {"model": "m", "batch": 1, "engine": "infc-fp32", "status": "ok", "mean_ms": 100.0, "warmup": 10,
                "iters": 30, "wall_s": 5.0, "compile_ms": 1000.0}]

    def test_budget_caps_the_expected_time(self):
        cfg = [{"model": "m", "batch": 16, "engine": "ort-int8"}]
        full, informed = budget.estimate_seconds(cfg, self.history, None, 20, 100, 10)
        self.assertEqual(informed, 1)
        self.assertAlmostEqual(full, 2.0 + 120 * 8.0)  # start-up 22 - 40 × 0.5; 8 s per iteration at bs16
        capped, _ = budget.estimate_seconds(cfg, self.history, 20.0, 20, 100, 10)
        self.assertAlmostEqual(capped, 2.0 + (1 + budget.MIN_TIMED) * 8.0)

    def test_infc_adds_compile_probe_and_profile(self):
        cfg = [{"model": "m", "batch": 1, "engine": "infc-fp32"}]
        seconds, _ = budget.estimate_seconds(cfg, self.history, 10.0, 20, 100, 10)
        # compile 1 s + start-up 1 s (5 s wall - 40 × 0.1 s) + the budgeted runs, the probe (start-up + one
        # run) and the profile run (start-up + its budgeted runs, planned at twice the cost: plain + profiled)
        w, n = budget.plan_runs(0.1, 20, 100, 10.0)
        pw, pn = budget.plan_runs(0.2, budget.PROFILE_WARMUP, 10, 10.0, budget.PROFILE_MIN_TIMED)
        self.assertAlmostEqual(seconds, 1.0 + 1.0 + (w + n) * 0.1 + 1.1 + 1.0 + (pw + 2 * pn) * 0.1)

    def test_unknown_configurations_count_the_whole_budget(self):
        cfg = [{"model": "other", "batch": 1, "engine": "torch"}]
        seconds, informed = budget.estimate_seconds(cfg, self.history, 20.0, 20, 100, 10)
        self.assertEqual((seconds, informed), (budget.DEFAULT_OVERHEAD_S + 20.0, 0))


class BudgetedCountsTest(unittest.TestCase):
    ctx = {"warmup": 20, "iters": 100, "timeout": 60}

    def probe(self, stdout: str, rc: int = 0) -> list[str]:
        return [sys.executable, "-c", f"import sys; print({stdout!r}); sys.exit({rc})"]

    def test_no_budget_runs_no_probe(self):
        rec = {}
        self.assertEqual(compare.budgeted_counts(dict(self.ctx, budget=None), rec, ["/nonexistent"], None, "x"),
                         (20, 100))
        self.assertEqual(rec, {})

    def test_probe_iteration_sets_the_counts(self):
        out = '{"p50_ms": 500, "p99_ms": 500, "mean_ms": 500, "throughput_per_s": 2}'
        rec = {}
        counts = compare.budgeted_counts(dict(self.ctx, budget=30.0), rec, self.probe(out), None, "x")
        self.assertEqual((counts, rec["first_iter_ms"]), ((10, 50), 500))

    def test_a_failing_probe_is_the_error(self):
        counts = compare.budgeted_counts(dict(self.ctx, budget=30.0), {}, self.probe("error: bad plan", 3), None, "x")
        self.assertIsInstance(counts, str)
        self.assertIn("bad plan", counts)


class BudgetReportTest(unittest.TestCase):
    def test_runs_column_and_method(self):
        rec = dict(record("ort-int8", 16, 8000.0), warmup=1, iters=5)
        lines = report.model_table([rec], "m")
        self.assertIn("| runs (warmup + timed) |", lines[0])
        self.assertIn("| 1 + 5 |", lines[2])
        self.assertEqual(lines[2].count(" | "), lines[0].count(" | "))
        prof = {"warmup": 1, "iters": 3, "overhead_pct": 0.5, "top_kinds": [
            {"kind": "MatMul", "share_pct": 80.0, "gflops_per_s": 50.0}]}
        table = report.profile_table([dict(rec, engine="infc-fp32", profile=prof)], "m")
        row = next(ln for ln in table if ln.startswith("| 16 |"))
        self.assertTrue(row.endswith("| MatMul 80.0%, 50.0 | 0.50% | 1 + 3 |"), row)
        cfg = {"warmup": 20, "iters": 100, "budget_s": 20.0, "min_timed": 5}
        self.assertIn("Time budget 20 s", report.iterations_method(cfg)[0])
        self.assertIn("20 untimed warmup iterations, then 100 timed",
                      report.iterations_method(dict(cfg, budget_s=None))[0])

    def test_budget_must_be_positive(self):
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            compare.parse_args(["--budget", "0"])
        self.assertEqual(compare.parse_args(["--budget", "12.5"]).budget, 12.5)
        self.assertIsNone(compare.parse_args([]).budget)


class VenvInstallTest(unittest.TestCase):
    """ensure_venv's pip steps, with pip, the index probe and the re-exec replaced by recorders."""

    def install(self, reachable: bool, cpu_install_fails: bool = False, index: str = compare.CPU_TORCH_INDEX):
        calls = []

        def fake_pip(py, args):
            calls.append(args)
            if cpu_install_fails and "--index-url" in args:
                raise subprocess.CalledProcessError(1, "pip")

        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp)
            (venv / "bin").mkdir()
            (venv / "bin" / "python").touch()  # an existing venv: no `python -m venv`
            with mock.patch.object(compare, "VENV", venv), mock.patch.object(compare, "pip_install", fake_pip), \
                    mock.patch.object(compare, "torch_index_reachable", lambda py, url: reachable), \
                    mock.patch.object(compare.os, "execve") as execve, \
                    contextlib.redirect_stdout(io.StringIO()) as out:
                compare.ensure_venv(["--quick"], index)
                stamps = [f.read_text() for f in venv.glob(".installed-*")]
        self.assertEqual(execve.call_args.args[1][-1], "--quick")
        self.assertEqual(len(stamps), 1)
        return calls, stamps[0], out.getvalue()

    def test_reachable_cpu_index_installs_torch_from_it_first(self):
        calls, stamp, _ = self.install(reachable=True)
        self.assertEqual(calls[0], ["--upgrade", "pip"])
        self.assertEqual(calls[1], ["--index-url", compare.CPU_TORCH_INDEX, "torch>=2.5", "torchvision>=0.20"])
        self.assertEqual(calls[2][0], "-r")
        self.assertIn(compare.CPU_TORCH_INDEX, stamp)

    def test_unreachable_index_falls_back_to_pypi_without_trying_it(self):
        calls, stamp, log = self.install(reachable=False)
        self.assertEqual([c[0] for c in calls], ["--upgrade", "-r"])
        self.assertIn("PyPI", stamp)
        self.assertIn("not reachable", log)

    def test_failed_cpu_install_falls_back_and_pypi_option_skips_the_index(self):
        calls, stamp, log = self.install(reachable=True, cpu_install_fails=True)
        self.assertEqual([c[0] for c in calls], ["--upgrade", "--index-url", "-r"])
        self.assertIn("pip exit code 1", log)
        calls, _, _ = self.install(reachable=True, index="pypi")
        self.assertEqual([c[0] for c in calls], ["--upgrade", "-r"])

    def test_requirement_specs(self):
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "r.txt"
            req.write_text("# c\n--extra-index-url x\nnumpy>=2\ntorch>=2.5  # cpu\nTorchVision==0.2\ntorchaudio\n")
            self.assertEqual(compare.requirement_specs(req, {"torch", "torchvision"}),
                             ["torch>=2.5", "TorchVision==0.2"])


if __name__ == "__main__":
    unittest.main()
