#include "agent/uplink/node_enroller.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/node_key.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "provenance/v1/node_admin.grpc.pb.h"

namespace prov::agent {
namespace {

// The private key file: created 0600 before anything is written to it, fsynced, renamed in place.
absl::Status WriteKeyFile(const std::string& path, const std::string& pem) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  (void)std::remove(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", tmp));
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (ok && done < pem.size()) {
    const ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    (void)std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("writing ", tmp, " failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("renaming ", tmp, " to ", path, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace

NodeEnroller::NodeEnroller(NodeEnrollerOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

TlsFiles NodeEnroller::Files() const {
  return {.ca_file = options_.ca_file,
          .cert_file = absl::StrCat(options_.cert_dir, "/node.crt"),
          .key_file = absl::StrCat(options_.cert_dir, "/node.key")};
}

absl::StatusOr<TlsFiles> NodeEnroller::EnsureCredentials() {
  const TlsFiles files = Files();
  if (PathExists(files.cert_file) && PathExists(files.key_file)) {
    absl::StatusOr<std::string> cert = ReadFileToString(files.cert_file);
    absl::StatusOr<std::string> key = ReadFileToString(files.key_file);
    absl::StatusOr<CertValidity> validity =
        cert.ok() ? ReadCertValidity(*cert) : absl::StatusOr<CertValidity>(cert.status());
    if (validity.ok() && key.ok() && CertMatchesKey(*cert, *key) &&
        clock_.Now() < validity->not_after) {
      renew_at_ = RenewAt(*validity);
      node_id_ = ReadCertCommonName(*cert).value_or("");
      return files;
    }
  }
  if (options_.token_file.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no valid certificate in ", options_.cert_dir,
                                                      " and no --enroll-token-file to enrol with"));
  }
  absl::StatusOr<std::string> token = ReadFileToString(options_.token_file, 4096);
  if (!token.ok()) {
    return absl::Status(token.status().code(),
                        absl::StrCat("--enroll-token-file: ", token.status().message()));
  }
  std::string first_line(absl::StripAsciiWhitespace(token->substr(0, token->find('\n'))));
  if (first_line.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--enroll-token-file ", options_.token_file, ": empty"));
  }
  return Enroll(first_line, nullptr);
}

bool NodeEnroller::RenewDue() const { return renew_at_.has_value() && clock_.Now() >= *renew_at_; }

absl::StatusOr<TlsFiles> NodeEnroller::Renew() {
  const TlsFiles current = Files();
  absl::StatusOr<TlsFiles> renewed = Enroll("", &current);
  if (!renewed.ok()) renew_at_ = clock_.Now() + options_.retry_after;
  return renewed;
}

absl::StatusOr<TlsFiles> NodeEnroller::Enroll(const std::string& token, const TlsFiles* current) {
  PROV_RETURN_IF_ERROR(CreateDirectories(options_.cert_dir));
  ::chmod(options_.cert_dir.c_str(), 0700);
  PROV_ASSIGN_OR_RETURN(std::string key_pem, GenerateNodeKeyPem());
  PROV_ASSIGN_OR_RETURN(std::string csr_pem, MakeCsrPem(key_pem, ""));
  TlsFiles server_only;  // first enrolment: server-auth TLS, no client certificate
  server_only.ca_file = options_.ca_file;
  PROV_ASSIGN_OR_RETURN(auto creds,
                        MakeClientCredentials(current != nullptr ? *current : server_only,
                                              /*insecure=*/false));
  auto stub = provenance::v1::NodeEnrollmentService::NewStub(
      grpc::CreateChannel(options_.enroll_server, creds));
  provenance::v1::EnrollRequest request;
  request.set_token(token);
  request.set_csr_pem(csr_pem);
  provenance::v1::EnrollResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.rpc_timeout));
  grpc::Status status = stub->Enroll(&ctx, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(token.empty() ? "renewal" : "enrolment", " at ",
                                     options_.enroll_server, ": ", status.error_message()));
  }
  PROV_ASSIGN_OR_RETURN(CertValidity validity, ReadCertValidity(response.certificate_pem()));
  if (!CertMatchesKey(response.certificate_pem(), key_pem)) {
    return absl::InternalError("provd returned a certificate for another key");
  }
  const TlsFiles files = Files();
  PROV_RETURN_IF_ERROR(WriteKeyFile(files.key_file, key_pem));
  PROV_RETURN_IF_ERROR(WriteFileAtomically(files.cert_file, response.certificate_pem(), true));
  renew_at_ = RenewAt(validity);
  node_id_ = response.node_id();
  return files;
}

}  // namespace prov::agent
