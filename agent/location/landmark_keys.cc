#include "agent/location/landmark_keys.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/location/probe_wire.h"

namespace prov::agent {

absl::StatusOr<std::string> ParseEd25519PublicText(absl::string_view text) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  if (parts.size() != 2 || parts[0] != "ed25519-public") {
    return absl::InvalidArgumentError("key must be \"ed25519-public <64 hex digits>\"");
  }
  if (parts[1].size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("key has ", parts[1].size(), " hex digits (must be 64)"));
  }
  for (char c : parts[1]) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("key is not hexadecimal");
    }
  }
  return absl::HexStringToBytes(parts[1]);
}

absl::StatusOr<LandmarkKeys> ParseLandmarkKeys(absl::string_view text) {
  LandmarkKeys keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t space = line.find_first_of(" \t");
    auto fail = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", what));
    };
    if (space == absl::string_view::npos) {
      return fail("expected \"<landmark_id> ed25519-public <64 hex digits>\"");
    }
    const std::string id(line.substr(0, space));
    if (auto s = location::ValidateWireId(id, "landmark id"); !s.ok()) return fail(s.message());
    auto key = ParseEd25519PublicText(line.substr(space + 1));
    if (!key.ok()) return fail(key.status().message());
    if (!keys.emplace(id, std::move(*key)).second) {
      return fail(absl::StrCat("landmark '", id, "' listed twice"));
    }
  }
  return keys;
}

absl::StatusOr<LandmarkKeys> LoadLandmarkKeys(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  auto keys = ParseLandmarkKeys(*text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace prov::agent
