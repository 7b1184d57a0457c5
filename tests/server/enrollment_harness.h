// An in-process provd with enrolment on (issue 10 §1), for tests: port 0, real SQLite in `dir`,
// mutual TLS on the main listener, and an enrolment listener whose TLS requests but does not
// require a client certificate. Certificates are made with OpenSSL in the test (TestCa).
//
//   EnrollmentProvd provd(dir.path(), &clock);
//   ASSERT_TRUE(provd.Start().ok());
//   provd.server().enroll_port();  provd.tls_ca().pem();  provd.node_ca().pem();
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/fs.h"
#include "grpcpp/grpcpp.h"
#include "server/provd_server.h"
#include "tests/compliance/test_certs.h"

namespace prov::server::testing {

class EnrollmentProvd {
 public:
  EnrollmentProvd(std::string dir, Clock* clock) : dir_(std::move(dir)), clock_(clock) {}

  absl::Status Start() {
    const prov::testing::TestCa::KeyPair server =
        tls_.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    // The main listener trusts the node CA (enrolled nodes) and the fleet's own CA.
    grpc::SslServerCredentialsOptions main_tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    main_tls.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
    main_tls.pem_root_certs = node_ca_.pem() + tls_.pem();
    grpc::SslServerCredentialsOptions enroll_tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    enroll_tls.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
    enroll_tls.pem_root_certs = main_tls.pem_root_certs;
    ProvdOptions options;
    options.data_dir = dir_ + "/data";
    options.metrics_address = "127.0.0.1:0";
    options.clock = clock_;
    options.credentials = grpc::SslServerCredentials(main_tls);
    options.client_certificates = true;
    options.trust_domain = "prov.test";
    options.enroll_listen_address = "127.0.0.1:0";
    options.enroll_credentials = grpc::SslServerCredentials(enroll_tls);
    options.node_ca_cert_file = dir_ + "/node-ca.pem";
    options.node_ca_key_file = dir_ + "/node-ca.key";
    options.node_cert_ttl = absl::Hours(24);
    if (auto s = WriteFileAtomically(options.node_ca_cert_file, node_ca_.pem()); !s.ok()) return s;
    if (auto s = WriteFileAtomically(options.node_ca_key_file, node_ca_.key_pem()); !s.ok()) {
      return s;
    }
    auto started = ProvdServer::Start(std::move(options));
    if (!started.ok()) return started.status();
    server_ = *std::move(started);
    return absl::OkStatus();
  }

  ProvdServer& server() { return *server_; }
  const prov::testing::TestCa& tls_ca() const { return tls_; }  // signed provd's certificate
  const prov::testing::TestCa& node_ca() const { return node_ca_; }

 private:
  const std::string dir_;
  Clock* const clock_;
  prov::testing::TestCa tls_{"tls-ca"};
  prov::testing::TestCa node_ca_{"node-ca"};
  std::unique_ptr<ProvdServer> server_;
};

}  // namespace prov::server::testing
