// Report renderings (Markdown, HTML, CSV, JSON), document checks, gnuplot scripts, and the
// report writer with and without gnuplot.
#include "conveyor/Reports/ReportRender.h"
#include "conveyor/Reports/ReportWriter.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace conveyor::reports;

namespace {

Document sampleDocument() {
  Document document;
  document.name = "sample";
  document.title = "Sample <report>";
  document.summary = {"Model `llama`, **two** systems."};
  Section section;
  section.heading = "Numbers";
  Table table;
  table.id = "systems";
  table.title = "Per system";
  table.columns = {{"system", "system"},
                   {"tok_s", "tokens/s", NumberFormat::Fixed1},
                   {"share", "share", NumberFormat::Percent},
                   {"count", "count", NumberFormat::Integer}};
  table.rows = {{"lpu:a|b", 300.25, 0.5, 12345.0}, {"gpu:\"x\",y", NAN, 0.125, 7.0}};
  section.tables.push_back(table);
  Plot plot;
  plot.id = "speed";
  plot.title = "Speed";
  plot.xLabel = "system";
  plot.yLabel = "tokens/s";
  plot.style = PlotStyle::Bars;
  plot.categories = {"lpu", "gpu"};
  plot.series = {{"tokens/s", {0, 1}, {300.25, 45.5}, {}}};
  section.plots.push_back(plot);
  Plot curve;
  curve.id = "curve";
  curve.title = "Curve";
  curve.xLabel = "x";
  curve.yLabel = "y";
  curve.logX = true;
  curve.series = {{"a", {1, 2, 4}, {10, 20, 40}, {}}, {"b", {1, 2}, {5, 6}, {}}};
  section.plots.push_back(curve);
  document.sections.push_back(section);
  return document;
}

std::string readText(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::filesystem::path freshDirectory(const std::string &name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("conveyor-reports-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

} // namespace

TEST_CASE("numbers are formatted per column format") {
  CHECK(formatNumber(1234567.4, NumberFormat::Integer) == "1,234,567");
  CHECK(formatNumber(-1234.6, NumberFormat::Integer) == "-1,235");
  CHECK(formatNumber(0.4, NumberFormat::Integer) == "0");
  CHECK(formatNumber(2.25, NumberFormat::Fixed1) == "2.2"); // round half to even in binary
  CHECK(formatNumber(0.1234, NumberFormat::Percent) == "12.3%");
  CHECK(formatNumber(-4.56, NumberFormat::SignedPercent) == "-4.6%");
  CHECK(formatNumber(3.14159, NumberFormat::Auto) == "3.142");
  CHECK(formatNumber(0.0123456, NumberFormat::Auto) == "0.01235");
  CHECK(formatNumber(123456.0, NumberFormat::Auto) == "123,456");
  CHECK(formatNumber(1.5e-6, NumberFormat::Auto) == "1.500e-06");
  CHECK(formatNumber(NAN, NumberFormat::Fixed2) == "-");
  CHECK(formatNumber(INFINITY, NumberFormat::Auto) == "-");
}

TEST_CASE("CSV keeps full precision, quotes fields and leaves NaN empty") {
  Document document = sampleDocument();
  std::string csv = renderCsv(document.sections[0].tables[0]);
  CHECK(csv == "system,tok_s,share,count\n"
               "lpu:a|b,300.25,0.5,12345\n"
               "\"gpu:\"\"x\"\",y\",,0.125,7\n");
}

TEST_CASE("JSON holds every table row and plot point, NaN as null") {
  std::string json = renderJson(sampleDocument());
  CHECK(json.find("\"report\": \"sample\"") != std::string::npos);
  CHECK(json.find("{\"system\": \"lpu:a|b\", \"tok_s\": 300.25, \"share\": 0.5, \"count\": "
                  "12345}") != std::string::npos);
  CHECK(json.find("\"tok_s\": null") != std::string::npos);
  CHECK(json.find("\"gpu:\\\"x\\\",y\"") != std::string::npos);
  CHECK(json.find("\"categories\": [\"lpu\", \"gpu\"]") != std::string::npos);
  CHECK(json.find("\"points\": [[1, 10], [2, 20], [4, 40]]") != std::string::npos);
  // Identical documents give identical text.
  CHECK(json == renderJson(sampleDocument()));
}

TEST_CASE("Markdown escapes pipes, formats numbers and says why a plot is missing") {
  PlotImages images;
  images.skippedReason = "gnuplot is not installed";
  std::string md = renderMarkdown(sampleDocument(), images);
  CHECK(md.rfind("# Sample <report>\n", 0) == 0);
  CHECK(md.find("| system | tokens/s | share | count |") != std::string::npos);
  CHECK(md.find("| lpu:a\\|b | 300.2 | 50.0% | 12,345 |") != std::string::npos);
  CHECK(md.find("| gpu:\"x\",y | - | 12.5% | 7 |") != std::string::npos);
  CHECK(md.find("*Plot \"Speed\" not drawn (gnuplot is not installed); its numbers are in "
                "sample.json and plots/speed.gp.*") != std::string::npos);

  images.skippedReason.clear();
  images.svgById["speed"] = "<svg></svg>";
  md = renderMarkdown(sampleDocument(), images);
  CHECK(md.find("![Speed](plots/speed.svg)") != std::string::npos);
}

TEST_CASE("HTML is self-contained, escapes text and prefixes SVG ids per plot") {
  PlotImages images;
  images.svgById["speed"] = "<?xml version=\"1.0\"?>\n<svg><defs><path id='gpPt0'/></defs>"
                            "<use xlink:href='#gpPt0'/><g clip-path=\"url(#gpclip)\"/></svg>";
  images.svgById["curve"] = "<svg><path id='gpPt0'/></svg>";
  std::string html = renderHtml(sampleDocument(), images);
  CHECK(html.find("<title>Sample &lt;report&gt;</title>") != std::string::npos);
  CHECK(html.find("<code>llama</code>, <strong>two</strong>") != std::string::npos);
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find("id='p0_gpPt0'") != std::string::npos);
  CHECK(html.find("xlink:href='#p0_gpPt0'") != std::string::npos);
  CHECK(html.find("url(#p0_gpclip)") != std::string::npos);
  CHECK(html.find("id='p1_gpPt0'") != std::string::npos);
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("<td class=\"n\">300.2</td>") != std::string::npos);
}

TEST_CASE("checkDocument names the table or plot at fault") {
  Document document = sampleDocument();
  CHECK(checkDocument(document).ok());
  document.sections[0].tables[0].rows[1].pop_back();
  CHECK(checkDocument(document).error() ==
        "report 'sample': table 'systems' row 1 has 3 cells for 4 columns");
  document = sampleDocument();
  document.sections[0].plots[1].series[0].y.pop_back();
  CHECK(checkDocument(document).error() ==
        "report 'sample': plot 'curve' series 'a' has 3 x, 2 y and 0 colour values");
  document = sampleDocument();
  document.sections[0].plots[1].id = "../evil";
  CHECK(!checkDocument(document).ok());
  document = sampleDocument();
  document.sections[0].plots[1].id = "speed";
  CHECK(!checkDocument(document).ok());
}

TEST_CASE("gnuplot scripts carry their data and settings") {
  Document document = sampleDocument();
  std::string bars = gnuplotScript(document.sections[0].plots[0], "speed.svg");
  CHECK(bars.find("set output 'speed.svg'") != std::string::npos);
  CHECK(bars.find("$s0 << EOD\n0 300.25\n1 45.5\nEOD\n") != std::string::npos);
  CHECK(bars.find("set xtics ('lpu' 0, 'gpu' 1)") != std::string::npos);
  CHECK(bars.find("with boxes") != std::string::npos);
  std::string curve = gnuplotScript(document.sections[0].plots[1], "/tmp/it's.svg");
  CHECK(curve.find("set output '/tmp/it''s.svg'") != std::string::npos);
  CHECK(curve.find("set logscale x") != std::string::npos);
  CHECK(curve.find("set logscale y") == std::string::npos);
  CHECK(curve.find("$s1 << EOD\n1 5\n2 6\nEOD\n") != std::string::npos);
  CHECK(curve.find("title 'b'") != std::string::npos);
}

TEST_CASE("writeReport without gnuplot writes md, html, csv, json and scripts") {
  std::filesystem::path dir = freshDirectory("noplot");
  ReportWriteOptions options;
  options.gnuplot = std::nullopt;
  setenv("CONVEYOR_GNUPLOT", "none", 1);
  auto written = writeReport(sampleDocument(), dir.string(), options);
  unsetenv("CONVEYOR_GNUPLOT");
  REQUIRE(written.ok());
  CHECK_FALSE(written->plotsDrawn);
  CHECK(written->plotNote.find("gnuplot is not installed") != std::string::npos);
  for (const char *file : {"sample.md", "sample.html", "sample.json", "sample-systems.csv",
                           "plots/speed.gp", "plots/curve.gp"}) {
    INFO(file);
    CHECK(std::filesystem::exists(dir / file));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "plots/speed.svg"));
  CHECK(readText(dir / "sample.md").find("not drawn (gnuplot is not installed") !=
        std::string::npos);
  CHECK(readText(dir / "sample-systems.csv") == renderCsv(sampleDocument().sections[0].tables[0]));
  // No temporary file is left behind.
  for (const auto &entry : std::filesystem::recursive_directory_iterator(dir)) {
    CHECK(entry.path().string().find(".partial") == std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("writeReport reports a directory it cannot create") {
  std::filesystem::path dir = freshDirectory("blocked");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "file") << "x";
  auto written = writeReport(sampleDocument(), (dir / "file" / "sub").string());
  REQUIRE_FALSE(written.ok());
  CHECK(written.error().find("cannot create the report directory") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("writeReport draws SVG plots when gnuplot is installed") {
  std::optional<std::string> gnuplot = findGnuplot();
  if (!gnuplot) {
    WARN("gnuplot not installed: plot drawing not tested (apt-get install gnuplot-nox)");
    return;
  }
  std::filesystem::path dir = freshDirectory("plots");
  auto written = writeReport(sampleDocument(), dir.string());
  REQUIRE(written.ok());
  CHECK(written->plotsDrawn);
  CHECK(written->plotNote.empty());
  for (const char *id : {"speed", "curve"}) {
    std::string svg = readText(dir / "plots" / (std::string(id) + ".svg"));
    INFO(id);
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
  }
  std::string html = readText(dir / "sample.html");
  CHECK(html.find("<figure>\n<svg") != std::string::npos);
  CHECK(readText(dir / "sample.md").find("![Curve](plots/curve.svg)") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "plots/speed.draw.gp"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a failing gnuplot is reported and the report still written") {
  std::filesystem::path dir = freshDirectory("badplot");
  ReportWriteOptions options;
  options.gnuplot = "/bin/false";
  auto written = writeReport(sampleDocument(), dir.string(), options);
  REQUIRE(written.ok());
  CHECK_FALSE(written->plotsDrawn);
  CHECK(written->plotNote.find("gnuplot failed: speed: /bin/false") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "sample.html"));
  std::filesystem::remove_all(dir);
}
