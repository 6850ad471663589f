"""The Python package against the committed fixtures: compile → Session → run matches
onnxruntime's committed outputs; inputs and outputs described like onnxruntime; runs from several
threads agree bit for bit; bad inputs, plans and options raise infc.InfcError naming the fault."""

import os
import pathlib
import threading

import numpy as np
import pytest

import infc

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "models" / "fixtures"


def fixture_inputs(name):
    d = FIXTURES / name
    return {
        p.name[len("input_") : -len(".npy")]: np.load(p) for p in sorted(d.glob("input_*.npy"))
    }


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    plan = tmp_path_factory.mktemp("plans") / "gpt2.plan"
    out = infc.compile(
        str(FIXTURES / "gpt2_ts17" / "model.onnx"),
        str(plan),
        shapes={"batch": 2, "sequence": 8},
        opt_level=3,
    )
    assert pathlib.Path(out) == plan
    return infc.Session(str(plan))


def test_matches_onnxruntime(gpt2):
    feed = fixture_inputs("gpt2_ts17")
    (logits,) = gpt2.run(None, feed)
    want = np.load(FIXTURES / "gpt2_ts17" / "output_logits.npy")
    assert logits.dtype == np.float32 and logits.shape == want.shape
    np.testing.assert_allclose(logits, want, rtol=1e-3, atol=1e-3)


def test_describes_inputs_and_outputs_like_onnxruntime(gpt2):
    ins = {i.name: i for i in gpt2.get_inputs()}
    assert set(ins) == {"input_ids", "attention_mask"}
    assert ins["input_ids"].type == "tensor(int64)"
    assert ins["input_ids"].shape == [2, 8]
    (out,) = gpt2.get_outputs()
    assert out.name == "logits" and out.type == "tensor(float)"
    assert "input_ids" in repr(ins["input_ids"])


def test_output_names_select_outputs(gpt2):
    feed = fixture_inputs("gpt2_ts17")
    (a,) = gpt2.run(["logits"], feed)
    (b,) = gpt2.run(None, feed)
    assert np.array_equal(a, b)
    with pytest.raises(infc.InfcError, match="output 'nope'"):
        gpt2.run(["nope"], feed)


def test_non_contiguous_inputs_are_read_correctly(gpt2):
    feed = fixture_inputs("gpt2_ts17")
    (want,) = gpt2.run(None, feed)
    strided = {k: np.asfortranarray(v) for k, v in feed.items()}
    assert not strided["input_ids"].flags.c_contiguous
    (got,) = gpt2.run(None, strided)
    assert np.array_equal(got, want)


def test_threads_share_one_session_bit_identically(gpt2):
    feed = fixture_inputs("gpt2_ts17")
    (want,) = gpt2.run(None, feed)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(gpt2.run(None, feed)[0])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 20
    assert all(np.array_equal(r, want) for r in results)


def test_thread_options_give_identical_outputs(gpt2, tmp_path):
    feed = fixture_inputs("gpt2_ts17")
    (want,) = gpt2.run(None, feed)
    plan = tmp_path / "gpt2.plan"
    infc.compile(
        str(FIXTURES / "gpt2_ts17" / "model.onnx"),
        str(plan),
        shapes={"batch": 2, "sequence": 8},
    )
    for kwargs in ({"threads": 1}, {"threads": 2}, {"threads": 2, "spin": False}):
        (got,) = infc.Session(str(plan), **kwargs).run(None, feed)
        assert np.array_equal(got, want), kwargs
    with pytest.raises(infc.InfcError, match="at least one thread"):
        infc.Session(str(plan), threads=0)


def test_bad_inputs_name_the_fault(gpt2):
    feed = fixture_inputs("gpt2_ts17")
    with pytest.raises(infc.InfcError, match="input 'input_ids'.*tensor\\(int64\\).*int32"):
        gpt2.run(None, {**feed, "input_ids": feed["input_ids"].astype(np.int32)})
    with pytest.raises(infc.InfcError, match="input 'attention_mask': not given"):
        gpt2.run(None, {"input_ids": feed["input_ids"]})
    with pytest.raises(infc.InfcError, match="input 'extra': no such input"):
        gpt2.run(None, {**feed, "extra": feed["input_ids"]})
    with pytest.raises(infc.InfcError, match="input_ids"):
        gpt2.run(None, {**feed, "input_ids": feed["input_ids"][:1]})


def test_bad_plans_and_options_raise(tmp_path):
    bad = tmp_path / "bad.plan"
    bad.write_bytes(b"INFCPLAN" + os.urandom(64))
    with pytest.raises(infc.InfcError):
        infc.Session(str(bad))
    with pytest.raises(infc.InfcError, match="missing.plan"):
        infc.Session(str(tmp_path / "missing.plan"))
    with pytest.raises(infc.InfcError, match="load 'mmap'"):
        infc.Session(str(bad), load="mmap")
    model = str(FIXTURES / "gpt2_ts17" / "model.onnx")
    with pytest.raises(infc.InfcError, match="range 0..4 is empty or starts at 0"):
        infc.compile(model, str(tmp_path / "x.plan"), shapes={"sequence": "0..4"})
    # No shapes at all: the symbolic dims compile as the default range 1..8.
    infc.compile(model, str(tmp_path / "x.plan"))
    assert infc.Session(str(tmp_path / "x.plan")).get_inputs()[0].shape == ["batch", "sequence"]
    with pytest.raises(infc.InfcError, match="target 'arm'"):
        infc.compile(model, str(tmp_path / "x.plan"), target="arm")


def test_int8_plan_runs(tmp_path):
    plan = tmp_path / "int8.plan"
    infc.compile(
        str(FIXTURES / "distilbert_ts17" / "model.onnx"),
        str(plan),
        shapes=["batch=2", "sequence=8"],
        int8=True,
    )
    s = infc.Session(str(plan), load="copy")
    feed = fixture_inputs("distilbert_ts17")
    (got,) = s.run(None, feed)
    want = np.load(next((FIXTURES / "distilbert_ts17").glob("output_*.npy")))
    cos = float((got * want).sum() / (np.linalg.norm(got) * np.linalg.norm(want)))
    assert cos > 0.99, cos


EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python"


def run_example(name, *args):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, check=True
    )
    return out.stdout


def test_example_gpt2_score():
    out = run_example("gpt2_score.py", "--ids", "1,2,3")
    assert "next token after [1, 2, 3]" in out
    assert out.count("log p = ") == 5


def test_example_threaded_requests():
    out = run_example("threaded_requests.py", "--requests", "3")
    for t in ("1 thread(s)", "2 thread(s)", "4 thread(s)"):
        line = next(l for l in out.splitlines() if l.startswith(t))
        assert line.endswith("outputs identical: True"), line


def rust_example(name, *args):
    """Run the Rust example `name` that `cargo test` / `cargo build -p infc-examples` built."""
    import subprocess

    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or EXAMPLES.parents[1] / "target")
    exe = target / "debug" / name
    assert exe.is_file(), f"{exe} is missing: run `cargo build -p infc-examples` first"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=True).stdout


def classes(out):
    """[(class, p)] of the `class <idx>: p = <prob>` lines."""
    rows = [l.split(": p = ") for l in out.splitlines() if l.startswith("class ")]
    return [(int(c[len("class ") :]), float(p)) for c, p in rows]


def test_example_classify_image_agrees_with_rust_and_onnxruntime():
    data = EXAMPLES.parent / "data"
    want = np.load(data / "classify_expected_probs.npy")
    for image in ("pattern.png", "pattern.jpg"):
        py = classes(run_example("classify_image.py", str(data / image)))
        rs = classes(rust_example("classify_image", str(data / image)))
        assert len(py) == 5 and [c for c, _ in py] == [c for c, _ in rs], (image, py, rs)
        for (c, p), (_, q) in zip(py, rs):
            assert abs(p - q) < 3e-3, (image, c, p, q)
    # Pillow's resize is torchvision's: the PNG's probabilities are onnxruntime's on its tensor.
    py = classes(run_example("classify_image.py", str(data / "pattern.png")))
    assert [c for c, _ in py] == list(np.argsort(-want, kind="stable")[:5])
    for c, p in py:
        assert abs(p - want[c]) < 1e-5, (c, p, want[c])


def similarities(out):
    rows = [l.split(": ")[1] for l in out.splitlines() if l.startswith("sim ")]
    return np.array([[float(v) for v in row.split()] for row in rows])


def test_example_sentence_embeddings_agrees_with_rust_and_pytorch(tmp_path):
    py = run_example("sentence_embeddings.py", "--save-embeddings", str(tmp_path / "py.npy"))
    rs = rust_example("sentence_embeddings", "--save-embeddings", str(tmp_path / "rs.npy"))
    assert py.splitlines()[:7] == rs.splitlines()[:7]  # sentences and sizes
    sp, sr = similarities(py), similarities(rs)
    assert sp.shape == (6, 6)
    np.testing.assert_allclose(sp, sr, rtol=0, atol=1e-5)
    want = np.load(EXAMPLES.parent / "data" / "minilm_tiny" / "expected_embeddings.npy")
    for f in ("py.npy", "rs.npy"):
        np.testing.assert_allclose(np.load(tmp_path / f), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(sp, want @ want.T, rtol=0, atol=1e-5)


def test_a_range_plan_runs_at_every_shape_in_range(tmp_path):
    plan = tmp_path / "gpt2_range.plan"
    infc.compile(
        str(FIXTURES / "gpt2_ts17" / "model.onnx"),
        str(plan),
        shapes={"batch": "1..3", "sequence": "1..16"},
    )
    s = infc.Session(str(plan))
    assert [i.shape for i in s.get_inputs()] == [["batch", "sequence"]] * 2
    assert s.get_outputs()[0].shape[:2] == ["batch", "sequence"]
    # The fixture's own inputs (2 x 8) give onnxruntime's committed outputs.
    (logits,) = s.run(None, fixture_inputs("gpt2_ts17"))
    want = np.load(FIXTURES / "gpt2_ts17" / "output_logits.npy")
    np.testing.assert_allclose(logits, want, rtol=1e-3, atol=1e-4)
    # Another shape: the first row and 5 tokens of the same inputs agree with the full run on
    # the positions they share (GPT-2 is causal).
    feed = {k: v[:1, :5] for k, v in fixture_inputs("gpt2_ts17").items()}
    (short,) = s.run(None, feed)
    assert short.shape == (1, 5, want.shape[-1])
    np.testing.assert_allclose(short, logits[:1, :5], rtol=1e-3, atol=1e-4)
    with pytest.raises(infc.InfcError, match="outside the plan's range 1..=16"):
        s.run(None, {k: np.zeros((1, 17), np.int64) for k in feed})
