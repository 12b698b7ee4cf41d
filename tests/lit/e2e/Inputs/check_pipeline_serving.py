"""Checks a `conveyor simulate --json` serving run of a DECODE pipeline against the
simulator's own per-chip end cycles in the same JSON (docs/runtime.md, LpuPipelineBackend).

usage: check_pipeline_serving.py REPORT.json SEQUENCES
Decode-only traffic (--prompt 1) with SEQUENCES in flight: every inter-token latency is
max(L, S T) / clock, L = the last stage's end cycle, T = the largest stage occupancy."""
import json
import sys

report = json.load(open(sys.argv[1]))
sequences = int(sys.argv[2])
stages = {}  # program name -> (end cycle, busiest unit), in program order
for run in report["programs"]:
    end, busy = stages.get(run["name"], (0, 0))
    units = [u["busy_cycles"] for u in run["units"].values()]
    stages[run["name"]] = (max(end, run["cycles"]), max([busy] + units))
previous, latency, stage = 0, 0, 0
for end, busy in stages.values():
    stage = max(stage, end - previous, busy)
    latency = max(latency, end)
    previous = end
expected = max(latency, sequences * stage) / report["clock_hz"]
itl = report["serving"]["itl_s"]
print(f"stages {len(stages)} latency {latency} stage {stage} expected ITL {expected:.9g} s")
for key in ("p50",) if sequences > 1 else ("p50", "min", "max"):
    if abs(itl[key] - expected) > 1e-9 * max(1.0, expected) + 1e-12:
        sys.exit(f"ITL {key} {itl[key]:.9g} s != max(L, S T) / clock = {expected:.9g} s")
if report["serving"]["sequence_limit"] != min(sequences, len(stages)):
    sys.exit(f"sequence limit {report['serving']['sequence_limit']}, expected "
             f"{min(sequences, len(stages))}")
print("ok")
