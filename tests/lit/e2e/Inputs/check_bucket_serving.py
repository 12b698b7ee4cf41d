"""Checks that `conveyor simulate --json` served one request from the right length buckets.

usage: check_bucket_serving.py REPORT.json PREFILL_BUCKET SHORT_KV LONG_KV
One request whose prompt fits PREFILL_BUCKET and whose decode steps first fit the SHORT_KV
DECODE bucket, then need LONG_KV. Alone in the pipeline, each iteration takes its bucket's
latency L (the latest end cycle of the bucket's stage programs), so:
TTFT = L(prefill PREFILL_BUCKET), smallest gap = L(decode SHORT_KV), largest = L(decode LONG_KV).
Program names: prefill.p<N>.stage<k>, decode.kv<N>.stage<k>, and decode.stage<k> for the
longest DECODE bucket (LONG_KV)."""
import json
import re
import sys

report = json.load(open(sys.argv[1]))
prefill, short_kv, long_kv = (int(a) for a in sys.argv[2:5])
latency = {}  # bucket -> latest end cycle over its programs
for run in report["programs"]:
    name = run["name"]
    m = re.match(r"prefill\.p(\d+)\.stage\d+$", name)
    if m:
        key = ("prefill", int(m.group(1)))
    elif (m := re.match(r"decode\.kv(\d+)\.stage\d+$", name)):
        key = ("decode", int(m.group(1)))
    elif re.match(r"decode\.stage\d+$", name):
        key = ("decode", long_kv)
    else:
        sys.exit(f"unexpected program name {name}")
    latency[key] = max(latency.get(key, 0), run["cycles"])
clock = report["clock_hz"]
serving = report["serving"]
expect = {
    ("ttft_s", "p50"): latency[("prefill", prefill)] / clock,
    ("itl_s", "min"): latency[("decode", short_kv)] / clock,
    ("itl_s", "max"): latency[("decode", long_kv)] / clock,
}
print("latencies", sorted(latency.items()))
for (metric, key), value in expect.items():
    got = serving[metric][key]
    if abs(got - value) > 1e-9 * value + 1e-12:
        sys.exit(f"{metric} {key} = {got:.9g} s, expected {value:.9g} s from the bucket's "
                 "end cycles")
if latency[("decode", short_kv)] == latency[("decode", long_kv)]:
    sys.exit("the two DECODE buckets end on the same cycle: the check cannot tell them apart")
print("ok")
