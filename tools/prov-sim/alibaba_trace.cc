#include "tools/prov-sim/alibaba_trace.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::sim {

absl::StatusOr<std::vector<JobShape>> ParseAlibabaPods(const std::string& csv,
                                                       const std::string& source) {
  std::vector<absl::string_view> lines = absl::StrSplit(csv, '\n', absl::SkipWhitespace());
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty file"));
  absl::flat_hash_map<std::string, size_t> col;
  std::vector<absl::string_view> header = absl::StrSplit(lines[0], ',');
  for (size_t i = 0; i < header.size(); ++i) {
    col[std::string(absl::StripAsciiWhitespace(header[i]))] = i;
  }
  for (const char* need : {"name", "num_gpu", "gpu_milli", "creation_time", "deletion_time"}) {
    if (!col.contains(need)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": header lacks column '", need,
                       "' (want the alibaba_gpu_v2023_pods.csv format)"));
    }
  }
  std::vector<JobShape> shapes;
  for (size_t l = 1; l < lines.size(); ++l) {
    std::vector<absl::string_view> f = absl::StrSplit(absl::StripAsciiWhitespace(lines[l]), ',');
    if (f.size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", l + 1, ": ", f.size(), " columns, header has ", header.size()));
    }
    auto number = [&](const char* name, int64_t* out) -> absl::Status {
      absl::string_view v = f[col[name]];
      if (!absl::SimpleAtoi(v, out) || *out < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ":", l + 1, ": ", name, ": not a count: '", v, "'"));
      }
      return absl::OkStatus();
    };
    int64_t gpus = 0, milli = 0, created = 0, deleted = 0;
    for (auto [name, out] :
         {std::pair{"num_gpu", &gpus}, std::pair{"gpu_milli", &milli},
          std::pair{"creation_time", &created}, std::pair{"deletion_time", &deleted}}) {
      if (absl::Status s = number(name, out); !s.ok()) return s;
    }
    if (gpus == 0) continue;  // CPU-only pod
    JobShape shape;
    shape.name = std::string(f[col["name"]]);
    shape.num_gpu = static_cast<uint32_t>(std::min<int64_t>(gpus, 64));
    shape.gpu_milli = static_cast<uint32_t>(std::clamp<int64_t>(milli, 1, 1000));
    shape.lifetime_s = std::max<int64_t>(0, deleted - created);
    shapes.push_back(std::move(shape));
  }
  if (shapes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no pod with num_gpu > 0"));
  }
  return shapes;
}

absl::StatusOr<std::vector<JobShape>> ReadAlibabaPods(const std::string& path) {
  if (!PathExists(path)) {
    return absl::NotFoundError(absl::StrCat(
        "--alibaba-pods: ", path,
        " is missing (it is alibaba_gpu_v2023_pods.csv from ../shared/data/traces; see "
        "../shared/data/README.md). Run without --alibaba-pods for synthetic job shapes."));
  }
  auto text = ReadFileToString(path, 256u << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--alibaba-pods: ", text.status().message()));
  }
  return ParseAlibabaPods(*text, path);
}

}  // namespace prov::sim
