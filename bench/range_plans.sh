#!/usr/bin/env bash
# Range plans and the static plans they are compared with (bench/range_vs_static.py,
# bench/seq_sweep.py): full-size DistilBERT and GPT-2 (batch 1..8 x sequence 1..512) and
# ResNet50 (batch 1..8), FP32 and INT8, each with a per-shape arena (.range) and with the max
# shape's arena shared by every shape (.shared, --shared-arena), into DIR. Usage: bash bench/range_plans.sh DIR [INFC]
set -euo pipefail
DIR=$1
B=${2:-target/release/infc}
M=models/full
mkdir -p "$DIR"
for m in distilbert_ts17 gpt2_ts17; do
  for q in "" "--int8"; do
    tag=$m${q:+_int8}
    /usr/bin/time -f "$tag range %es %MKB" $B compile $M/$m/model.onnx -O3 $q --shape batch=1..8 --shape sequence=1..512 -o "$DIR/$tag.range.plan"
    /usr/bin/time -f "$tag shared %es %MKB" $B compile $M/$m/model.onnx -O3 $q --shape batch=1..8 --shape sequence=1..512 --shared-arena -o "$DIR/$tag.shared.plan"
    for s in ${SHAPES:-1x128 1x16 8x128 1x512 8x512}; do
      /usr/bin/time -f "$tag static $s %es %MKB" $B compile $M/$m/model.onnx -O3 $q --shape batch=${s%x*} --shape sequence=${s#*x} -o "$DIR/$tag.$s.plan"
    done
  done
done
for q in "" "--int8"; do
  tag=resnet50${q:+_int8}
  /usr/bin/time -f "$tag range %es %MKB" $B compile $M/resnet50_ts17/model.onnx -O3 $q --shape batch=1..8 -o "$DIR/$tag.range.plan"
  /usr/bin/time -f "$tag shared %es %MKB" $B compile $M/resnet50_ts17/model.onnx -O3 $q --shape batch=1..8 --shared-arena -o "$DIR/$tag.shared.plan"
  for b in 1 8; do
    /usr/bin/time -f "$tag static $b %es %MKB" $B compile $M/resnet50_ts17/model.onnx -O3 $q --shape batch=$b -o "$DIR/$tag.$b.plan"
  done
done
