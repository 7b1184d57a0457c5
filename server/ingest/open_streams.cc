#include "server/ingest/open_streams.h"

#include "server/ingest/report_stream.h"

namespace prov::server {

void OpenStreams::Add(const std::string& node_id, ReportStream* stream) {
  absl::MutexLock lock(&mu_);
  by_node_[node_id].insert(stream);
}

void OpenStreams::Remove(const std::string& node_id, ReportStream* stream) {
  absl::MutexLock lock(&mu_);
  auto it = by_node_.find(node_id);
  if (it == by_node_.end()) return;
  it->second.erase(stream);
  if (it->second.empty()) by_node_.erase(it);
}

int OpenStreams::EndNode(const std::string& node_id, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = by_node_.find(node_id);
  if (it == by_node_.end()) return 0;
  // A stream stays alive while it is listed: it removes itself in OnDone before it can be freed.
  for (ReportStream* stream : it->second) stream->End(status);
  return static_cast<int>(it->second.size());
}

size_t OpenStreams::size() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [node, streams] : by_node_) n += streams.size();
  return n;
}

}  // namespace prov::server
