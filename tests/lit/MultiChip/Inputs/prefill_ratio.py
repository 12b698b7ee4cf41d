"""Checks that a prefill bucket costs less than a bound in decode steps.

Usage: prefill_ratio.py STATS_FILE PROMPT MAX_DECODE_STEPS
Reads the "decode bucket" and "prefill bucket prompt PROMPT" lines that
`conveyor compile --stats` prints, prints the ratio, and exits 1 when the prefill
program takes MAX_DECODE_STEPS decode steps or more.
"""
import re
import sys


def cycles(text, pattern, what):
    match = re.search(pattern + r": (\d+) cycles compiled", text)
    if not match:
        sys.exit(f"prefill_ratio.py: no '{what}' line in the compile statistics")
    return int(match.group(1))


def main():
    stats, prompt, bound = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with open(stats, encoding="utf-8") as handle:
        text = handle.read()
    decode = cycles(text, r"decode bucket kv \d+", "decode bucket")
    prefill = cycles(text, rf"prefill bucket prompt {prompt}", f"prefill bucket prompt {prompt}")
    ratio = prefill / decode
    print(f"prefill {prompt}: {prefill} cycles = {ratio:.2f} decode steps of {decode}")
    if ratio >= bound:
        print(f"prefill_ratio.py: prefill {prompt} costs {ratio:.2f} decode steps, "
              f"not under {bound}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
