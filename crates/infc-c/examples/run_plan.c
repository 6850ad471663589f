/* A C program using infc's C ABI: load a plan, print its inputs and outputs, run it on
 * constant inputs (floats 0.5, integers 1: a valid token id and an all-ones mask), print each
 * output's sum; then show how an error reads. Build (from the repository root, after
 * `cargo build -p infc-c`):
 *   cc crates/infc-c/examples/run_plan.c -Icrates/infc-c/include target/debug/libinfc_c.a \
 *      -lpthread -ldl -lm -o run_plan && ./run_plan model.plan
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infc.h"

static const char *dtype_name(InfcDtype d) {
  switch (d) {
    case INFC_DTYPE_F32: return "f32";
    case INFC_DTYPE_F16: return "f16";
    case INFC_DTYPE_I64: return "i64";
    case INFC_DTYPE_I32: return "i32";
    case INFC_DTYPE_I8: return "i8";
    case INFC_DTYPE_U8: return "u8";
    case INFC_DTYPE_BOOL: return "bool";
  }
  return "?";
}

static void fill(void *data, InfcDtype d, size_t bytes) {
  size_t i;
  switch (d) {
    case INFC_DTYPE_F32:
      for (i = 0; i < bytes / 4; i++) ((float *)data)[i] = 0.5f;
      break;
    case INFC_DTYPE_I64:
      for (i = 0; i < bytes / 8; i++) ((int64_t *)data)[i] = 1;
      break;
    case INFC_DTYPE_I32:
      for (i = 0; i < bytes / 4; i++) ((int32_t *)data)[i] = 1;
      break;
    default:
      memset(data, 1, bytes);
  }
}

int main(int argc, char **argv) {
  InfcSession *s = NULL;
  size_t i, k, n_in, n_out;
  if (argc != 2) {
    fprintf(stderr, "usage: %s PLAN\n", argv[0]);
    return 2;
  }
  printf("infc %s\n", infc_version());
  if (infc_session_load_threads(argv[1], 1, &s) != INFC_STATUS_OK) {
    fprintf(stderr, "error: %s\n", infc_last_error());
    return 1;
  }
  n_in = infc_session_input_count(s);
  n_out = infc_session_output_count(s);
  InfcTensor *inputs = calloc(n_in, sizeof(InfcTensor));
  InfcBuffer *outputs = calloc(n_out, sizeof(InfcBuffer));
  InfcTensorInfo *out_info = calloc(n_out, sizeof(InfcTensorInfo));
  for (i = 0; i < n_in; i++) {
    InfcTensorInfo info;
    if (infc_session_input_info(s, i, &info) != INFC_STATUS_OK) return 1;
    printf("input %s %s[", info.name, dtype_name(info.dtype));
    for (k = 0; k < info.rank; k++) printf(k ? ",%lld" : "%lld", (long long)info.dims[k]);
    printf("]\n");
    void *data = malloc(info.bytes ? info.bytes : 1);
    fill(data, info.dtype, info.bytes);
    inputs[i] = (InfcTensor){info.name, info.dtype, info.rank, info.dims, data, info.bytes};
  }
  for (i = 0; i < n_out; i++) {
    if (infc_session_output_info(s, i, &out_info[i]) != INFC_STATUS_OK) return 1;
    outputs[i].data = malloc(out_info[i].bytes ? out_info[i].bytes : 1);
    outputs[i].bytes = out_info[i].bytes;
  }
  if (infc_session_run(s, inputs, n_in, outputs, n_out) != INFC_STATUS_OK) {
    fprintf(stderr, "error: %s\n", infc_last_error());
    return 1;
  }
  for (i = 0; i < n_out; i++) {
    double sum = 0;
    if (out_info[i].dtype == INFC_DTYPE_F32)
      for (k = 0; k < out_info[i].bytes / 4; k++) sum += ((float *)outputs[i].data)[k];
    printf("output %s %s sum=%.6e\n", out_info[i].name, dtype_name(out_info[i].dtype), sum);
  }
  /* An output buffer one byte short: an error naming the output, not a crash. */
  if (n_out > 0 && outputs[0].bytes > 0) {
    outputs[0].bytes -= 1;
    InfcStatus st = infc_session_run(s, inputs, n_in, outputs, n_out);
    printf("short buffer: status %d: %s\n", (int)st, infc_last_error());
    outputs[0].bytes += 1;
  }
  /* A null session and a missing file. The message is read after the call that set it: it is
   * valid until the next failing call on this thread. */
  InfcStatus st = infc_session_run(NULL, inputs, n_in, outputs, n_out);
  printf("null session: status %d: %s\n", (int)st, infc_last_error());
  InfcSession *missing = NULL;
  st = infc_session_load("/nonexistent.plan", &missing);
  printf("missing plan: status %d: %s\n", (int)st, infc_last_error());
  for (i = 0; i < n_in; i++) free((void *)inputs[i].data);
  for (i = 0; i < n_out; i++) free(outputs[i].data);
  free(inputs);
  free(outputs);
  free(out_info);
  infc_session_free(s);
  return 0;
}
