"""Checks a `conveyor simulate --activity-out` trace of a multi-chip schedule (docs/simulator.md,
"Activity trace"): the chips it shows, and on each one instruction slice per executed
instruction (the sum of its program events' `instructions`), C2C sends and receives included.

usage: check_activity_trace.py TRACE.json CHIP[,CHIP...]
Prints one line per chip: "chip N: I instructions, S sends, R receives", then
"arrows: A", the transfers drawn from a send to its receive (each id starts once and
finishes once)."""
import collections
import json
import sys

trace = json.load(open(sys.argv[1]))
expected = sorted(int(chip) for chip in sys.argv[2].split(","))
assert trace["otherData"]["traced"] is True, "the trace says it is not traced"
executed = collections.Counter()  # chip -> instructions its programs executed
slices = collections.Counter()  # chip -> instruction slices
kinds = collections.defaultdict(collections.Counter)
flows = {"s": collections.Counter(), "f": collections.Counter()}
for event in trace["traceEvents"]:
    if event["ph"] in flows:
        flows[event["ph"]][event["id"]] += 1
        continue
    if event["ph"] != "X":
        continue
    if event["cat"] == "program":
        executed[event["pid"]] += event["args"]["instructions"]
    else:
        slices[event["pid"]] += 1
        kinds[event["pid"]][event["cat"]] += 1
shown = sorted(set(executed) | set(slices))
assert shown == expected, f"chips shown {shown}, expected {expected}"
for chip in expected:
    assert slices[chip] == executed[chip], (
        f"chip {chip}: {slices[chip]} slices for {executed[chip]} executed instructions")
    print(f"chip {chip}: {slices[chip]} instructions, {kinds[chip]['C2C_SEND']} sends, "
          f"{kinds[chip]['C2C_RECV']} receives")
assert flows["s"] == flows["f"], "an arrow without both ends"
assert all(count == 1 for count in flows["s"].values()), "an arrow id used twice"
print(f"arrows: {len(flows['s'])}")
