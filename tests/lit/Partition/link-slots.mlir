// conveyor-verify-link-slots: boundary tests of the C2C rules on groq-8 (4 x 30 Gb/s links at
// 900 MHz = 16.67 B/cycle, 216-cycle hop). 4096 fp16 = 8,192 B need a 492-cycle slot, so a
// send issued at 0 frees its port at 492 and reaches a 1-hop peer at 0 + 492 + 216 = 708.
// RUN: conveyor-opt %s -split-input-file -verify-diagnostics \
// RUN:   --conveyor-verify-link-slots="system=%models/../systems/groq-8.yaml"

// Legal at the boundary: the next slot on port 0 starts at 492, the receive issues at 708.
func.func @legal(%x: tensor<1x1x4096xf32>) -> tensor<1x1x4096xf32> {
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 2 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 492 : i64} : tensor<1x1x4096xf32>
  %r = cv.chip.c2c_recv {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, issue = 708 : i64} : tensor<1x1x4096xf32>
  return %r : tensor<1x1x4096xf32>
}

// -----

// One cycle early on the same port.
func.func @double_booked(%x: tensor<1x1x4096xf32>) {
  // expected-note @+1 {{previous slot on link 0 starts at cycle 0}}
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  // expected-error @+1 {{issues at cycle 491 on link 0, which is reserved until cycle 492 (link slot double-booked)}}
  cv.chip.c2c_send %x {group = "tp", peer_offset = 2 : i64, tag = 2 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 491 : i64} : tensor<1x1x4096xf32>
  return
}

// -----

// Different ports may overlap.
func.func @other_port(%x: tensor<1x1x4096xf32>) {
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  cv.chip.c2c_send %x {group = "tp", peer_offset = 2 : i64, tag = 2 : i64, link = 1 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  return
}

// -----

// The receive one cycle before the data arrives.
func.func @early_receive(%x: tensor<1x1x4096xf32>) -> tensor<1x1x4096xf32> {
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 492 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  // expected-error @+1 {{issues at cycle 707 but the message with tag 1 arrives at cycle 708 (data read before it arrives)}}
  %r = cv.chip.c2c_recv {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, issue = 707 : i64} : tensor<1x1x4096xf32>
  return %r : tensor<1x1x4096xf32>
}

// -----

// Three hops add 3 x 216 cycles.
func.func @three_hops(%x: tensor<1x1x4096xf32>) -> tensor<1x1x4096xf32> {
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 7 : i64, hops = 3 : i64, slot_cycles = 492 : i64, issue = 10 : i64} : tensor<1x1x4096xf32>
  // expected-error @+1 {{arrives at cycle 1150}}
  %r = cv.chip.c2c_recv {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 7 : i64, hops = 3 : i64, issue = 1149 : i64} : tensor<1x1x4096xf32>
  return %r : tensor<1x1x4096xf32>
}

// -----

func.func @short_slot(%x: tensor<1x1x4096xf32>) {
  // expected-error @+1 {{reserves 491 cycles of link 0 but its message needs 492 (slot shorter than the transfer)}}
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 491 : i64, issue = 0 : i64} : tensor<1x1x4096xf32>
  return
}

// -----

func.func @no_sender() -> tensor<1x1x8xf32> {
  // expected-error @+1 {{has no cv.chip.c2c_send with tag 9 in its template}}
  %r = cv.chip.c2c_recv {group = "tp", peer_offset = 1 : i64, tag = 9 : i64, link = 0 : i64, hops = 1 : i64, issue = 0 : i64} : tensor<1x1x8xf32>
  return %r : tensor<1x1x8xf32>
}

// -----

func.func @unscheduled(%x: tensor<1x1x8xf32>) {
  // expected-error @+1 {{has no 'issue' cycle}}
  cv.chip.c2c_send %x {group = "tp", peer_offset = 1 : i64, tag = 1 : i64, link = 0 : i64, hops = 1 : i64, slot_cycles = 1 : i64} : tensor<1x1x8xf32>
  return
}
