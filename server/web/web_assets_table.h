// The table of embedded dashboard files; its definition is generated at configure time from the
// files under dashboards/web/ (server/web/CMakeLists.txt). Use WebAssets (web_assets.h).
#pragma once

#include <cstddef>

namespace prov::server::web {

struct EmbeddedWebAsset {
  const char* path;  // relative to dashboards/web/
  const char* data;
  std::size_t size;
};

extern const EmbeddedWebAsset kEmbeddedWebAssets[];
extern const std::size_t kEmbeddedWebAssetCount;

}  // namespace prov::server::web
