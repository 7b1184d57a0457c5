// The agent's procfs parsers (agent/collect): the text of files customers' processes and the
// driver control (/proc/driver/nvidia/gpus/*/information, /proc/<pid>/{stat,status,cmdline,
// environ}, /proc/<pid>/net/tcp{,6}), a NETLINK_SOCK_DIAG reply, and the operator's node files
// (/etc/passwd, --account-map, --attribution-chain). Every parser sees the same bytes.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/collect/account_map.h"
#include "agent/collect/attribution.h"
#include "agent/collect/net_peers.h"
#include "agent/collect/nvidia_procfs.h"
#include "agent/collect/process_scanner.h"
#include "agent/collect/tcp_counters.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)prov::agent::ParseNvidiaInformation(text);
  uint32_t ppid = 0;
  uint64_t start_ticks = 0;
  (void)prov::agent::ParseStat(text, &ppid, &start_ticks);
  (void)prov::agent::ParseStatusUid(text);
  (void)prov::agent::SplitCmdline(text);
  std::string environ(text);
  (void)prov::agent::FilterEnviron(environ);
  std::vector<std::string> errors;
  (void)prov::agent::ParseProcNetTcp(text, /*ipv6=*/false, "tcp", &errors);
  (void)prov::agent::ParseProcNetTcp(text, /*ipv6=*/true, "tcp6", &errors);
  prov::agent::TcpCounterMap counters;
  (void)prov::agent::ParseSockDiagReply(text, &counters);
  (void)prov::agent::ParsePasswd(text);
  (void)prov::agent::ParseAccountMap(text, "account-map");
  (void)prov::agent::ParseAttributionChain(text);
  return 0;
}
