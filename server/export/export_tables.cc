#include "server/export/export_tables.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_json.h"
#include "common/status_macros.h"
#include "server/export/table_writer.h"

namespace prov::server::export_internal {
namespace {
constexpr uint64_t kProgressEvery = 10000;  // rows between progress reports
}  // namespace

void StageContext::Report(const std::string& stage, uint64_t done, uint64_t total) const {
  if (progress == nullptr || !*progress) return;
  provenance::v1::ExportProgress p;
  p.set_stage(stage);
  p.set_done(done);
  p.set_total(total);
  (*progress)(p);
}

std::string TimeText(int64_t time_us) {
  if (time_us == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMicros(time_us),
                          absl::UTCTimeZone());
}

std::string NumberText(double value) { return nlohmann::json(value).dump(); }

nlohmann::json ProtoObject(const google::protobuf::Message& message) {
  return nlohmann::json::parse(ToJson(message, /*pretty=*/false), nullptr,
                               /*allow_exceptions=*/false);
}

nlohmann::json FlatObject(const std::vector<std::string>& columns,
                          const std::vector<std::string>& csv, std::initializer_list<int> numbers) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < columns.size() && i < csv.size(); ++i) j[columns[i]] = csv[i];
  for (int i : numbers) {
    if (i < 0 || static_cast<size_t>(i) >= csv.size()) continue;
    nlohmann::json n = nlohmann::json::parse(csv[i], nullptr, /*allow_exceptions=*/false);
    j[columns[i]] = n.is_number() ? n : nlohmann::json(nullptr);
  }
  return j;
}

std::string JsonLine(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status ParseStored(const std::string& blob, const std::string& table, const std::string& key,
                         google::protobuf::Message* message) {
  if (!message->ParseFromString(blob)) {
    return absl::DataLossError(absl::StrCat(table, " row ", key, ": stored ",
                                            message->GetDescriptor()->name(), " does not parse"));
  }
  return absl::OkStatus();
}

absl::Status RunStage(StageContext& ctx, const std::string& stage, const TableSpec& table,
                      const std::string& count_sql, const std::string& select_sql,
                      const RowFn& row) {
  uint64_t total = 0;
  {
    PROV_ASSIGN_OR_RETURN(auto count, ctx.snapshot.Query(count_sql));
    PROV_ASSIGN_OR_RETURN(bool has, count->Next());
    if (has) total = static_cast<uint64_t>(count->Int64(0));
  }
  if (total > 0) ctx.Report(stage, 0, total);
  PROV_ASSIGN_OR_RETURN(auto out,
                        TableWriter::Open(ctx.dir, table.name, table.columns, table.jsonl));
  PROV_ASSIGN_OR_RETURN(auto st, ctx.snapshot.Query(select_sql));
  std::vector<std::string> csv;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool has, st->Next());
    if (!has) break;
    csv.clear();
    nlohmann::json json = nlohmann::json::object();
    PROV_RETURN_IF_ERROR(row(*st, &csv, &json));
    PROV_RETURN_IF_ERROR(out->Row(csv, table.jsonl ? JsonLine(json) : ""));
    if (out->rows() % kProgressEvery == 0) ctx.Report(stage, out->rows(), total);
  }
  PROV_RETURN_IF_ERROR(out->Close());
  ctx.rows[table.name] = out->rows();
  ctx.Report(stage, out->rows(), std::max(total, out->rows()));
  return absl::OkStatus();
}

}  // namespace prov::server::export_internal
