// The dashboard's static files (dashboards/web/), embedded into provd at build time
// (server/web/CMakeLists.txt), or read from a folder during development (provd --web-assets).
//
//   WebAssets assets;                          // embedded
//   WebAssets dev("/src/dashboards/web");      // from disk, re-read on every request
//   std::optional<WebAsset> a = assets.Find("app.js");   // content_type "text/javascript"
//
// Paths are relative ("index.html", "js/app.js"); anything with "..", a leading "/", a
// backslash or characters outside [A-Za-z0-9._/-] is never found. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace prov::server::web {

struct WebAsset {
  std::string content_type;
  std::string body;
};

class WebAssets {
 public:
  WebAssets() = default;
  explicit WebAssets(std::string dir) : dir_(std::move(dir)) {}

  std::optional<WebAsset> Find(const std::string& path) const;
  static std::vector<std::string> EmbeddedPaths();
  static std::string ContentTypeFor(const std::string& path);

 private:
  std::string dir_;  // empty: embedded
};

}  // namespace prov::server::web
