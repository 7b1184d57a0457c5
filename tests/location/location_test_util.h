// Test helpers for the UDP side of location verification: keys, a signed probe, a client socket.
//
//   TestLandmark lm = TestLandmark::Make("lm-1");       // Ed25519 key
//   TestNode node = TestNode::Make();                    // EC P-256 key, DER SPKI
//   std::string probe = lm.Probe("gpu-1", nonce, seq);   // a well-formed signed probe datagram
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/location/answer_signer.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/location/probe_wire.h"
#include "common/location/udp_socket.h"
#include "common/node_key.h"

namespace prov::testing {

struct TestLandmark {
  std::string id;
  integrity::SigningKey key;

  static TestLandmark Make(const std::string& id) {
    auto key = integrity::GenerateSigningKey();
    EXPECT_TRUE(key.ok());
    return TestLandmark{id, *key};
  }
  std::string Probe(const std::string& target, const std::string& nonce, uint64_t seq) const {
    location::ProbeDatagram p{nonce, seq, id, target, {}};
    p.signature =
        location::SignEd25519Raw(key.secret_key, location::ProbeMessage(nonce, id, target, seq));
    return *location::EncodeProbe(p);
  }
  std::unique_ptr<agent::AnswerSigner> Signer() const {
    return std::move(*agent::Ed25519AnswerSigner::FromSecretKey(key.secret_key));
  }
};

struct TestNode {
  std::string key_pem;
  std::string spki;

  static TestNode Make() {
    auto pem = GenerateNodeKeyPem();
    EXPECT_TRUE(pem.ok());
    auto spki = location::PublicKeyDerFromPem(*pem);
    EXPECT_TRUE(spki.ok());
    return TestNode{*pem, *spki};
  }
  std::unique_ptr<agent::AnswerSigner> Signer() const {
    return std::move(*agent::NodeKeyAnswerSigner::FromKeyPem(key_pem));
  }
};

inline location::UdpAddress Loopback() { return *location::ResolveUdpAddress("127.0.0.1:0"); }

inline location::UdpSocket ClientSocket() {
  return std::move(*location::UdpSocket::Bind(Loopback()));
}

inline std::string Nonce(char fill) { return std::string(location::kNonceSize, fill); }

}  // namespace prov::testing
