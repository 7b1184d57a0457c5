#include "common/grpc/tls.h"

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace prov {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  auto text = ReadFileToString(path, 1u << 20);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", text.status().message()));
  }
  if (text->find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " is not a PEM file"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeClientCredentials(
    const TlsFiles& files, bool insecure) {
  if (insecure) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  if (!files.ca_file.empty()) {
    PROV_ASSIGN_OR_RETURN(opts.pem_root_certs, ReadPem(files.ca_file, "--tls-ca"));
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!files.cert_file.empty()) {
    PROV_ASSIGN_OR_RETURN(opts.pem_cert_chain, ReadPem(files.cert_file, "--tls-cert"));
    PROV_ASSIGN_OR_RETURN(opts.pem_private_key, ReadPem(files.key_file, "--tls-key"));
  }
  return grpc::SslCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool insecure, bool require_client_cert) {
  if (insecure) return grpc::InsecureServerCredentials();
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs --tls-cert and --tls-key (or --insecure for plain text, testing only)");
  }
  grpc::SslServerCredentialsOptions opts(
      require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  PROV_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(files.cert_file, "--tls-cert"));
  PROV_ASSIGN_OR_RETURN(pair.private_key, ReadPem(files.key_file, "--tls-key"));
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  if (require_client_cert) {
    if (files.ca_file.empty()) {
      return absl::InvalidArgumentError("mutual TLS needs --tls-client-ca");
    }
    PROV_ASSIGN_OR_RETURN(opts.pem_root_certs, ReadPem(files.ca_file, "--tls-client-ca"));
  }
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeEnrollServerCredentials(
    const TlsFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty() || files.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--enroll-listen needs TLS: --tls-cert, --tls-key and --tls-client-ca");
  }
  grpc::SslServerCredentialsOptions opts(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  PROV_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(files.cert_file, "--tls-cert"));
  PROV_ASSIGN_OR_RETURN(pair.private_key, ReadPem(files.key_file, "--tls-key"));
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  PROV_ASSIGN_OR_RETURN(opts.pem_root_certs, ReadPem(files.ca_file, "--tls-client-ca"));
  return grpc::SslServerCredentials(opts);
}

}  // namespace prov
