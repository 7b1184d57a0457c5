#include "tests/fuzz/fuzz_input.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace prov::fuzz {
namespace {

// Removes every scratch directory when the process exits normally.
struct ScratchDirs {
  std::map<std::string, std::string> dirs;
  ~ScratchDirs() {
    std::error_code ec;
    for (const auto& [tag, dir] : dirs) std::filesystem::remove_all(dir, ec);
  }
};

ScratchDirs& Dirs() {
  static ScratchDirs* dirs = new ScratchDirs();
  static std::unique_ptr<ScratchDirs> owner(dirs);
  return *dirs;
}

}  // namespace

std::vector<std::string> SplitParts(const uint8_t* data, size_t size, size_t count) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string sep = kPartSeparator;
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < count) {
    const size_t at = input.find(sep, start);
    if (at == std::string::npos) break;
    parts.push_back(input.substr(start, at - start));
    start = at + sep.size();
  }
  parts.push_back(start <= input.size() ? input.substr(start) : std::string());
  parts.resize(count);
  return parts;
}

const std::string& ScratchDir(const std::string& tag) {
  auto& dirs = Dirs().dirs;
  auto it = dirs.find(tag);
  if (it != dirs.end()) return it->second;
  const char* tmp = getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/prov_fuzz_" + tag + "_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("fuzz: mkdtemp");
    abort();
  }
  return dirs.emplace(tag, tmpl).first->second;
}

void WriteFileOrDie(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    abort();
  }
}

}  // namespace prov::fuzz
