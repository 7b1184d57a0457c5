#include "tests/integration/test_certs.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace prov::testing {

std::string MakeCertificates(const std::string& d) {
  auto run = [](const std::vector<std::string>& argv) -> std::string {
    auto [rc, out] = RunCommand(argv);
    return rc == 0 ? "" : "openssl failed (" + std::to_string(rc) + "): " + out;
  };
  for (const std::string ca : {"ca", "people-ca"}) {
    std::string err = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           d + "/" + ca + ".key", "-out", d + "/" + ca + ".pem", "-days", "2",
                           "-subj", "/CN=prov-test-" + ca});
    if (!err.empty()) return err;
  }
  struct Leaf {
    std::string name, ca, cn, usage, san;
  };
  for (const Leaf& leaf : std::vector<Leaf>{
           {"server", "ca", "prov-test-server", "serverAuth", "DNS:localhost,IP:127.0.0.1"},
           {"client", "ca", "prov-test-client", "clientAuth",
            "URI:spiffe://prov.test/node/mtls-node"},
           {"person", "people-ca", "prov-test-person", "clientAuth", ""},
           {"impostor", "ca", "prov-test-person", "clientAuth", ""}}) {
    std::string ext = d + "/" + leaf.name + ".ext";
    FILE* f = std::fopen(ext.c_str(), "w");
    std::fprintf(f, "basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s", leaf.usage.c_str(),
                 leaf.san.empty() ? "" : ("subjectAltName=" + leaf.san + "\n").c_str());
    std::fclose(f);
    std::string err = run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           d + "/" + leaf.name + ".key", "-out", d + "/" + leaf.name + ".csr",
                           "-subj", "/CN=" + leaf.cn});
    if (!err.empty()) return err;
    err = run({"openssl", "x509", "-req", "-in", d + "/" + leaf.name + ".csr", "-CA",
               d + "/" + leaf.ca + ".pem", "-CAkey", d + "/" + leaf.ca + ".key", "-CAcreateserial",
               "-out", d + "/" + leaf.name + ".pem", "-days", "2", "-extfile", ext});
    if (!err.empty()) return err;
  }
  // gRPC verifies client certificates against --tls-client-ca: a bundle of both CAs.
  std::ofstream bundle(d + "/client-cas.pem");
  for (const std::string ca : {"ca", "people-ca"}) {
    std::ifstream in(d + "/" + ca + ".pem");
    bundle << in.rdbuf();
  }
  return "";
}

}  // namespace prov::testing
