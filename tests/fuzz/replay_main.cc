// Standalone driver for the release build: replays every file of the corpus directories (or
// files) named on the command line through the target's LLVMFuzzerTestOneInput, once each, in
// name order. A crash or sanitizer report fails the run like it would under libFuzzer; a target
// returning non-zero is reported too. Under the `fuzz` preset libFuzzer supplies main() instead.
//
//   fuzz_kyc tests/fuzz/corpus/kyc      # "fuzz_kyc: replayed 5 inputs"
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (std::filesystem::is_directory(argv[i], ec)) {
      for (const auto& e : std::filesystem::directory_iterator(argv[i])) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(argv[i], ec)) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "%s: %s is neither a file nor a directory\n", argv[0], argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs to replay\n", argv[0]);
    return 2;
  }
  int failures = 0;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) != 0) {
      std::fprintf(stderr, "%s: %s: target returned non-zero\n", argv[0], path.c_str());
      ++failures;
    }
  }
  std::printf("%s: replayed %zu inputs\n", argv[0], files.size());
  return failures == 0 ? 0 : 1;
}
