// CsvReader: RFC 4180 CSV (quoted fields, "" escapes, newlines inside quotes, CRLF), streaming over
// an in-memory buffer, reporting the line each record starts on for error messages.
//
//   CsvReader reader(text);
//   std::vector<std::string> fields;
//   while (true) {
//     absl::StatusOr<bool> more = reader.Next(&fields);   // false at end of input
//     if (!more.ok()) { /* "line 12: unterminated quoted field" */ }
//     if (!*more) break;
//     ... reader.record_line() ...
//   }
//   out += CsvField("Acme, Inc.");   // writing: "\"Acme, Inc.\""
//
// Also reads TAB-separated files whose fields are quoted (the BIS Denied Persons List) with
// delimiter '\t'. Not thread-safe; the text must outlive the reader.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov {

// One CSV field for writing, quoted when it holds a comma, quote, CR or LF (quotes doubled), so
// CsvReader reads it back unchanged.
std::string CsvField(absl::string_view value);

class CsvReader {
 public:
  explicit CsvReader(absl::string_view text, char delimiter = ',');

  // Reads the next record into *fields. Returns false at end of input, an error naming the line
  // for malformed input (a quote inside an unquoted field, an unterminated quoted field).
  absl::StatusOr<bool> Next(std::vector<std::string>* fields);
  // 1-based line on which the last record returned by Next() started.
  int record_line() const { return record_line_; }

 private:
  absl::string_view text_;
  char delimiter_;
  size_t pos_ = 0;
  int line_ = 1;
  int record_line_ = 0;
};

}  // namespace prov
