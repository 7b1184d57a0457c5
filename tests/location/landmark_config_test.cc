#include "tools/prov-landmark/landmark_config.h"

#include <gtest/gtest.h>

namespace prov::landmark {
namespace {

TEST(LandmarkConfigTest, ParsesTheDocumentedExample) {
  auto c = ParseLandmarkConfig(R"(
id: lm-fra-1
key_file: /etc/prov-landmark/lm-fra-1.key
udp_listen: "0.0.0.0:7701"
answer_timeout_ms: 500
provd:
  address: provd.example:7443
  tls_ca: /etc/prov-landmark/ca.pem
  tls_cert: /etc/prov-landmark/lm.pem
  tls_key: /etc/prov-landmark/lm.key
  token_file: /etc/prov-landmark/token
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id, "lm-fra-1");
  EXPECT_EQ(c->state_file, "/etc/prov-landmark/lm-fra-1.key.state");
  EXPECT_EQ(c->udp_listen, "0.0.0.0:7701");
  EXPECT_EQ(c->probe_bind, "0.0.0.0:0");
  EXPECT_EQ(c->answer_timeout, absl::Milliseconds(500));
  EXPECT_EQ(c->provd_address, "provd.example:7443");
  EXPECT_EQ(c->tls_cert, "/etc/prov-landmark/lm.pem");
  EXPECT_EQ(c->token_file, "/etc/prov-landmark/token");
  EXPECT_FALSE(c->insecure);
}

TEST(LandmarkConfigTest, ErrorsNameTheKey) {
  auto expect_error = [](const std::string& yaml, const std::string& want) {
    auto c = ParseLandmarkConfig(yaml);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status();
  };
  const std::string base = "key_file: k\nprovd: {address: a:1, tls_ca: ca.pem}\n";
  expect_error(base, "'id' is required");
  expect_error("id: lm-1\n" + base + "tls_ca: x\n", "unknown key 'tls_ca'");
  expect_error("id: lm-1\nkey_file: k\nprovd: {address: a:1, tsl_ca: x}\n",
               "unknown key 'provd.tsl_ca'");
  expect_error("id: lm-1\nkey_file: k\nprovd: {address: a:1}\n", "'provd.tls_ca' is required");
  expect_error("id: lm 1\n" + base, "'id'");
  expect_error("id: lm:1\n" + base, "may not contain ':'");
  expect_error("id: lm-1\n" + base + "answer_timeout_ms: 0\n", "1..10000");
  expect_error("id: lm-1\nkey_file: k\nprovd: {address: a:1, tls_ca: c, tls_cert: x}\n",
               "go together");
  // UDP addresses: numeric only (finding 12), the host name named in the error.
  expect_error("id: lm-1\n" + base + "udp_listen: \"lm.example:7701\"\n",
               "'udp_listen': address 'lm.example:7701': host 'lm.example' is not a numeric");
  expect_error("id: lm-1\n" + base + "probe_bind: \"localhost:0\"\n", "'probe_bind'");
  expect_error("id: lm-1\n" + base + "udp_listen: \"::1:7701\"\n", "[addr]:port");
  expect_error("id: [unclosed\n", "YAML line ");
  expect_error("- a\n- b\n", "must be a YAML map");
}

TEST(LandmarkConfigTest, AcceptsIPv4AndIPv6Literals) {
  const std::string base = "id: lm-1\nkey_file: k\nprovd: {address: a:1, tls_ca: ca.pem}\n";
  for (const std::string& listen : {"0.0.0.0:7701", "10.1.2.3:7701", "[::]:7701", "[::1]:7701",
                                    "[2001:db8::5]:7701", ":7701"}) {
    auto c = ParseLandmarkConfig(base + "udp_listen: \"" + listen + "\"\nprobe_bind: \"" +
                                 (listen[0] == '[' ? "[::]:0" : "0.0.0.0:0") + "\"\n");
    ASSERT_TRUE(c.ok()) << listen << ": " << c.status();
    EXPECT_EQ(c->udp_listen, listen);
  }
}

TEST(LandmarkConfigTest, LoadNamesTheFile) {
  auto c = LoadLandmarkConfig("/nonexistent/lm.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/lm.yaml"), std::string::npos);
}

}  // namespace
}  // namespace prov::landmark
