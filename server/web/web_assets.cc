#include "server/web/web_assets.h"

#include <cstddef>
#include <string_view>

#include "absl/strings/match.h"
#include "common/fs.h"
#include "server/web/web_assets_table.h"

namespace prov::server::web {
namespace {

bool SafePath(const std::string& path) {
  if (path.empty() || path.front() == '/' || absl::StrContains(path, "..")) return false;
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string WebAssets::ContentTypeFor(const std::string& path) {
  if (absl::EndsWith(path, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(path, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(path, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(path, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(path, ".png")) return "image/png";
  if (absl::EndsWith(path, ".json")) return "application/json";
  return "application/octet-stream";
}

std::optional<WebAsset> WebAssets::Find(const std::string& path) const {
  if (!SafePath(path)) return std::nullopt;
  if (!dir_.empty()) {
    auto text = ReadFileToString(JoinPath(dir_, path));
    if (!text.ok()) return std::nullopt;
    return WebAsset{ContentTypeFor(path), *std::move(text)};
  }
  for (size_t i = 0; i < kEmbeddedWebAssetCount; ++i) {
    const EmbeddedWebAsset& a = kEmbeddedWebAssets[i];
    if (path == a.path) return WebAsset{ContentTypeFor(path), std::string(a.data, a.size)};
  }
  return std::nullopt;
}

std::vector<std::string> WebAssets::EmbeddedPaths() {
  std::vector<std::string> out;
  for (size_t i = 0; i < kEmbeddedWebAssetCount; ++i) out.emplace_back(kEmbeddedWebAssets[i].path);
  return out;
}

}  // namespace prov::server::web
