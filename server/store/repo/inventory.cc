#include "server/store/repo/inventory.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/store/repo/audit_log.h"

namespace prov::server {
namespace {

constexpr char kTokenSeparator = '\x1f';

}  // namespace

std::string InventoryImportAuditPayload(const InventoryImport& import,
                                        const InventoryImportSummary& summary) {
  return AuditPayload({{"inventory_version", absl::StrCat(summary.version)},
                       {"source", import.source},
                       {"accepted", absl::StrCat(summary.accepted)},
                       {"added", absl::StrCat(summary.added)},
                       {"changed", absl::StrCat(summary.changed)},
                       {"rows_refused", absl::StrCat(import.errors)},
                       {"content_sha256", import.content_digest}});
}

std::string EncodePageToken(const InventoryPageKey& key) {
  return absl::BytesToHexString(absl::StrCat(key.rack, std::string(1, kTokenSeparator), key.node_id,
                                             std::string(1, kTokenSeparator), key.serial));
}

absl::StatusOr<InventoryPageKey> DecodePageToken(const std::string& token) {
  auto refuse = [] {
    return absl::InvalidArgumentError(
        "page_token: not a token this provd gave (pass next_page_token unchanged)");
  };
  if (token.size() % 2 != 0 || token.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return refuse();
  }
  std::vector<std::string> parts = absl::StrSplit(absl::HexStringToBytes(token), kTokenSeparator);
  if (parts.size() != 3 || parts[2].empty()) return refuse();
  return InventoryPageKey{parts[0], parts[1], parts[2]};
}

}  // namespace prov::server
