// TableWriter: one exported table as a pair of files, `<name>.csv` (RFC 4180, header row, CRLF
// only inside quoted fields is never produced: rows end with "\n") and `<name>.jsonl` (one JSON
// object per line), written row by row through a buffered file so no table is held in memory.
//
//   PROV_ASSIGN_OR_RETURN(auto t, TableWriter::Open(dir, "flags", {"flag_id", "rule", ...}));
//   PROV_RETURN_IF_ERROR(t->Row({"F-000001", "screening_hit", ...}, json_object_text));
//   PROV_RETURN_IF_ERROR(t->Close());     // flush + fsync both files
//   t->rows();                            // rows written
//
// A table may also be JSON Lines only (csv_columns empty) or CSV only (Row's json empty and
// jsonl=false). Not thread-safe (one export runs on one thread).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/csv.h"

namespace prov::server {

class TableWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TableWriter>> Open(const std::string& dir,
                                                           const std::string& name,
                                                           std::vector<std::string> csv_columns,
                                                           bool jsonl = true);
  ~TableWriter();
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  // `fields` must have as many values as there are CSV columns (when there is a CSV file);
  // `json` is one JSON object without newlines (when there is a JSONL file).
  absl::Status Row(const std::vector<std::string>& fields, absl::string_view json);
  absl::Status Close();
  uint64_t rows() const { return rows_; }

 private:
  TableWriter() = default;
  absl::Status Put(std::FILE* f, const std::string& path, absl::string_view data);

  std::string csv_path_, jsonl_path_;
  std::FILE* csv_ = nullptr;
  std::FILE* jsonl_ = nullptr;
  size_t columns_ = 0;
  uint64_t rows_ = 0;
};

}  // namespace prov::server
