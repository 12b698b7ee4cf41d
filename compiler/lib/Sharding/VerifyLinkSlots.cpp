// conveyor-verify-link-slots: the software-scheduled network's rules on scheduled C2C
// transfers: slots long enough, disjoint per port, data arrived before it is read.
#include "conveyor/Dialect/Chip/ChipOps.h"
#include "conveyor/Sharding/ShardingPasses.h"
#include "conveyor/System/SystemConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace conveyor::sharding {
#define GEN_PASS_DEF_VERIFYLINKSLOTS
#include "conveyor/Sharding/ShardingPasses.h.inc"
} // namespace conveyor::sharding

using namespace mlir;
using namespace conveyor;

namespace {

FailureOr<int64_t> issueOf(Operation *op) {
  auto issue = op->getAttrOfType<IntegerAttr>("issue");
  if (!issue) {
    return op->emitOpError("has no 'issue' cycle; schedule the template before checking its "
                           "link slots");
  }
  return issue.getInt();
}

struct VerifyLinkSlotsPass
    : public conveyor::sharding::impl::VerifyLinkSlotsBase<VerifyLinkSlotsPass> {
  using VerifyLinkSlotsBase::VerifyLinkSlotsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (systemPath.empty()) {
      module.emitError("conveyor-verify-link-slots needs the system description: pass "
                       "system=<path>");
      return signalPassFailure();
    }
    Result<system::SystemConfig> config = system::loadSystemConfig(systemPath);
    Result<system::DType> activations = system::parseDType(activationType);
    if (!config || !activations) {
      module.emitError() << "conveyor-verify-link-slots: "
                         << (!config ? config.error() : activations.error());
      return signalPassFailure();
    }
    const system::ChipConfig &chip = config->chip;
    bytesPerCycle = chip.c2c.lanesPerLink * chip.c2c.gbpsPerLane * 1e9 / 8 / chip.clockHz;
    hopCycles = chip.c2c.latencyCycles;
    bits = system::dtypeBits(*activations);
    for (auto func : module.getOps<func::FuncOp>()) {
      if (failed(verify(func))) {
        return signalPassFailure();
      }
    }
  }

private:
  double bytesPerCycle = 1, hopCycles = 0;
  unsigned bits = 16;

  LogicalResult verify(func::FuncOp func) {
    // Port -> sends on it, by issue cycle; tp tag -> its send.
    std::map<int64_t, SmallVector<std::pair<int64_t, chip::C2CSendOp>>> byPort;
    llvm::DenseMap<int64_t, chip::C2CSendOp> tpSends;
    SmallVector<chip::C2CRecvOp> tpRecvs;
    WalkResult walk = func.walk([&](Operation *op) {
      if (auto send = dyn_cast<chip::C2CSendOp>(op)) {
        FailureOr<int64_t> issue = issueOf(op);
        if (failed(issue)) {
          return WalkResult::interrupt();
        }
        auto type = cast<RankedTensorType>(send.getInput().getType());
        int64_t needed = std::max<int64_t>(
            1, int64_t(
                   std::ceil(std::ceil(double(type.getNumElements()) * bits / 8) / bytesPerCycle)));
        if (static_cast<int64_t>(send.getSlotCycles()) < needed) {
          send.emitOpError() << "reserves " << send.getSlotCycles() << " cycles of link "
                             << send.getLink() << " but its message needs " << needed
                             << " (slot shorter than the transfer)";
          return WalkResult::interrupt();
        }
        byPort[send.getLink()].push_back({*issue, send});
        if (send.getGroup() == "tp") {
          tpSends[send.getTag()] = send;
        }
      } else if (auto recv = dyn_cast<chip::C2CRecvOp>(op)) {
        if (failed(issueOf(op))) {
          return WalkResult::interrupt();
        }
        if (recv.getGroup() == "tp") {
          tpRecvs.push_back(recv);
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted()) {
      return failure();
    }
    for (auto &[port, sends] : byPort) {
      std::stable_sort(sends.begin(), sends.end(),
                       [](const auto &a, const auto &b) { return a.first < b.first; });
      for (size_t i = 1; i < sends.size(); ++i) {
        auto [previousIssue, previous] = sends[i - 1];
        int64_t freeAt = previousIssue + static_cast<int64_t>(previous.getSlotCycles());
        if (sends[i].first < freeAt) {
          InFlightDiagnostic diag = sends[i].second.emitOpError()
                                    << "issues at cycle " << sends[i].first << " on link " << port
                                    << ", which is reserved until cycle " << freeAt
                                    << " (link slot double-booked)";
          diag.attachNote(previous.getLoc())
              << "previous slot on link " << port << " starts at cycle " << previousIssue;
          return diag;
        }
      }
    }
    for (chip::C2CRecvOp recv : tpRecvs) {
      auto it = tpSends.find(recv.getTag());
      if (it == tpSends.end()) {
        return recv.emitOpError() << "has no cv.chip.c2c_send with tag " << recv.getTag()
                                  << " in its template (a receive without a sender)";
      }
      chip::C2CSendOp send = it->second;
      int64_t arrival = *issueOf(send) + static_cast<int64_t>(send.getSlotCycles()) +
                        static_cast<int64_t>(send.getHops() * hopCycles);
      int64_t issue = *issueOf(recv);
      if (issue < arrival) {
        return recv.emitOpError() << "issues at cycle " << issue << " but the message with tag "
                                  << recv.getTag() << " arrives at cycle " << arrival
                                  << " (data read before it arrives)";
      }
    }
    return success();
  }
};

} // namespace
