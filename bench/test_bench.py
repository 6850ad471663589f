"""Unit tests for the harness's pure parts (no engine runs): `python3 -m unittest discover -s bench -p 'test_*.py'`."""

from __future__ import annotations

import sys
import unittest
import xml.dom.minidom
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


if __name__ == "__main__":
    unittest.main()
