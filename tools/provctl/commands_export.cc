// provctl: audit exports (ExportService) and their offline verification.
//   export [--out DIR]       run an export now; progress on stderr; with --out, the files too
//   exports list             the exports provd recorded
//   exports key              the public key (an export-signing.pub line)
//   export verify DIR [--public-key FILE|HEX] [--previous DIR]   offline, no server
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/escaping.h"
#include "common/fs.h"
#include "common/integrity/export_check.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_export.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

int Local(const std::string& message) {
  std::fprintf(stderr, "provctl: %s\n", message.c_str());
  return 1;
}

// Writes streamed chunks under out_dir; each file is opened at its first chunk (offset 0).
class FileSink {
 public:
  explicit FileSink(std::string out_dir) : out_dir_(std::move(out_dir)) {}
  absl::Status Add(const ExportFileChunk& c) {
    if (!SafeRelativePath(c.path())) {
      return absl::InvalidArgumentError("provd sent a file path outside the folder: " + c.path());
    }
    const std::string path = JoinPath(out_dir_, c.path());
    auto it = open_.find(c.path());
    if (it == open_.end()) {
      if (c.offset() != 0) return absl::DataLossError(c.path() + ": first chunk not at offset 0");
      const size_t slash = c.path().rfind('/');
      if (slash != std::string::npos) {
        absl::Status made = CreateDirectories(JoinPath(out_dir_, c.path().substr(0, slash)));
        if (!made.ok()) return made;
      }
      it = open_.emplace(c.path(), std::ofstream(path, std::ios::binary | std::ios::trunc)).first;
      if (!it->second) return absl::InternalError(path + ": cannot be created");
    }
    it->second.write(c.data().data(), static_cast<std::streamsize>(c.data().size()));
    if (!it->second) return absl::InternalError(path + ": write failed");
    if (c.last()) {
      it->second.close();
      if (!it->second) return absl::InternalError(path + ": close failed");
      open_.erase(it);
      ++files_;
    }
    return absl::OkStatus();
  }
  int files() const { return files_; }
  bool complete() const { return open_.empty(); }

 private:
  std::string out_dir_;
  std::map<std::string, std::ofstream> open_;
  int files_ = 0;
};

int Export(const Invocation& inv, ExportService::Stub& stub) {
  if (!inv.out_dir.empty()) {
    if (PathExists(inv.out_dir)) {
      auto entries = ListDirectory(inv.out_dir);
      if (!entries.ok() || !entries->empty()) {
        return Local("--out " + inv.out_dir + ": exists and is not an empty folder");
      }
    } else if (absl::Status made = CreateDirectories(inv.out_dir); !made.ok()) {
      return Local("--out: " + std::string(made.message()));
    }
  }
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  ExportRequest req;
  req.set_send_files(!inv.out_dir.empty());
  auto reader = stub.Export(&ctx, req);
  FileSink sink(inv.out_dir);
  ExportEvent e;
  ExportSummary summary;
  bool done = false;
  absl::Status local;
  while (reader->Read(&e)) {
    if (e.has_progress()) {
      std::cerr << ProgressLine(e.progress()) << std::flush;
    } else if (e.has_file() && local.ok()) {
      local = sink.Add(e.file());
    } else if (e.has_done()) {
      summary = e.done();
      done = true;
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail(inv, s);
  if (!local.ok()) return Local(std::string(local.message()));
  if (!done) return Local("provd ended the export stream without a summary");
  if (!inv.out_dir.empty()) {
    if (!sink.complete()) return Local("the export stream ended inside a file");
    // What arrived is what provd sealed: check it against its own key at once.
    integrity::ExportVerification v =
        integrity::VerifyExport(inv.out_dir, absl::HexStringToBytes(summary.signing_public_key()));
    if (!v.ok()) {
      std::cerr << VerificationText(inv.out_dir, v);
      return Local("the downloaded export does not verify");
    }
  }
  return Emit(inv, summary, ExportSummaryText(summary, inv.out_dir));
}

}  // namespace

int RunExportVerify(const Invocation& inv) {
  std::string key;
  if (!inv.public_key.empty()) {
    auto parsed = ParsePublicKeyArg(inv.public_key);
    if (!parsed.ok()) return Local(std::string(parsed.status().message()));
    key = *parsed;
  }
  integrity::ExportVerification v = integrity::VerifyExport(
      inv.file, key, inv.previous_dir.empty() ? nullptr : &inv.previous_dir);
  std::cout << VerificationText(inv.file, v);
  return v.ok() ? 0 : 1;
}

int RunExport(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = ExportService::NewStub(channel);
  if (inv.command == "export") return Export(inv, *stub);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "exports key") {
    GetSigningKeyResponse resp;
    grpc::Status s = stub->GetSigningKey(&ctx, GetSigningKeyRequest(), &resp);
    return s.ok() ? Emit(inv, resp, resp.key_file_line() + "\n") : Fail(inv, s);
  }
  ListExportsResponse resp;
  grpc::Status s = stub->ListExports(&ctx, ListExportsRequest(), &resp);
  return s.ok() ? Emit(inv, resp, ExportsTable(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
