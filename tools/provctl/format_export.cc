#include "tools/provctl/format_export.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "tools/provctl/format.h"

namespace prov::provctl {
namespace {

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

std::string Short(const std::string& digest) { return digest.empty() ? "-" : digest.substr(0, 16); }

}  // namespace

std::string ExportsTable(const provenance::v1::ListExportsResponse& response) {
  if (response.exports().empty()) return "no exports yet\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : response.exports()) {
    rows.push_back({e.export_id(), FormatTime(e.created_at()), e.trigger(), absl::StrCat(e.files()),
                    absl::StrCat(e.bytes()), Short(e.manifest_sha256()),
                    Short(e.previous_manifest_sha256()), e.server_path()});
  }
  return RenderTable(
      {"EXPORT", "CREATED", "TRIGGER", "FILES", "BYTES", "MANIFEST SHA256", "PREVIOUS", "PATH"},
      rows, {false, false, false, true, true, false, false, false});
}

std::string ProgressLine(const provenance::v1::ExportProgress& p) {
  return absl::StrCat("export: ", p.stage(), " ", p.done(), "/", p.total(), "\n");
}

std::string ExportSummaryText(const provenance::v1::ExportSummary& s, const std::string& out_dir) {
  std::string out =
      absl::StrCat("export ", s.export_id(), " (", s.trigger(), ", ", FormatTime(s.created_at()),
                   "): ", s.files(), " files, ", s.bytes(), " bytes\n");
  absl::StrAppend(&out, "  on provd's host:   ", s.server_path(), "\n");
  if (!out_dir.empty()) absl::StrAppend(&out, "  downloaded to:     ", out_dir, "\n");
  absl::StrAppend(&out, "  manifest sha256:   ", s.manifest_sha256(), "\n");
  absl::StrAppend(&out, "  previous manifest: ",
                  s.previous_manifest_sha256().empty() ? "- (first export of the chain)"
                                                       : s.previous_manifest_sha256(),
                  "\n");
  absl::StrAppend(&out, "  signing key:       ed25519-public ", s.signing_public_key(), "\n");
  return out;
}

std::string VerificationText(const std::string& dir, const integrity::ExportVerification& v) {
  std::string out;
  for (const std::string& p : v.problems) absl::StrAppend(&out, "PROBLEM ", p, "\n");
  for (const std::string& n : v.notes) absl::StrAppend(&out, "note: ", n, "\n");
  const std::string id = v.manifest.export_id.empty() ? dir : v.manifest.export_id;
  if (!v.ok()) {
    absl::StrAppend(&out, "export ", id, ": ", v.problems.size(),
                    v.problems.size() == 1 ? " problem" : " problems", "\n");
    return out;
  }
  auto head = v.manifest.metadata.find("audit_head_seq");
  absl::StrAppend(&out, "export ", id, ": OK: signature valid, ", v.manifest.files.size(),
                  " files match the manifest, audit log intact (", v.audit_entries,
                  " entries, head ", head == v.manifest.metadata.end() ? "-" : head->second, ")",
                  v.chain_checked ? ", chained to the previous export" : "", "\n");
  return out;
}

absl::StatusOr<std::string> ParsePublicKeyArg(const std::string& value) {
  std::string text = value;
  if (!IsHex64(value)) {
    auto file = ReadFileToString(value, 4096);
    if (!file.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--public-key: '", value, "' is neither 64 hex characters nor a readable file"));
    }
    std::vector<std::string> words =
        absl::StrSplit(*file, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
    text = words.empty() ? "" : words.back();
    if (words.size() > 2 || (words.size() == 2 && words[0] != "ed25519-public") || !IsHex64(text)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--public-key: ", value, " does not hold 'ed25519-public <64 hex>'"));
    }
  }
  return absl::HexStringToBytes(text);
}

bool SafeRelativePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace prov::provctl
