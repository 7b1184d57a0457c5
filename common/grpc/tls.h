// gRPC credentials from PEM files, shared by prov-agent, provctl, prov-sim (clients) and provd.
//
//   TlsFiles files{.ca_file = "ca.pem", .cert_file = "agent.pem", .key_file = "agent.key"};
//   auto creds = prov::MakeClientCredentials(files, /*insecure=*/false);   // mTLS when cert+key
//   set auto server_creds = prov::MakeServerCredentials(server_files, false,
//   /*require_client_cert=*/true);
//
// Plain text is only ever used when the caller passes insecure=true (an explicit flag).
//
// Certificate rotation (server side): given a TlsFileStager (tls_stager.h) over the same files,
// the server credentials are gRPC's TlsServerCredentials over a FileWatcherCertificateProvider
// that reads the stager's checked copies (every min(check_every, 10 s)), so a rotated key and
// certificate are served to new handshakes without a restart and a half-written rotation is never
// loaded; connections already open keep theirs. Without one, the files are read once, at start.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace prov {

class TlsFileStager;

struct TlsFiles {
  std::string ca_file;    // client: CA that signed the server; server: CA for client certificates
  std::string cert_file;  // own certificate chain (PEM)
  std::string key_file;   // own private key (PEM)
};

// Errors name the file and flag that is missing or unreadable.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeClientCredentials(
    const TlsFiles& files, bool insecure);
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool insecure, bool require_client_cert,
    const TlsFileStager* rotation = nullptr);
// provd's enrolment listener: server TLS that requests a client certificate but does not require
// one (a new node has none yet; a renewing node presents its current one, which must verify
// against files.ca_file). INVALID_ARGUMENT naming the missing file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeEnrollServerCredentials(
    const TlsFiles& files, const TlsFileStager* rotation = nullptr);

}  // namespace prov
