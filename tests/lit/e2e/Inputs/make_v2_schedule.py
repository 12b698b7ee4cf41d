# Turns a schedule compiled for groq-1 into a hand-written v2 schedule for a 2-chip variant
# of groq-1 (its embedded canonical system text edited: 2 chips in one node, 50 ppm drift;
# fingerprint = FNV-1a 64 of that text, as conveyor::system::fingerprint): chip 0 sends a
# 320-byte weight to chip 1, which receives it and applies relu in a 4-iteration repeat
# block. `early` receives one cycle before the data arrives.
# Usage: make_v2_schedule.py <dir with schedule_pb2.py> <in.sched> <out.sched> [early]
import sys

sys.path.insert(0, sys.argv[1])
import schedule_pb2 as pb  # noqa: E402

s = pb.Schedule()
with open(sys.argv[2], "rb") as f:
    s.ParseFromString(f.read())
del s.buffers[:]
del s.programs[:]

text = s.system.canonical_text
for old, new in [('name: "groq-1"\n', 'name: "two-chip-test"\n'), ("  chips: 1\n", "  chips: 2\n"),
                 ("  chips_per_node: 1\n", "  chips_per_node: 2\n"),
                 ("  topology: single\n", "  topology: fully_connected\n"),
                 ("  clock_drift_ppm: 0\n", "  clock_drift_ppm: 50\n"),
                 ("  sync_period_cycles: 0\n", "  sync_period_cycles: 256\n")]:
    if old not in text:
        sys.exit(f"canonical system text has no {old!r}")
    text = text.replace(old, new, 1)
fingerprint = 0xCBF29CE484222325
for byte in text.encode():
    fingerprint = ((fingerprint ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
s.system.canonical_text = text
s.system.fingerprint = fingerprint
s.system.name = "two-chip-test"
s.system.chips = 2


def buffer(ident, name, chip, kind, address):
    b = s.buffers.add(id=ident, name=name, chip=chip, kind=kind, dtype=pb.INT8,
                      address=address, size_bytes=320)
    b.shape.append(320)


buffer(1, "w", 0, pb.WEIGHT, 0)
buffer(2, "in", 1, pb.ACTIVATION, 0)
buffer(3, "out", 1, pb.ACTIVATION, 320)

# 320 B at 4 x 30 Gb/s and 900 MHz: 20 cycles; one hop inside the node: 216.
arrival = 20 + 216
sender = s.programs.add(name="decode", kind=pb.DECODE, chip=0, tokens_per_step=1,
                        kv_length=128, drift_slack_cycles=10)
sender.instructions.add(issue_cycle=0, unit=pb.C2C, opcode=pb.C2C_SEND, operands=[1],
                        link=0, peer_chip=1, slot_start_cycle=0, slot_cycles=20,
                        transfer_id=7, location="send")
receiver = s.programs.add(name="decode", kind=pb.DECODE, chip=1, tokens_per_step=1,
                          kv_length=128, drift_slack_cycles=10)
recv_cycle = arrival - 1 if len(sys.argv) > 4 and sys.argv[4] == "early" else arrival
receiver.instructions.add(issue_cycle=recv_cycle, unit=pb.C2C, opcode=pb.C2C_RECV,
                          results=[2], link=0, peer_chip=0, transfer_id=7, location="recv")
receiver.instructions.add(issue_cycle=recv_cycle + 100, unit=pb.VXM, opcode=pb.VXM_UNARY,
                          operands=[2], results=[3], kind=pb.RELU, location="relu")
receiver.repeats.add(first=1, count=1, iterations=4, period_cycles=50, name="layers")
with open(sys.argv[3], "wb") as f:
    f.write(s.SerializeToString())
