//! End-to-end criterion benches over the committed fixtures: plan load (decode + validate +
//! `Session` setup from bytes) and one `Session::run` per fixture at -O0 and -O3. The plans are
//! compiled once, outside the timed loops.

use criterion::{criterion_group, criterion_main, Criterion};
use infc::passes::OptLevel;
use infc::{Session, TensorView};
use infc_conformance::all_fixtures;
use infc_conformance::plan::{compile_fixture, runtime_dtype};

fn fixtures(c: &mut Criterion) {
    for f in all_fixtures() {
        for (tag, level) in [("O0", OptLevel::O0), ("O3", OptLevel::O3)] {
            let plan = match compile_fixture(&f, level) {
                Ok(p) => p,
                Err(e) => panic!("{} {tag}: {e}", f.name),
            };
            let bytes = plan.encode();
            c.bench_function(&format!("load/{}/{tag}", f.name), |b| {
                b.iter(|| Session::from_bytes(&bytes).expect("plan loads"))
            });
            let session = Session::from_bytes(&bytes).expect("plan loads");
            let views: Vec<_> = f
                .inputs
                .iter()
                .map(|(n, t)| {
                    let data = t.bytes().expect("fixture input has bytes");
                    (
                        n.as_str().into(),
                        TensorView::new(runtime_dtype(t.dtype), &t.shape, data),
                    )
                })
                .collect();
            let mut storage: Vec<Vec<u8>> = session
                .outputs()
                .iter()
                .map(|o| vec![0u8; o.byte_len().unwrap_or(0) as usize])
                .collect();
            c.bench_function(&format!("run/{}/{tag}", f.name), |b| {
                b.iter(|| {
                    let mut slots: Vec<&mut [u8]> =
                        storage.iter_mut().map(|o| o.as_mut_slice()).collect();
                    session.run_into(&views, &mut slots).expect("run");
                })
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = fixtures
}
criterion_main!(benches);
