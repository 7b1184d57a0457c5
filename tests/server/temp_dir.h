// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents at destruction.
//
//   TempDir dir;
//   std::string db = dir.path() + "/provd.db";
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace prov::server::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/provd_test_XXXXXX";
    char* made = mkdtemp(pattern.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace prov::server::testing
