// Signed export manifests: every file of an export folder with its SHA-256, chained to the previous
// export's manifest, signed with Ed25519.
//
//   Manifest m;
//   m.export_id = "2026-11-25T00:00:00Z";
//   m.previous_manifest_sha256 = Sha256Hex(previous_manifest_json);   // "" for the first export
//   m.metadata["audit_head_seq"] = "412";
//   absl::Status s = SealExportDir("/exports/2026-11-25", &m, key);   // writes manifest.json/.sig
//
//   ExportCheck check = VerifyExportDir("/exports/2026-11-25", public_key, &previous_json);
//   for (const auto& p : check.problems) std::cout << p << "\n";   // "flags.csv: changed ..."
//
// manifest.json is canonical JSON (sorted keys, files sorted by path, one trailing newline);
// manifest.sig holds the hex Ed25519 signature of manifest.json's exact bytes. Both live in the
// export folder and are not listed in it. Format documented for auditors in docs/export-format.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/integrity/ed25519.h"

namespace prov::integrity {

inline constexpr char kManifestName[] = "manifest.json";
inline constexpr char kSignatureName[] = "manifest.sig";

struct ManifestFile {
  std::string path;    // relative to the export folder, '/'-separated
  std::string sha256;  // hex
  uint64_t bytes = 0;
};

struct Manifest {
  int format_version = 1;
  std::string export_id;
  std::string created_at;                // RFC 3339 UTC
  std::string previous_manifest_sha256;  // "" for the first export in a chain
  std::string signing_public_key;        // hex, filled by SealExportDir
  std::map<std::string, std::string> metadata;
  std::vector<ManifestFile> files;
};

std::string ManifestToJson(const Manifest& manifest);
absl::StatusOr<Manifest> ManifestFromJson(const std::string& json);

// Hashes every regular file under `dir` (recursively, except the manifest and signature), fills
// manifest->files and signing_public_key, writes manifest.json and manifest.sig.
absl::Status SealExportDir(const std::string& dir, Manifest* manifest, const SigningKey& key);

struct ExportCheck {
  bool ok() const { return problems.empty(); }
  Manifest manifest;                  // as read (when readable)
  std::vector<std::string> problems;  // each names the file or check that failed
};

// Checks the signature (against `public_key`, raw 32 bytes), every listed file (missing, changed
// size or digest), files present but not listed, and — when the previous export's manifest.json
// bytes are given — the chain link.
ExportCheck VerifyExportDir(const std::string& dir, const std::string& public_key,
                            const std::string* previous_manifest_json = nullptr);

}  // namespace prov::integrity
