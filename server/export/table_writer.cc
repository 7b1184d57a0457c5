#include "server/export/table_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/csv.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<std::FILE*> OpenFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wxe");  // never overwrite: the folder is fresh
  if (f == nullptr) return Errno("create", path);
  std::setvbuf(f, nullptr, _IOFBF, kBufferBytes);
  return f;
}

absl::Status CloseFile(std::FILE*& f, const std::string& path) {
  if (f == nullptr) return absl::OkStatus();
  absl::Status s;
  if (std::fflush(f) != 0) s = Errno("write", path);
  if (s.ok() && ::fsync(::fileno(f)) != 0) s = Errno("fsync", path);
  if (std::fclose(f) != 0 && s.ok()) s = Errno("close", path);
  f = nullptr;
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TableWriter>> TableWriter::Open(const std::string& dir,
                                                               const std::string& name,
                                                               std::vector<std::string> csv_columns,
                                                               bool jsonl) {
  std::unique_ptr<TableWriter> t(new TableWriter());
  t->columns_ = csv_columns.size();
  if (!csv_columns.empty()) {
    t->csv_path_ = JoinPath(dir, name + ".csv");
    PROV_ASSIGN_OR_RETURN(t->csv_, OpenFile(t->csv_path_));
    std::vector<std::string> header;
    for (const std::string& c : csv_columns) header.push_back(CsvField(c));
    PROV_RETURN_IF_ERROR(
        t->Put(t->csv_, t->csv_path_, absl::StrCat(absl::StrJoin(header, ","), "\n")));
  }
  if (jsonl) {
    t->jsonl_path_ = JoinPath(dir, name + ".jsonl");
    PROV_ASSIGN_OR_RETURN(t->jsonl_, OpenFile(t->jsonl_path_));
  }
  return t;
}

TableWriter::~TableWriter() {
  if (csv_ != nullptr) std::fclose(csv_);
  if (jsonl_ != nullptr) std::fclose(jsonl_);
}

absl::Status TableWriter::Put(std::FILE* f, const std::string& path, absl::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), f) != data.size()) return Errno("write", path);
  return absl::OkStatus();
}

absl::Status TableWriter::Row(const std::vector<std::string>& fields, absl::string_view json) {
  if (csv_ != nullptr) {
    if (fields.size() != columns_) {
      return absl::InternalError(
          absl::StrCat(csv_path_, ": row has ", fields.size(), " fields, the header ", columns_));
    }
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) line += ',';
      line += CsvField(fields[i]);
    }
    line += '\n';
    PROV_RETURN_IF_ERROR(Put(csv_, csv_path_, line));
  }
  if (jsonl_ != nullptr) {
    if (json.find('\n') != absl::string_view::npos) {
      return absl::InternalError(absl::StrCat(jsonl_path_, ": a JSON line holds a newline"));
    }
    PROV_RETURN_IF_ERROR(Put(jsonl_, jsonl_path_, json));
    PROV_RETURN_IF_ERROR(Put(jsonl_, jsonl_path_, "\n"));
  }
  ++rows_;
  return absl::OkStatus();
}

absl::Status TableWriter::Close() {
  absl::Status a = CloseFile(csv_, csv_path_);
  absl::Status b = CloseFile(jsonl_, jsonl_path_);
  return a.ok() ? b : a;
}

}  // namespace prov::server
