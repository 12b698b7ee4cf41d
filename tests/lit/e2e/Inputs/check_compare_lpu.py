"""Checks that an LPU row of `conveyor compare` comes from the compiled, simulated schedule.

usage: check_compare_lpu.py COMPARE-systems.csv SYSTEM COMPILE.json SYSTEM.yaml
COMPILE.json is `conveyor compile --json-out` of the same compile (same model, system,
precisions, --seqs, --max-context and --kv-buckets). The traffic must keep one request in the
pipeline at a time; then every decode token takes the DECODE bucket's latency, so the row's
per-user tok/s = clock / decode cycles and its TPOT = decode cycles / clock (within rounding).
A row priced from the planner's estimate instead fails: its latency is not the schedule's."""
import csv
import json
import re
import sys

rows = {row["system"]: row for row in csv.DictReader(open(sys.argv[1]))}
row = rows[sys.argv[2]]
compiled = json.load(open(sys.argv[3]))
clock = None
for line in open(sys.argv[4]):
    m = re.match(r"\s*clock_hz:\s*([0-9.eE+-]+)", line)
    if m:
        clock = float(m.group(1))
        break
if clock is None:
    sys.exit(f"{sys.argv[4]}: no clock_hz")
cycles = compiled["decode"]["cycles"]
if row["source"] != "simulated schedule":
    sys.exit(f"{sys.argv[2]}: figures from '{row['source']}', not the simulated schedule")
if float(row["mean_seqs_in_flight"]) > 1:
    sys.exit("the traffic overlaps requests; the check needs one at a time")
expected = clock / cycles
per_user = float(row["per_user_tok_s"])
tpot_ms = float(row["tpot_p50_ms"])
if abs(per_user - expected) > 1e-6 * expected:
    sys.exit(f"per-user {per_user} tok/s != clock {clock} / {cycles} decode cycles = {expected}")
if abs(tpot_ms - 1e3 / expected) > 1e-6 * 1e3 / expected:
    sys.exit(f"TPOT p50 {tpot_ms} ms != {cycles} cycles / {clock} Hz")
print(f"ok: {sys.argv[2]} per-user {per_user:.1f} tok/s = {clock:.0f} Hz / {cycles} cycles")
