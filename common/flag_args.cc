#include "common/flag_args.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov {
namespace {

constexpr int kMaxDepth = 8;

std::string NormalizeFlag(const std::string& arg) {
  size_t start = absl::StartsWith(arg, "--") ? 2 : 1;
  size_t end = arg.find('=');
  if (end == std::string::npos) end = arg.size();
  std::string out = arg;
  for (size_t i = start; i < end; ++i) {
    if (out[i] == '-') out[i] = '_';
  }
  return out;
}

absl::Status Expand(const std::vector<std::string>& args, size_t first, int depth,
                    std::vector<std::string>* out);

absl::Status ExpandFile(const std::string& path, int depth, std::vector<std::string>* out) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flagfile: ", path, ": flagfiles nested deeper than ", kMaxDepth));
  }
  absl::StatusOr<std::string> text = ReadFileToString(path, 1 << 20);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--flagfile: cannot read ", path, ": ", text.status().message()));
  }
  std::vector<std::string> lines;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("--flagfile: ", path, ":", line_number, ": \"", line, "\" is not a flag"));
    }
    lines.emplace_back(line);
  }
  return Expand(lines, 0, depth + 1, out);
}

absl::Status Expand(const std::vector<std::string>& args, size_t first, int depth,
                    std::vector<std::string>* out) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out->insert(out->end(), args.begin() + i, args.end());
      return absl::OkStatus();
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out->push_back(arg);
      continue;
    }
    std::string flag = NormalizeFlag(arg);
    if (flag == "--flagfile" || flag == "-flagfile") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--flagfile: needs a file name");
      PROV_RETURN_IF_ERROR(ExpandFile(args[++i], depth, out));
    } else if (absl::StartsWith(flag, "--flagfile=") || absl::StartsWith(flag, "-flagfile=")) {
      PROV_RETURN_IF_ERROR(ExpandFile(flag.substr(flag.find('=') + 1), depth, out));
    } else {
      out->push_back(std::move(flag));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> NormalizeArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  if (args.empty()) return out;
  out.push_back(args[0]);
  PROV_RETURN_IF_ERROR(Expand(args, 1, 0, &out));
  return out;
}

}  // namespace prov
