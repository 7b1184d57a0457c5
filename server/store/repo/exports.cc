#include "server/store/repo/exports.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/store/repo/export_snapshot.h"

namespace prov::server {

absl::Status CheckExportRecord(const ExportRecord& row, const PreviousExport& previous) {
  if (row.export_id.empty()) return absl::InvalidArgumentError("export record: export_id is empty");
  if (row.trigger.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("export record ", row.export_id, ": trigger is empty"));
  }
  if (row.manifest_sha256.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("export record ", row.export_id, ": manifest_sha256 is not 64 hex digits"));
  }
  if (row.previous_manifest_sha256 != previous.manifest_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("export record ", row.export_id, ": previous_manifest_sha256 \"",
                     row.previous_manifest_sha256, "\" is not the newest export's \"",
                     previous.manifest_sha256, "\""));
  }
  return absl::OkStatus();
}

std::string SqliteParams(absl::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && absl::ascii_isdigit(static_cast<unsigned char>(out[i + 1]))) out[i] = '?';
  }
  return out;
}

}  // namespace prov::server
