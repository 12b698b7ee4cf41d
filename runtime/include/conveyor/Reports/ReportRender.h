// Renderings of a report Document: Markdown, a self-contained HTML page (plots inline as
// SVG), CSV per table and JSON of everything. Pure functions of their inputs, so identical
// documents give byte-identical files.
#pragma once

#include "conveyor/Reports/ReportDocument.h"

#include <map>
#include <string>

namespace conveyor::reports {

/// A number as Markdown and HTML show it; NaN and infinities as "-".
std::string formatNumber(double value, NumberFormat format);

/// What became of each plot: its SVG text when gnuplot drew it, or why it was not drawn.
struct PlotImages {
  std::map<std::string, std::string> svgById; // plot id -> SVG document text
  std::string skippedReason;                  // set when plots were not drawn at all
};

/// Markdown: tables as pipe tables, plots as links to plots/<id>.svg (or a line saying why
/// they are missing and where their numbers are).
std::string renderMarkdown(const Document &document, const PlotImages &images);
/// One HTML page with no external reference: inline CSS, tables, each plot's SVG inline.
std::string renderHtml(const Document &document, const PlotImages &images);
/// RFC 4180 CSV: a header of column keys, then one line per row; numbers at full precision
/// (shortest text that reads back to the same double), NaN as an empty field.
std::string renderCsv(const Table &table);
/// Every table (as arrays of objects keyed by column key) and every plot's series.
std::string renderJson(const Document &document);

/// Escapes text for HTML element content and attribute values.
std::string escapeHtml(const std::string &text);

/// `text` as a JSON string literal, quotes included (newline as \n, other control
/// characters as \u00XX).
std::string jsonString(const std::string &text);
/// A number as JSON: the shortest text that reads back to the same double; NaN and
/// infinities as null.
std::string jsonNumber(double value);

} // namespace conveyor::reports
