// PgArray: a PostgreSQL array literal built element by element, sent as ONE text parameter, so
// that one statement writes many rows (`INSERT ... SELECT ... FROM unnest($1::bigint[],
// $2::text[], ...)`): the multi-row writes of the PostgreSQL ingest repository (pg_ingest.h).
//
//   PgArray nodes, boots;
//   for (const PlannedStream& s : plan.streams) { nodes.Add(s.node); boots.AddText(s.boot_id); }
//   conn.Query("INSERT INTO t SELECT * FROM unnest($1::bigint[], $2::text[])",
//              {nodes.Finish(), boots.Finish()});
//
// Elements: integers, doubles (17 significant digits: the same double comes back; NaN and the
// infinities by name), text (double-quoted, `"` and `\` escaped) and bytes (bytea hex input,
// `\x...`, for a `bytea[]` cast). A text element holding a NUL byte cannot be sent (PostgreSQL
// text cannot hold one): PgConn::Query refuses the whole parameter (INVALID_ARGUMENT).
// Reuse: Clear() keeps the buffer. Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace prov::server {

class PgArray {
 public:
  void Add(int64_t v);
  void AddDouble(double v);
  void AddText(absl::string_view v);
  void AddBytes(absl::string_view v);
  size_t size() const { return size_; }
  // The literal, "{...}" ("{}" when empty). The array stays as it is until Clear().
  const std::string& Finish();
  void Clear() {
    text_.clear();
    size_ = 0;
  }

 private:
  void Separator();
  std::string text_;
  std::string finished_;
  size_t size_ = 0;
};

}  // namespace prov::server
