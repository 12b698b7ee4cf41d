"""Checks that `conveyor explore` plans by the compile's rule: its minimum, its fit and its
plan at the minimum are what `conveyor compile --min-chips` says for the same system file.

usage: check_explore_min_chips.py EXPLORE.jsonl SRAM_MB=MIN_CHIPS.json [SRAM_MB=MIN_CHIPS.json ...]
MIN_CHIPS.json is `conveyor compile --min-chips --json` on the explore base system with its
SRAM per chip set to SRAM_MB (same model, --max-context and --seqs as the sweep's rows it is
compared with). For each precision it lists that the sweep has, every explore row of that precision, SRAM and
sequences must report the same minimum, fit exactly when its chips reach it, and a row at
exactly the minimum must be planned with the same tp x stages."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
checked = minima = 0
failures = []
for arg in sys.argv[2:]:
    sram, path = arg.split("=", 1)
    sram = float(sram)
    compiled = json.load(open(path))
    for entry in compiled["precisions"]:
        minimum = entry["minimum_chips"]
        mine = [r for r in rows if r["precision"] == entry["weights"] and r["sram_mb"] == sram
                and r["seqs"] == compiled["seqs"]]
        if not mine:
            continue  # a precision --min-chips lists but the sweep does not
        at_minimum = False
        for r in mine:
            checked += 1
            where = f"{entry['weights']} {sram} MB {r['chips']} chips"
            if r["min_chips"] != minimum:
                failures.append(f"{where}: explore minimum {r['min_chips']}, compile --min-chips {minimum}")
            if r["fits"] != (minimum > 0 and r["chips"] >= minimum):
                failures.append(f"{where}: explore fits={r['fits']}, compile minimum {minimum}")
            if r["chips"] == minimum:
                at_minimum = True
                if (r["tp"], r["stages"]) != (entry["tp"], entry["stages"]):
                    failures.append(f"{where}: explore plans tp {r['tp']} x {r['stages']}, the "
                                    f"compile tp {entry['tp']} x {entry['stages']}")
        if minimum > 0:
            minima += 1
            if not at_minimum:
                failures.append(f"{entry['weights']} {sram} MB: the sweep has no point at the minimum {minimum}")
if checked == 0:
    failures.append("no explore row matches a --min-chips precision, SRAM size and --seqs")
for failure in failures:
    print("FAIL:", failure)
if failures:
    sys.exit(1)
print(f"ok: {checked} explore points agree with compile --min-chips ({minima} minima)")
