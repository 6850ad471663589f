"""A request loop sharing one infc.Session between Python threads (the GIL is released during a
run): requests per second for 1, 2 and 4 threads, every output checked against the first.

    python examples/python/threaded_requests.py [MODEL.onnx] [--requests 50]
"""

import argparse
import pathlib
import tempfile
import threading
import time

import numpy as np

import infc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument(
        "model", nargs="?", default=str(ROOT / "models/fixtures/distilbert_ts17/model.onnx")
    )
    p.add_argument("--requests", type=int, default=20)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        plan = infc.compile(a.model, f"{d}/m.plan", shapes={"batch": 1, "sequence": 16})
        s = infc.Session(plan, load="copy")
    rng = np.random.default_rng(7)
    feed = {}
    for i in s.get_inputs():
        if "mask" in i.name:
            feed[i.name] = np.ones(i.shape, dtype=np.int64)
        else:
            feed[i.name] = rng.integers(0, 100, size=i.shape, dtype=np.int64)
    want = s.run(None, feed)
    for threads in (1, 2, 4):
        same = []

        def work():
            for _ in range(a.requests):
                got = s.run(None, feed)
                same.append(all(np.array_equal(g, w) for g, w in zip(got, want)))

        ts = [threading.Thread(target=work) for _ in range(threads)]
        start = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        secs = time.perf_counter() - start
        total = threads * a.requests
        print(
            f"{threads} thread(s): {total} requests in {secs:.3f} s, {total / secs:.1f} requests/s, "
            f"outputs identical: {all(same) and len(same) == total}"
        )


if __name__ == "__main__":
    main()
