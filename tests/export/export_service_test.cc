// ExportService over a real gRPC server on 127.0.0.1:0: progress first, then every file in
// chunks of at most 1 MiB that reassemble (offsets, last) into exactly provd's files, then the
// summary; ListExports and GetSigningKey.
#include "server/export/export_service.h"

#include <filesystem>
#include <map>

#include "absl/strings/escaping.h"
#include "grpcpp/grpcpp.h"
#include "server/export/export_metrics.h"
#include "tests/export/export_fixture.h"

namespace prov::server::testing {
namespace {

namespace fs = std::filesystem;
using namespace provenance::v1;

class ExportServiceTest : public ExportFixture {
 protected:
  void SetUp() override {
    ExportFixture::SetUp();
    service_ = std::make_unique<ExportServiceImpl>(*exporter_, nullptr);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = ExportService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::unique_ptr<ExportServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ExportService::Stub> stub_;
  int port_ = 0;
};

TEST_F(ExportServiceTest, StreamsProgressThenFilesInChunksThenTheSummary) {
  Seed(/*usage_hours=*/30000);  // usage_hourly.jsonl and .csv exceed one 1 MiB chunk
  grpc::ClientContext ctx;
  ExportRequest req;
  req.set_send_files(true);
  auto reader = stub_->Export(&ctx, req);
  ExportEvent e;
  std::vector<std::string> order;  // "progress", "file", "done" as they change
  std::map<std::string, std::string> files;
  std::map<std::string, bool> finished;
  size_t max_chunk = 0, chunks = 0;
  ExportSummary summary;
  while (reader->Read(&e)) {
    const std::string kind = e.has_progress() ? "progress" : e.has_file() ? "file" : "done";
    if (order.empty() || order.back() != kind) order.push_back(kind);
    if (e.has_file()) {
      const ExportFileChunk& c = e.file();
      ASSERT_FALSE(finished[c.path()]) << c.path() << ": data after its last chunk";
      EXPECT_EQ(c.offset(), files[c.path()].size()) << c.path();
      files[c.path()] += c.data();
      finished[c.path()] = c.last();
      max_chunk = std::max(max_chunk, c.data().size());
      ++chunks;
    }
    if (e.has_done()) summary = e.done();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(order, (std::vector<std::string>{"progress", "file", "done"}));
  EXPECT_EQ(max_chunk, ExportServiceImpl::kChunkBytes);  // a file spanned several chunks
  EXPECT_GT(chunks, files.size());
  EXPECT_EQ(files.size(), summary.files());
  EXPECT_EQ(summary.trigger(), "request");
  for (const auto& entry : fs::directory_iterator(summary.server_path())) {
    const std::string name = entry.path().filename();
    ASSERT_TRUE(finished[name]) << name;
    EXPECT_EQ(files[name], ReadAll(entry.path())) << name;
  }
  EXPECT_TRUE(files.count("manifest.json") && files.count("manifest.sig"));
}

TEST_F(ExportServiceTest, WithoutFilesOnlyProgressAndSummaryThenListedAndKeyShown) {
  grpc::ClientContext ctx;
  auto reader = stub_->Export(&ctx, ExportRequest());
  ExportEvent e;
  int files = 0;
  ExportSummary summary;
  while (reader->Read(&e)) {
    files += e.has_file();
    if (e.has_done()) summary = e.done();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(files, 0);
  EXPECT_FALSE(summary.export_id().empty());

  grpc::ClientContext list_ctx;
  ListExportsResponse list;
  ASSERT_TRUE(stub_->ListExports(&list_ctx, ListExportsRequest(), &list).ok());
  ASSERT_EQ(list.exports_size(), 1);
  EXPECT_EQ(list.exports(0).manifest_sha256(), summary.manifest_sha256());

  grpc::ClientContext key_ctx;
  GetSigningKeyResponse key;
  ASSERT_TRUE(stub_->GetSigningKey(&key_ctx, GetSigningKeyRequest(), &key).ok());
  EXPECT_EQ(key.public_key(), absl::BytesToHexString(key_.public_key));
  EXPECT_EQ(key.key_file_line(), "ed25519-public " + key.public_key());
}

TEST_F(ExportServiceTest, MetricsCountExportsAndFailures) {
  ExportCollector collector(*exporter_);
  auto value = [&](const std::string& name, const std::string& trigger) -> double {
    for (const auto& f : collector.Collect()) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        if (!trigger.empty() && (m.label.empty() || m.label[0].value != trigger)) continue;
        return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
    return -1;
  };
  EXPECT_EQ(value("prov_exports_total", "schedule"), 0);
  EXPECT_EQ(value("prov_export_last_timestamp_seconds", "schedule"), -1);  // none yet: absent
  Export("schedule");
  EXPECT_EQ(value("prov_exports_total", "schedule"), 1);
  EXPECT_EQ(value("prov_exports_total", "request"), 0);
  EXPECT_EQ(value("prov_export_last_timestamp_seconds", "schedule"),
            absl::ToDoubleSeconds(clock_.Now() - absl::UnixEpoch()));
  EXPECT_GE(value("prov_export_last_duration_seconds", ""), 0);
  EXPECT_EQ(value("prov_export_failures_total", ""), 0);
  Sql("DROP TABLE links");  // the next run cannot read its snapshot
  EXPECT_FALSE(exporter_->Run("request", "token:admin").ok());
  EXPECT_EQ(value("prov_export_failures_total", ""), 1);
}

}  // namespace
}  // namespace prov::server::testing
