// The report model shared by `conveyor compare` and `conveyor explore`: a document of
// sections holding tables of numbers and plots of those numbers, rendered to Markdown, a
// self-contained HTML page, CSV (one file per table) and JSON (every number, plotted or not).
//
// The model holds data only; ReportRender.h renders it and Gnuplot.h draws its plots, so a
// test can build a document by hand and check every rendering without running anything.
#pragma once

#include "conveyor/Support/Result.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::reports {

/// One table cell: a number (NaN renders as "-" in text and null in JSON) or a string.
/// (Two members rather than std::variant: GCC 12 warns falsely on variant<double, string>.)
class Cell {
public:
  Cell() = default;
  Cell(double number) : numberValue(number) {}
  Cell(int number) : numberValue(double(number)) {}
  Cell(uint32_t number) : numberValue(double(number)) {}
  Cell(uint64_t number) : numberValue(double(number)) {}
  Cell(std::string text) : textValue(std::move(text)), holdsText(true) {}
  Cell(const char *text) : textValue(text), holdsText(true) {}

  bool isNumber() const { return !holdsText; }
  double number() const { return numberValue; }
  const std::string &text() const { return textValue; }

private:
  double numberValue = std::nan("");
  std::string textValue;
  bool holdsText = false;
};

/// How a column's numbers read in Markdown and HTML (CSV and JSON keep full precision).
enum class NumberFormat : uint8_t {
  Auto,         // 4 significant digits, plain notation where it stays short
  Integer,      // rounded to a whole number with thousands separators
  Fixed1,       // one decimal
  Fixed2,       // two decimals
  Percent,      // a fraction shown as a percentage with one decimal
  SignedPercent // already a percentage, shown with its sign: "+12.3%"
};

struct Column {
  std::string key;    // CSV header and JSON member name: lower_snake_case with the unit
  std::string header; // Markdown/HTML header, with the unit in words
  NumberFormat format = NumberFormat::Auto;
};

struct Table {
  std::string id;    // file stem of its CSV: "<report>-<id>.csv"
  std::string title; // shown above it
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows; // each row has one cell per column
};

enum class PlotStyle : uint8_t {
  LinesPoints, // one line per series, x sorted as given
  Points,      // scatter; with `colorValues`, coloured by that value (a third dimension)
  Bars,        // one bar per category (series[0] only); x = category index
};

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  /// Points style only: a value per point mapped to colour (e.g. chip count); empty = none.
  std::vector<double> colorValues;
};

struct Plot {
  std::string id; // file stem: plots/<id>.gp and plots/<id>.svg
  std::string title, xLabel, yLabel;
  std::string colorLabel; // title of the colour scale when a series has colorValues
  bool logX = false, logY = false;
  PlotStyle style = PlotStyle::LinesPoints;
  std::vector<std::string> categories; // Bars: the label under each bar
  std::vector<PlotSeries> series;
};

struct Section {
  std::string heading;
  std::vector<std::string> paragraphs; // Markdown inline syntax (`code`, **bold**) allowed
  std::vector<Table> tables;
  std::vector<Plot> plots;
};

struct Document {
  std::string name;  // file stem: "compare" -> compare.md, compare.html, compare.json
  std::string title; // first heading
  std::vector<std::string> summary; // paragraphs under the title
  std::vector<Section> sections;
};

/// Checks the document's shape: every row as wide as its table, unique ids, safe file
/// stems ([A-Za-z0-9_.-]), series with as many y as x (and colour values, if any). The
/// message names the table or plot at fault.
Status checkDocument(const Document &document);

} // namespace conveyor::reports
