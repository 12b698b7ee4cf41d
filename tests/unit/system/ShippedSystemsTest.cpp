// The shipped systems/*.yaml load and carry the published TSP numbers (../shared/TSP-FACTS.md).
#include "SystemTestSupport.h"

#include "conveyor/System/SystemConfig.h"

#include <cmath>

using namespace conveyor::system;
using namespace conveyor::system::test;

TEST_CASE("groq-1.yaml carries the TSP v1 facts", "[system][shipped]") {
  auto loaded = loadSystemConfig(shippedPath("groq-1.yaml"));
  INFO(errorText(loaded));
  REQUIRE(loaded.ok());
  const SystemConfig &system = *loaded;
  const ChipConfig &chip = system.chip;

  CHECK(system.name == "groq-1");
  CHECK(system.sourcePath == shippedPath("groq-1.yaml"));
  CHECK(chip.name == "groq-tsp-v1");
  CHECK(chip.clockHz == 900e6);
  CHECK(chip.vectorBytes == 320);
  CHECK(chip.streamsPerDirection == 32);
  CHECK(chip.instructionQueues == 144);

  // 88 slices x 20 tiles x 8,192 words x 16 B = 220 MiB (TSP-FACTS §7).
  CHECK(chip.mem.slices == 88);
  CHECK(chip.mem.bytesPerSlice == 20ull * 8192 * 16);
  CHECK(chip.sramBytes() == 230686720ull);
  CHECK(chip.sramBytes() == 220ull * 1024 * 1024);
  CHECK(chip.mem.banksPerSlice == 2);

  CHECK(chip.mxm.planes == 4);
  CHECK(chip.mxm.rows == 320);
  CHECK(chip.mxm.cols == 320);
  CHECK(chip.mxm.macsPerCycle.at(DType::INT8) == 409600);
  CHECK(chip.mxm.macsPerCycle.at(DType::F16) == 102400);
  CHECK(chip.mxm.macsPerCycle.count(DType::F32) == 0); // no fp32 MXM mode
  CHECK(chip.mxm.floatTimingAs == DType::F16);
  // 409,600 int8 weights install in 40 cycles (ISCA'20: "< 40 cycles").
  CHECK(chip.mxm.weightLoadBytesPerCycle == 10240);
  CHECK(uint64_t(chip.mxm.planes) * chip.mxm.rows * chip.mxm.cols /
            chip.mxm.weightLoadBytesPerCycle ==
        40);

  // Peak rates derived from the YAML land within 2.5 % of the published 750 TOPS / 188 TFLOPS.
  double int8Tops = 2.0 * double(chip.mxm.macsPerCycle.at(DType::INT8)) * chip.clockHz / 1e12;
  double fp16Tflops = 2.0 * double(chip.mxm.macsPerCycle.at(DType::F16)) * chip.clockHz / 1e12;
  CHECK(std::abs(int8Tops - 750) / 750 < 0.025);
  CHECK(std::abs(fp16Tflops - 188) / 188 < 0.025);

  CHECK(chip.vxm.alusPerLane == 16);
  CHECK(chip.vxm.alusPerLane * chip.vectorBytes == 5120);
  CHECK(chip.c2c.links == 16);
  CHECK(chip.c2c.lanesPerLink == 4);
  CHECK(chip.c2c.gbpsPerLane == 30);
  CHECK(chip.c2c.latencyCycles == 216);
  CHECK(chip.host.bytesPerSecond == 31.5e9);

  // Every MXM precision has an energy; the power split adds up to the chosen 300 W.
  for (const auto &[type, rate] : chip.mxm.macsPerCycle) {
    CHECK(chip.energy.macPicojoules.count(type) == 1);
  }
  CHECK(chip.energy.staticWatts > 0);
  CHECK(chip.energy.staticWatts < 300);

  CHECK(system.fabric.chips == 1);
  CHECK(system.fabric.topology == Topology::Single);
}

TEST_CASE("groq-1 full-activity power is about the quoted 300 W", "[system][shipped]") {
  // The same sum docs/hardware-model.md shows: every unit at its peak rate.
  auto loaded = loadSystemConfig(shippedPath("groq-1.yaml"));
  REQUIRE(loaded.ok());
  const ChipConfig &chip = loaded->chip;
  const EnergyConfig &energy = chip.energy;
  const double hz = chip.clockHz;
  const double picojoule = 1e-12;
  double mxm = double(chip.mxm.macsPerCycle.at(DType::INT8)) * energy.macPicojoules.at(DType::INT8);
  // One bank read and one bank written per slice per cycle, a vector each.
  double sramBitsPerCycle = double(chip.mem.slices) * chip.vectorBytes * 8;
  double sram =
      sramBitsPerCycle * (energy.sramReadPicojoulesPerBit + energy.sramWritePicojoulesPerBit);
  double streams =
      2.0 * chip.streamsPerDirection * chip.vectorBytes * 8 * energy.streamPicojoulesPerBit;
  double vxm = double(chip.vxm.alusPerLane) * chip.vectorBytes * energy.vxmOpPicojoules;
  double perCycleWatts = (mxm + sram + streams + vxm) * picojoule * hz;
  double c2cWatts = chip.c2c.links * chip.c2c.lanesPerLink * chip.c2c.gbpsPerLane * 1e9 *
                    energy.c2cPicojoulesPerBit * picojoule;
  double hostWatts = chip.host.bytesPerSecond * 8 * energy.hostPicojoulesPerBit * picojoule;
  double total = energy.staticWatts + perCycleWatts + c2cWatts + hostWatts;
  INFO("full-activity power " << total << " W");
  CHECK(std::abs(total - 300) < 1.0);
}

TEST_CASE("groq-8.yaml is one fully connected node of groq-1 chips", "[system][shipped]") {
  auto node = loadSystemConfig(shippedPath("groq-8.yaml"));
  INFO(errorText(node));
  REQUIRE(node.ok());
  CHECK(node->name == "groq-8");
  CHECK(node->fabric.chips == 8);
  CHECK(node->fabric.chipsPerNode == 8);
  CHECK(node->fabric.topology == Topology::FullyConnected);
  CHECK(node->fabric.clockDriftPpm == 50);
  CHECK(node->fabric.syncPeriodCycles == 256);

  // The two files repeat the chip section; it must not drift between them.
  auto single = loadSystemConfig(shippedPath("groq-1.yaml"));
  REQUIRE(single.ok());
  SystemConfig sameChip = *single;
  sameChip.name = node->name;
  sameChip.description = node->description;
  sameChip.fabric = node->fabric;
  CHECK(canonicalText(sameChip) == canonicalText(*node));
}

TEST_CASE("dtype and topology names", "[system]") {
  for (DType type :
       {DType::F32, DType::F16, DType::BF16, DType::FP8, DType::INT8, DType::INT4, DType::INT32}) {
    auto parsed = parseDType(dtypeName(type));
    REQUIRE(parsed.ok());
    CHECK(*parsed == type);
  }
  CHECK(*parseDType("f16") == DType::F16);
  CHECK(*parseDType("fp32") == DType::F32);
  CHECK(dtypeBits(DType::INT4) == 4);
  CHECK(dtypeBits(DType::FP8) == 8);
  CHECK(dtypeBits(DType::BF16) == 16);
  CHECK(dtypeBits(DType::INT32) == 32);
  auto bad = parseDType("int9");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == "unknown dtype 'int9' (known: f32, fp16, bf16, fp8, int8, int4, int32)");

  for (Topology topology : {Topology::Single, Topology::FullyConnected, Topology::Dragonfly}) {
    auto parsed = parseTopology(topologyName(topology));
    REQUIRE(parsed.ok());
    CHECK(*parsed == topology);
  }
  CHECK_FALSE(parseTopology("ring").ok());
}
