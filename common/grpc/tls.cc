#include "common/grpc/tls.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/grpc/tls_stager.h"
#include "common/status_macros.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

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

// Server credentials whose certificate rotates: gRPC's file watcher over the stager's checked
// copies (tls_stager.h). The source files were read and checked once already, so a wrong path
// fails at start with its flag's name.
std::shared_ptr<grpc::ServerCredentials> RotatingServerCredentials(
    const TlsFileStager& stager, bool with_client_ca,
    grpc_ssl_client_certificate_request_type request) {
  const int64_t seconds = std::clamp<int64_t>(absl::ToInt64Seconds(stager.check_every()), 1, 10);
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      stager.identity_file(), stager.identity_file(),
      with_client_ca ? stager.ca_file() : std::string(), static_cast<unsigned int>(seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (with_client_ca) options.watch_root_certs();
  options.set_cert_request_type(request);
  return grpc::experimental::TlsServerCredentials(options);
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
    const TlsFiles& files, bool insecure, bool require_client_cert, const TlsFileStager* rotation) {
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
  if (rotation != nullptr) {
    if (require_client_cert && rotation->ca_file().empty()) {
      return absl::InvalidArgumentError("the TLS rotation of --tls-cert has no --tls-client-ca");
    }
    return RotatingServerCredentials(*rotation, require_client_cert,
                                     opts.client_certificate_request);
  }
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeEnrollServerCredentials(
    const TlsFiles& files, const TlsFileStager* rotation) {
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
  if (rotation != nullptr) {
    if (rotation->ca_file().empty()) {
      return absl::InvalidArgumentError("the TLS rotation of --tls-cert has no --tls-client-ca");
    }
    return RotatingServerCredentials(*rotation, /*with_client_ca=*/true,
                                     GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::SslServerCredentials(opts);
}

}  // namespace prov
