// Multi-node fabrics: the shipped groq-64/576/1024 systems, dragonfly hops, link budgets.
#include "SystemTestSupport.h"

#include "conveyor/System/SystemConfig.h"

using namespace conveyor::system;
using namespace conveyor::system::test;

namespace {

SystemConfig shippedSystem(const std::string &name) {
  auto loaded = loadSystemConfig(shippedPath(name));
  INFO(errorText(loaded));
  REQUIRE(loaded.ok());
  return *loaded;
}

std::string errorOf(const std::string &text) {
  auto parsed = parseSystemConfig(text, "systems/x.yaml");
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

std::string at(const std::string &text, const std::string &needle) {
  return "systems/x.yaml:" + std::to_string(lineOf(text, needle)) + ": ";
}

} // namespace

TEST_CASE("shipped multi-node systems: sizes, racks and the same chip", "[system][fabric]") {
  const SystemConfig single = shippedSystem("groq-1.yaml");
  struct Expected {
    const char *file;
    uint32_t chips, nodes, groups;
  };
  // 576 = 8 racks x 9 nodes x 8 chips; 64 = 8 nodes in one (partly filled) rack; 1,024 = 128
  // nodes = 14 full racks + 2 nodes.
  for (const Expected &e :
       {Expected{"groq-8.yaml", 8, 1, 1}, Expected{"groq-64.yaml", 64, 8, 1},
        Expected{"groq-576.yaml", 576, 72, 8}, Expected{"groq-1024.yaml", 1024, 128, 15}}) {
    INFO(e.file);
    SystemConfig system = shippedSystem(e.file);
    CHECK(system.fabric.chips == e.chips);
    CHECK(system.fabric.chipsPerNode == 8);
    CHECK(system.fabric.nodes() == e.nodes);
    CHECK(system.fabric.nodesPerGroup == 9);
    CHECK(system.fabric.groups() == e.groups);
    CHECK(system.fabric.effectiveLocalLinks() == 7);
    CHECK(system.fabric.effectiveGlobalLinks(system.chip.c2c.links) == 4);
    if (e.chips > 8) {
      CHECK(system.fabric.topology == Topology::Dragonfly);
    }
    // Same chip as groq-1 (the chip section is copied; it must not drift).
    SystemConfig sameChip = single;
    sameChip.name = system.name;
    sameChip.description = system.description;
    sameChip.fabric = system.fabric;
    CHECK(canonicalText(sameChip) == canonicalText(system));
    // Canonical text round-trips with the new fabric keys.
    auto reparsed = parseSystemConfig(canonicalText(system), "canonical");
    INFO(errorText(reparsed));
    REQUIRE(reparsed.ok());
    CHECK(fingerprint(*reparsed) == fingerprint(system));
    CHECK(reparsed->fabric.nodesPerGroup == system.fabric.nodesPerGroup);
    CHECK(reparsed->fabric.globalLinksPerChip == system.fabric.globalLinksPerChip);
  }
  // 576 x 230.7 MB = 132.9 GB (TSP-FACTS.md section 7).
  CHECK(double(shippedSystem("groq-576.yaml").chip.sramBytes()) * 576 / 1e9 ==
        Approx(132.88).epsilon(1e-3));
}

TEST_CASE("dragonfly hops: 1 in a node, 3 in a rack, 5 between racks", "[system][fabric]") {
  FabricConfig f = shippedSystem("groq-576.yaml").fabric;
  CHECK(f.hopsBetween(5, 5) == 0);
  CHECK(f.hopsBetween(0, 7) == 1);   // node 0
  CHECK(f.hopsBetween(7, 8) == 3);   // nodes 0 and 1, rack 0
  CHECK(f.hopsBetween(0, 71) == 3);  // node 8 is still rack 0
  CHECK(f.hopsBetween(71, 72) == 5); // rack 0 -> rack 1
  CHECK(f.hopsBetween(0, 575) == 5);
  CHECK(f.groupOf(575) == 7);
  // A fully connected fabric has a direct link between any two chips.
  FabricConfig node = shippedSystem("groq-8.yaml").fabric;
  CHECK(node.hopsBetween(0, 7) == 1);
}

TEST_CASE("fabric link budget errors name file, line and key", "[system][fabric][errors]") {
  const std::string text = readText(shippedPath("groq-576.yaml"));
  std::string bad = replaceOnce(text, "local_links_per_chip: 7 ", "local_links_per_chip: 6 ");
  CHECK(errorOf(bad) == at(bad, "local_links_per_chip: 6") +
                            "fabric.local_links_per_chip: a node of 8 fully connected chips "
                            "needs 7 local links per chip, got 6");
  bad = replaceOnce(text, "global_links_per_chip: 4 ", "global_links_per_chip: 10 ");
  CHECK(errorOf(bad) == at(bad, "global_links_per_chip: 10") +
                            "fabric.global_links_per_chip: 7 local + 10 global links exceed the "
                            "chip's 16 (chip.c2c.links)");
  bad = replaceOnce(text, "local_links_per_chip: 7 ", "local_links_per_chip: 16 ");
  bad = replaceOnce(bad, "global_links_per_chip: 4 ", "global_links_per_chip: 0 ");
  CHECK(errorOf(bad) == at(bad, "global_links_per_chip: 0") +
                            "fabric.global_links_per_chip: 72 nodes need links between nodes, "
                            "but every chip link is used inside the node; lower "
                            "fabric.local_links_per_chip");
  bad = replaceOnce(text, "nodes_per_group: 9", "nodes_per_group: 0");
  CHECK(errorOf(bad).rfind(at(bad, "nodes_per_group: 0") + "fabric.nodes_per_group:", 0) == 0);
  // The new keys are optional: without them the defaults derive from the node size.
  std::string plain = replaceOnce(text, "  nodes_per_group: 9\n", "");
  plain = replaceOnce(plain, "  local_links_per_chip: 7       # (VE, N2, N3; S)\n", "");
  plain = replaceOnce(plain, "  global_links_per_chip: 4      # (VE, N2; S)\n", "");
  auto parsed = parseSystemConfig(plain, "plain.yaml");
  INFO(errorText(parsed));
  REQUIRE(parsed.ok());
  CHECK(parsed->fabric.nodesPerGroup == 1);
  CHECK(parsed->fabric.effectiveLocalLinks() == 7);
  CHECK(parsed->fabric.effectiveGlobalLinks(16) == 9);
  CHECK(parsed->fabric.hopsBetween(7, 8) == 5); // every node its own group
}
