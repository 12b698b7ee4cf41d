// Markdown, HTML, CSV and JSON renderings of a report Document.
#include "conveyor/Reports/ReportRender.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace conveyor::reports {
namespace {

bool isSafeStem(const std::string &stem) {
  if (stem.empty()) {
    return false;
  }
  for (char c : stem) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return stem.front() != '.';
}

std::string withThousands(double rounded) {
  std::string digits = fmt::format("{:.0f}", std::fabs(rounded));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return rounded < 0 && digits != "0" ? "-" + out : out;
}

/// Full precision: the shortest text that reads back to the same double.
std::string exactNumber(double value) {
  return std::isfinite(value) ? fmt::format("{}", value) : std::string();
}

std::string cellText(const Cell &cell, NumberFormat format) {
  return cell.isNumber() ? formatNumber(cell.number(), format) : cell.text();
}

std::string markdownCell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/// The few inline Markdown forms the reports use, as HTML: `code` and **bold**.
std::string inlineHtml(const std::string &text) {
  std::string escaped = escapeHtml(text);
  std::string out;
  bool code = false, bold = false;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && escaped.compare(i, 2, "**") == 0) {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += escaped[i];
    }
  }
  out += code ? "</code>" : "";
  out += bold ? "</strong>" : "";
  return out;
}

/// Makes the ids inside one SVG unique on a page that holds several: gnuplot names its
/// markers and clip paths identically in every file.
std::string prefixSvgIds(const std::string &svg, const std::string &prefix) {
  std::string out = svg;
  const std::pair<std::string, std::string> patterns[] = {{"id='", "id='" + prefix},
                                                          {"id=\"", "id=\"" + prefix},
                                                          {"url(#", "url(#" + prefix},
                                                          {"href='#", "href='#" + prefix},
                                                          {"href=\"#", "href=\"#" + prefix}};
  for (const auto &[from, to] : patterns) {
    std::string replaced;
    size_t position = 0;
    while (true) {
      size_t found = out.find(from, position);
      if (found == std::string::npos) {
        replaced.append(out, position, std::string::npos);
        break;
      }
      replaced.append(out, position, found - position);
      replaced += to;
      position = found + from.size();
    }
    out = std::move(replaced);
  }
  return out;
}

/// The `<svg ...>...</svg>` element of an SVG document (drops the XML prolog).
std::string svgElement(const std::string &svg) {
  size_t start = svg.find("<svg");
  return start == std::string::npos ? std::string() : svg.substr(start);
}

std::string plotMissingLine(const Plot &plot, const PlotImages &images,
                            const std::string &documentName) {
  std::string reason =
      images.skippedReason.empty() ? "gnuplot did not draw it" : images.skippedReason;
  return fmt::format("*Plot \"{}\" not drawn ({}); its numbers are in {}.json and "
                     "plots/{}.gp.*",
                     plot.title, reason, documentName, plot.id);
}

} // namespace

Status checkDocument(const Document &document) {
  if (!isSafeStem(document.name)) {
    return makeError(fmt::format("report name '{}' is not a safe file stem (use letters, digits, "
                                 "'-', '_' and '.')",
                                 document.name));
  }
  std::set<std::string> tableIds, plotIds;
  for (const Section &section : document.sections) {
    for (const Table &table : section.tables) {
      if (!isSafeStem(table.id) || !tableIds.insert(table.id).second) {
        return makeError(fmt::format("report '{}': table id '{}' is empty, unsafe as a file "
                                     "stem or used twice",
                                     document.name, table.id));
      }
      for (size_t row = 0; row < table.rows.size(); ++row) {
        if (table.rows[row].size() != table.columns.size()) {
          return makeError(fmt::format("report '{}': table '{}' row {} has {} cells for {} "
                                       "columns",
                                       document.name, table.id, row, table.rows[row].size(),
                                       table.columns.size()));
        }
      }
    }
    for (const Plot &plot : section.plots) {
      if (!isSafeStem(plot.id) || !plotIds.insert(plot.id).second) {
        return makeError(fmt::format("report '{}': plot id '{}' is empty, unsafe as a file "
                                     "stem or used twice",
                                     document.name, plot.id));
      }
      for (const PlotSeries &series : plot.series) {
        if (series.x.size() != series.y.size() ||
            (!series.colorValues.empty() && series.colorValues.size() != series.x.size())) {
          return makeError(fmt::format("report '{}': plot '{}' series '{}' has {} x, {} y and "
                                       "{} colour values",
                                       document.name, plot.id, series.name, series.x.size(),
                                       series.y.size(), series.colorValues.size()));
        }
      }
      if (plot.style == PlotStyle::Bars &&
          (plot.series.size() != 1 || plot.series[0].x.size() != plot.categories.size())) {
        return makeError(fmt::format("report '{}': bar plot '{}' needs one series with one "
                                     "value per category",
                                     document.name, plot.id));
      }
    }
  }
  return Status::success();
}

std::string formatNumber(double value, NumberFormat format) {
  if (!std::isfinite(value)) {
    return "-";
  }
  switch (format) {
  case NumberFormat::Integer:
    return withThousands(std::round(value));
  case NumberFormat::Fixed1:
    return fmt::format("{:.1f}", value);
  case NumberFormat::Fixed2:
    return fmt::format("{:.2f}", value);
  case NumberFormat::Percent:
    return fmt::format("{:.1f}%", value * 100);
  case NumberFormat::SignedPercent:
    return fmt::format("{:+.1f}%", value);
  case NumberFormat::Auto:
    break;
  }
  double magnitude = std::fabs(value);
  if (magnitude == 0) {
    return "0";
  }
  if (magnitude >= 1e4 && magnitude < 1e9) {
    return withThousands(std::round(value));
  }
  if (magnitude >= 1e-3 && magnitude < 1e4) {
    // 4 significant digits, trailing zeros kept short.
    int decimals = std::max(0, 3 - int(std::floor(std::log10(magnitude))));
    return fmt::format("{:.{}f}", value, decimals);
  }
  return fmt::format("{:.3e}", value);
}

std::string escapeHtml(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string renderMarkdown(const Document &document, const PlotImages &images) {
  std::string out = "# " + document.title + "\n\n";
  for (const std::string &paragraph : document.summary) {
    out += paragraph + "\n\n";
  }
  for (const Section &section : document.sections) {
    out += "## " + section.heading + "\n\n";
    for (const std::string &paragraph : section.paragraphs) {
      out += paragraph + "\n\n";
    }
    for (const Table &table : section.tables) {
      if (!table.title.empty()) {
        out += "**" + table.title + "**\n\n";
      }
      out += "|";
      for (const Column &column : table.columns) {
        out += ' ';
        out += markdownCell(column.header) + " |";
      }
      out += "\n|";
      for (const Column &column : table.columns) {
        (void)column;
        out += "---|";
      }
      out += "\n";
      for (const std::vector<Cell> &row : table.rows) {
        out += "|";
        for (size_t i = 0; i < row.size(); ++i) {
          out += ' ';
          out += markdownCell(cellText(row[i], table.columns[i].format)) + " |";
        }
        out += "\n";
      }
      out += fmt::format("\n(CSV: `{}-{}.csv`)\n\n", document.name, table.id);
    }
    for (const Plot &plot : section.plots) {
      if (images.svgById.count(plot.id)) {
        out += fmt::format("![{}](plots/{}.svg)\n\n", plot.title, plot.id);
      } else {
        out += plotMissingLine(plot, images, document.name) + "\n\n";
      }
    }
  }
  return out;
}

std::string renderHtml(const Document &document, const PlotImages &images) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      escapeHtml(document.title) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
      "color:#222}\n"
      "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}\n"
      "th,td{border:1px solid #bbb;padding:0.25em 0.6em}\n"
      "th{background:#eee;text-align:left}\ntd.n{text-align:right;"
      "font-variant-numeric:tabular-nums}\n"
      "figure{margin:1em 0}\nfigure svg{max-width:100%;height:auto}\n"
      "code{background:#f4f4f4;padding:0 0.2em}\n.note{color:#777;font-style:italic}\n"
      "</style>\n</head>\n<body>\n";
  out += "<h1>" + escapeHtml(document.title) + "</h1>\n";
  for (const std::string &paragraph : document.summary) {
    out += "<p>" + inlineHtml(paragraph) + "</p>\n";
  }
  size_t plotNumber = 0;
  for (const Section &section : document.sections) {
    out += "<h2>" + escapeHtml(section.heading) + "</h2>\n";
    for (const std::string &paragraph : section.paragraphs) {
      out += "<p>" + inlineHtml(paragraph) + "</p>\n";
    }
    for (const Table &table : section.tables) {
      if (!table.title.empty()) {
        out += "<h3>" + escapeHtml(table.title) + "</h3>\n";
      }
      out += "<table>\n<tr>";
      for (const Column &column : table.columns) {
        out += "<th>" + escapeHtml(column.header) + "</th>";
      }
      out += "</tr>\n";
      for (const std::vector<Cell> &row : table.rows) {
        out += "<tr>";
        for (size_t i = 0; i < row.size(); ++i) {
          out += row[i].isNumber() ? "<td class=\"n\">" : "<td>";
          out += inlineHtml(cellText(row[i], table.columns[i].format)) + "</td>";
        }
        out += "</tr>\n";
      }
      out += "</table>\n";
    }
    for (const Plot &plot : section.plots) {
      auto svg = images.svgById.find(plot.id);
      if (svg != images.svgById.end()) {
        out += "<figure>\n" +
               prefixSvgIds(svgElement(svg->second), fmt::format("p{}_", plotNumber++)) +
               "\n</figure>\n";
      } else {
        out += "<p class=\"note\">" + escapeHtml(plotMissingLine(plot, images, document.name)) +
               "</p>\n";
      }
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

std::string renderCsv(const Table &table) {
  auto field = [](const std::string &text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) {
      return text;
    }
    std::string quoted = "\"";
    for (char c : text) {
      quoted += c;
      if (c == '"') {
        quoted += '"';
      }
    }
    return quoted + "\"";
  };
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    out += i ? "," : "";
    out += field(table.columns[i].key);
  }
  out += "\n";
  for (const std::vector<Cell> &row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += i ? "," : "";
      out += (row[i].isNumber() ? exactNumber(row[i].number()) : field(row[i].text()));
    }
    out += "\n";
  }
  return out;
}

std::string renderJson(const Document &document) {
  std::string out = "{\n  \"report\": " + jsonString(document.name) +
                    ",\n  \"title\": " + jsonString(document.title) + ",\n  \"tables\": {";
  bool firstTable = true;
  for (const Section &section : document.sections) {
    for (const Table &table : section.tables) {
      out += firstTable ? "\n" : ",\n";
      firstTable = false;
      out += "    " + jsonString(table.id) + ": [";
      for (size_t row = 0; row < table.rows.size(); ++row) {
        out += row ? ",\n      {" : "\n      {";
        for (size_t i = 0; i < table.columns.size(); ++i) {
          const Cell &cell = table.rows[row][i];
          out += i ? ", " : "";
          out += jsonString(table.columns[i].key) + ": " +
                 (cell.isNumber() ? jsonNumber(cell.number()) : jsonString(cell.text()));
        }
        out += "}";
      }
      out += table.rows.empty() ? "]" : "\n    ]";
    }
  }
  out += firstTable ? "},\n  \"plots\": {" : "\n  },\n  \"plots\": {";
  bool firstPlot = true;
  for (const Section &section : document.sections) {
    for (const Plot &plot : section.plots) {
      out += firstPlot ? "\n" : ",\n";
      firstPlot = false;
      out += "    " + jsonString(plot.id) + ": {\"title\": " + jsonString(plot.title) +
             ", \"x\": " + jsonString(plot.xLabel) + ", \"y\": " + jsonString(plot.yLabel);
      if (!plot.categories.empty()) {
        out += ", \"categories\": [";
        for (size_t i = 0; i < plot.categories.size(); ++i) {
          out += i ? ", " : "";
          out += jsonString(plot.categories[i]);
        }
        out += "]";
      }
      out += ", \"series\": [";
      for (size_t s = 0; s < plot.series.size(); ++s) {
        const PlotSeries &series = plot.series[s];
        out += (s ? ",\n        {" : "\n        {") + std::string("\"name\": ") +
               jsonString(series.name) + ", \"points\": [";
        for (size_t i = 0; i < series.x.size(); ++i) {
          out += (i ? ", [" : "[") + jsonNumber(series.x[i]) + ", " + jsonNumber(series.y[i]);
          if (!series.colorValues.empty()) {
            out += ", " + jsonNumber(series.colorValues[i]);
          }
          out += "]";
        }
        out += "]}";
      }
      out += plot.series.empty() ? "]}" : "\n      ]}";
    }
  }
  out += firstPlot ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string jsonNumber(double value) {
  return std::isfinite(value) ? fmt::format("{}", value) : std::string("null");
}

} // namespace conveyor::reports
