// The US Consolidated Screening List (trade.gov consolidated.csv), parsed into entries.
//
//   std::vector<RowError> errors;
//   absl::StatusOr<CslList> list = ParseConsolidatedScreeningList(text, "consolidated.csv",
//   &errors); list->version;   // "csl-sha256:3f2a...": record it with every screening decision
//
// Both published layouts are read by column name: the 28-column form (source, entity_number, ...)
// and the 29-column form with a leading `_id` and every value quoted. A malformed row (wrong field
// count, empty name) is skipped and reported by line and field in `row_errors`; the file as a whole
// fails only when it is not a CSL at all (no header with source and name columns) or its CSV is
// broken (an unterminated quote), because then no row after it can be trusted.
//
// Also whole-file failures: bytes that are not valid UTF-8 (the error names line, column and byte;
// transcode first, see server/identity/transcode.h), more than options.max_rows data rows, and
// options.cancelled() turning true (CANCELLED). Field limits (a row over one is a row error naming
// the field and the limit): name and each alt_names entry at most kMaxCslNameBytes, every other
// field at most kMaxCslFieldBytes, at most kMaxCslAltNames aliases.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::screening {

struct CslEntry {
  std::string id;      // `_id` where present, else entity_number, else "line:<n>"
  std::string source;  // "Entity List (EL) - Bureau of Industry and Security"
  std::string type;    // "Entity", "Individual", "" ...
  std::string programs;
  std::string name;
  std::vector<std::string> alt_names;  // alt_names split on ';'
  std::string addresses;
  std::string nationalities;
  std::string citizenships;
  std::string license_policy;
  std::string source_list_url;
  // Secondary identifiers, where the list carries them (mostly persons on the SDN-derived lists):
  std::vector<std::string> dates_of_birth;  // "1955", "1965-07-01"; split on ';'
  std::vector<std::string> countries;       // ISO alpha-2 from nationalities, citizenships and the
                                            // last part of each address ("Gaza City, Gaza, PS")
  std::string ids;                          // "Passport, 836238033, KP; ..." as published
  // The day the listing ends ("2024-11-16", ISO, as published in end_date; empty: open-ended).
  // The Denied Persons List's denial orders expire (most of its rows have); such an entry no
  // longer restricts anyone (Screener: ScreenerOptions::as_of).
  std::string end_date;
  // SHA-256 (16 hex) of the row's fields: a clearance of a match against this entry holds until
  // the entry itself changes, whatever else changes in the list.
  std::string content_hash;
  int line = 0;  // line of the record in the file
};

struct CslList {
  std::string version;  // "csl-sha256:<16 hex>" of the file's bytes
  int columns = 0;      // 28 or 29
  std::vector<CslEntry> entries;
};

struct RowError {
  int line;
  std::string message;  // "line 12: field name: empty"
};

inline constexpr size_t kMaxCslNameBytes = 1024;
inline constexpr size_t kMaxCslFieldBytes = 32768;
inline constexpr size_t kMaxCslAltNames = 1024;

struct CslParseOptions {
  size_t max_rows = 1000000;
  // Polled every 256 rows; when it returns true parsing stops with CANCELLED.
  std::function<bool()> cancelled;
};

absl::StatusOr<CslList> ParseConsolidatedScreeningList(absl::string_view text,
                                                       absl::string_view source_name,
                                                       std::vector<RowError>* row_errors,
                                                       const CslParseOptions& options = {});

}  // namespace prov::screening
