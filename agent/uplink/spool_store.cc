#include "agent/uplink/spool_store.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::agent {
namespace {

constexpr absl::string_view kPrefix = "report-";
constexpr absl::string_view kSuffix = ".pb";
constexpr absl::string_view kStateFile = "state";

}  // namespace

std::string FileSpoolStore::FileName(uint64_t id) {
  return absl::StrFormat("%s%020u%s", kPrefix, id, kSuffix);
}

absl::StatusOr<std::unique_ptr<FileSpoolStore>> FileSpoolStore::Open(std::string dir, bool fsync) {
  if (dir.empty()) return absl::InvalidArgumentError("spool directory is empty");
  PROV_RETURN_IF_ERROR(CreateDirectories(dir));
  PROV_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir));
  for (const std::string& name : names) {
    if (absl::StrContains(name, ".tmp.")) ::unlink(JoinPath(dir, name).c_str());
  }
  return std::unique_ptr<FileSpoolStore>(new FileSpoolStore(std::move(dir), fsync));
}

absl::StatusOr<std::vector<uint64_t>> FileSpoolStore::List() {
  PROV_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir_));
  std::vector<uint64_t> ids;
  for (absl::string_view name : names) {
    if (!absl::ConsumePrefix(&name, kPrefix) || !absl::ConsumeSuffix(&name, kSuffix)) continue;
    uint64_t id = 0;
    if (absl::SimpleAtoi(name, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::Status FileSpoolStore::Write(uint64_t id, absl::string_view data) {
  return WriteFileAtomically(JoinPath(dir_, FileName(id)), data, fsync_);
}

absl::StatusOr<std::string> FileSpoolStore::Read(uint64_t id) {
  return ReadFileToString(JoinPath(dir_, FileName(id)), 64u << 20);
}

absl::Status FileSpoolStore::Remove(uint64_t id) {
  std::string path = JoinPath(dir_, FileName(id));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("unlink ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> FileSpoolStore::ReadState() {
  auto text = ReadFileToString(JoinPath(dir_, std::string(kStateFile)), 1u << 20);
  if (absl::IsNotFound(text.status())) return std::optional<std::string>();
  if (!text.ok()) return text.status();
  return std::optional<std::string>(*std::move(text));
}

absl::Status FileSpoolStore::WriteState(absl::string_view data) {
  return WriteFileAtomically(JoinPath(dir_, std::string(kStateFile)), data, fsync_);
}

}  // namespace prov::agent
