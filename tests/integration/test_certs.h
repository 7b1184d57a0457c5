// Test certificates made with the openssl CLI, for the integration tests that run provd with
// mutual TLS (mtls_test, haproxy_test).
//
//   if (RunCommand({"openssl", "version"}).first != 0) GTEST_SKIP() << "openssl CLI not found";
//   ASSERT_EQ(MakeCertificates(dir.path()), "");
//   // provd: --tls-cert server.pem --tls-key server.key --tls-client-ca client-cas.pem
//   // agent: ca.pem, client.pem / client.key (node "mtls-node")
#pragma once

#include <string>

namespace prov::testing {

// Writes into directory `d`; returns an error text, empty on success. Two CAs: ca (agents, and
// provd's server certificate) and people-ca (people); client-cas.pem bundles both. Leaves:
// server (localhost, 127.0.0.1); client: an agent's node certificate (SPIFFE URI SAN
// spiffe://prov.test/node/mtls-node) whose CN prov-test-client is also a person's name in
// mtls_test's cert-roles; person: a person's certificate from the people CA; impostor: the
// agents' CA signing a certificate with the person's CN.
std::string MakeCertificates(const std::string& d);

}  // namespace prov::testing
