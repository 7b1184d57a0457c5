#include "common/integrity/manifest.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/integrity/json_integer.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace prov::integrity {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Listed {
  std::string path;
  uint64_t bytes;
};

absl::StatusOr<std::vector<Listed>> ListFiles(const std::string& dir) {
  std::vector<Listed> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), dir).generic_string();
    if (rel == kManifestName || rel == kSignatureName) continue;
    out.push_back({rel, static_cast<uint64_t>(it->file_size())});
  }
  std::sort(out.begin(), out.end(),
            [](const Listed& a, const Listed& b) { return a.path < b.path; });
  return out;
}

// Exports can be large: hashed in pieces, never read whole.
absl::StatusOr<std::string> FileSha256(const std::string& path) { return Sha256FileHex(path); }

}  // namespace

std::string ManifestToJson(const Manifest& m) {
  json files = json::array();
  std::vector<ManifestFile> sorted = m.files;
  std::sort(sorted.begin(), sorted.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.path < b.path; });
  for (const ManifestFile& f : sorted) {
    files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
  }
  json j = {{"format_version", m.format_version},
            {"export_id", m.export_id},
            {"created_at", m.created_at},
            {"previous_manifest_sha256", m.previous_manifest_sha256},
            {"signing_public_key", m.signing_public_key},
            {"metadata", m.metadata},
            {"files", files}};
  return j.dump(2) + "\n";  // nlohmann's object type sorts keys: canonical
}

absl::StatusOr<Manifest> ManifestFromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("manifest.json: not a JSON object");
  }
  Manifest m;
  try {
    m.format_version = IntegerAt<int>(j, "format_version");
    m.export_id = j.at("export_id").get<std::string>();
    m.created_at = j.at("created_at").get<std::string>();
    m.previous_manifest_sha256 = j.at("previous_manifest_sha256").get<std::string>();
    m.signing_public_key = j.at("signing_public_key").get<std::string>();
    m.metadata = j.at("metadata").get<std::map<std::string, std::string>>();
    for (const json& f : j.at("files")) {
      m.files.push_back({f.at("path").get<std::string>(), f.at("sha256").get<std::string>(),
                         IntegerAt<uint64_t>(f, "bytes")});
    }
  } catch (const std::exception& e) {  // nlohmann's and IntegerAt's exceptions stop here
    return absl::InvalidArgumentError(absl::StrCat("manifest.json: ", e.what()));
  }
  if (m.format_version != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest.json: format_version ", m.format_version, " is not supported"));
  }
  return m;
}

absl::Status SealExportDir(const std::string& dir, Manifest* manifest, const SigningKey& key) {
  PROV_ASSIGN_OR_RETURN(std::vector<Listed> listed, ListFiles(dir));
  manifest->files.clear();
  for (const Listed& l : listed) {
    PROV_ASSIGN_OR_RETURN(std::string digest, FileSha256(JoinPath(dir, l.path)));
    manifest->files.push_back({l.path, std::move(digest), l.bytes});
  }
  manifest->signing_public_key = absl::BytesToHexString(key.public_key);
  std::string text = ManifestToJson(*manifest);
  PROV_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(dir, kManifestName), text, true));
  return WriteFileAtomically(JoinPath(dir, kSignatureName), SignDetached(key, text) + "\n", true);
}

ExportCheck VerifyExportDir(const std::string& dir, const std::string& public_key,
                            const std::string* previous_manifest_json) {
  ExportCheck check;
  auto text = ReadFileToString(JoinPath(dir, kManifestName));
  if (!text.ok()) {
    check.problems.push_back(absl::StrCat(kManifestName, ": missing or unreadable"));
    return check;
  }
  auto sig = ReadFileToString(JoinPath(dir, kSignatureName), 1024);
  if (!sig.ok()) {
    check.problems.push_back(absl::StrCat(kSignatureName, ": missing or unreadable"));
  } else if (!VerifyDetached(public_key, *text, *sig)) {
    check.problems.push_back(
        absl::StrCat(kSignatureName,
                     ": signature does not verify with the given public key: the manifest "
                     "was changed or signed by another key"));
  }
  auto manifest = ManifestFromJson(*text);
  if (!manifest.ok()) {
    check.problems.emplace_back(manifest.status().message());
    return check;
  }
  check.manifest = *manifest;
  if (previous_manifest_json != nullptr &&
      manifest->previous_manifest_sha256 != Sha256Hex(*previous_manifest_json)) {
    check.problems.push_back(
        "chain: previous_manifest_sha256 does not match the previous export's manifest.json");
  }
  auto listed = ListFiles(dir);
  if (!listed.ok()) {
    check.problems.emplace_back(listed.status().message());
    return check;
  }
  std::map<std::string, uint64_t> present;
  for (const Listed& l : *listed) present[l.path] = l.bytes;
  for (const ManifestFile& f : manifest->files) {
    auto it = present.find(f.path);
    if (it == present.end()) {
      check.problems.push_back(absl::StrCat(f.path, ": listed in the manifest but missing"));
      continue;
    }
    auto digest = FileSha256(JoinPath(dir, f.path));
    if (!digest.ok()) {
      check.problems.push_back(absl::StrCat(f.path, ": unreadable: ", digest.status().message()));
    } else if (*digest != f.sha256 || it->second != f.bytes) {
      check.problems.push_back(absl::StrCat(f.path, ": changed (sha256 ", digest->substr(0, 12),
                                            "..., ", it->second, " bytes; manifest says ",
                                            f.sha256.substr(0, 12), "..., ", f.bytes, " bytes)"));
    }
    present.erase(it);
  }
  for (const auto& [path, bytes] : present) {
    check.problems.push_back(absl::StrCat(path, ": present but not in the manifest: added"));
  }
  return check;
}

}  // namespace prov::integrity
