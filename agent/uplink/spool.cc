#include "agent/uplink/spool.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log/log.h"
#include "common/proto_strings.h"
#include "common/status_macros.h"

namespace prov::agent {

using provenance::v1::NodeReport;

absl::StatusOr<std::unique_ptr<ReportSpool>> ReportSpool::Open(std::unique_ptr<SpoolStore> store,
                                                               SpoolLimits limits) {
  if (store == nullptr) return absl::InvalidArgumentError("spool store is null");
  if (limits.max_reports == 0 || limits.max_bytes == 0) {
    return absl::InvalidArgumentError("spool_max_reports and spool_max_bytes must be > 0");
  }
  std::unique_ptr<ReportSpool> spool(new ReportSpool(std::move(store), limits));
  PROV_RETURN_IF_ERROR(spool->Recover());
  return spool;
}

absl::Status ReportSpool::ParseState(const std::string& text) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (kv.first == "boot_id") {
      boot_id_ = kv.second;
      continue;
    }
    uint64_t* target = kv.first == "last_seq"     ? &last_seq_
                       : kv.first == "next_id"    ? &next_id_
                       : kv.first == "dropped"    ? &dropped_
                       : kv.first == "rejected"   ? &rejected_
                       : kv.first == "unreadable" ? &unreadable_
                                                  : nullptr;
    if (target == nullptr) continue;
    if (!absl::SimpleAtoi(kv.second, target)) {
      return absl::DataLossError(
          absl::StrCat("spool state: bad value for ", kv.first, ": '", kv.second, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReportSpool::Recover() {
  PROV_ASSIGN_OR_RETURN(std::optional<std::string> state, store_->ReadState());
  if (state.has_value()) PROV_RETURN_IF_ERROR(ParseState(*state));
  PROV_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, store_->List());
  for (uint64_t id : ids) {
    if (id >= next_id_) next_id_ = id + 1;
    auto bytes = store_->Read(id);
    NodeReport report;
    if (!bytes.ok() || !report.ParseFromString(*bytes)) {
      PROV_LOG_ERROR("spool", "spool entry unreadable, lost; counted in health.unreadable_reports",
                     {"entry", id},
                     {"error", bytes.ok() ? std::string("not a NodeReport")
                                          : std::string(bytes.status().message())});
      (void)store_->Remove(id);
      ++unreadable_;
      continue;
    }
    Entry entry{report.node().boot_id(), report.seq(), bytes->size()};
    bytes_ += entry.bytes;
    entries_.emplace(id, std::move(entry));
  }
  // The state is written lazily (see SaveStateBeforeErase), so the newest report file, when
  // there is one, is the authority on the current boot and its last seq.
  if (!entries_.empty()) {
    const Entry& newest = entries_.rbegin()->second;
    if (newest.boot_id != boot_id_) {
      boot_id_ = newest.boot_id;
      last_seq_ = 0;
    }
    for (const auto& [id, e] : entries_) {
      if (e.boot_id == boot_id_ && e.seq > last_seq_) last_seq_ = e.seq;
    }
  }
  // Limits may have shrunk since the last run.
  while (!entries_.empty() &&
         (entries_.size() > limits_.max_reports || bytes_ > limits_.max_bytes)) {
    Erase(entries_.begin()->first);
    ++dropped_;
  }
  return SaveState();
}

absl::Status ReportSpool::SaveState() {
  PROV_RETURN_IF_ERROR(store_->WriteState(absl::StrCat(
      "boot_id ", boot_id_, "\nlast_seq ", last_seq_, "\nnext_id ", next_id_, "\ndropped ",
      dropped_, "\nrejected ", rejected_, "\nunreadable ", unreadable_, "\n")));
  saved_boot_id_ = boot_id_;
  saved_last_seq_ = last_seq_;
  saved_next_id_ = next_id_;
  saved_dropped_ = dropped_;
  saved_rejected_ = rejected_;
  saved_unreadable_ = unreadable_;
  return absl::OkStatus();
}

bool ReportSpool::StateCurrent() const {
  return saved_boot_id_ == boot_id_ && saved_last_seq_ == last_seq_ && saved_next_id_ == next_id_ &&
         saved_dropped_ == dropped_ && saved_rejected_ == rejected_ &&
         saved_unreadable_ == unreadable_;
}

bool ReportSpool::SaveStateBeforeErase(const Entry& entry) {
  // Only the file holding the current boot's last seq carries state the state blob may lack.
  if (entry.boot_id != boot_id_ || entry.seq != last_seq_ || StateCurrent()) return true;
  absl::Status s = SaveState();
  if (!s.ok()) {
    PROV_LOG_ERROR("spool", "spool state not saved; keeping the last report file", {"error", s});
  }
  return s.ok();
}

void ReportSpool::Erase(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  // If the state could not be saved, the file stays on disk as the record of the last seq: after
  // a restart it is resent once (the server deduplicates) and seq continues after it.
  bool remove_file = SaveStateBeforeErase(it->second);
  bytes_ -= it->second.bytes;
  entries_.erase(it);
  if (remove_file) (void)store_->Remove(id);  // a file left behind is resent and deduplicated
}

absl::StatusOr<ReportSpool::Appended> ReportSpool::Append(NodeReport* report) {
  const std::string& boot = report->node().boot_id();
  if (boot.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError("node.boot_id must not contain a newline");
  }
  uint64_t seq = boot == boot_id_ ? last_seq_ + 1 : 1;
  report->set_seq(seq);
  Appended out;
  out.id = next_id_;
  // Make room first, so the depth and drop counters sent in this report are current.
  auto* health = report->mutable_health();
  size_t estimate = report->ByteSizeLong() + 32;  // health counters may grow by a few varint bytes
  if (estimate > limits_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("report of ", estimate, " bytes exceeds spool_max_bytes ", limits_.max_bytes));
  }
  uint64_t dropped_now = 0;
  while (!entries_.empty() &&
         (entries_.size() + 1 > limits_.max_reports || bytes_ + estimate > limits_.max_bytes)) {
    out.dropped_ids.push_back(entries_.begin()->first);
    Erase(entries_.begin()->first);
    ++dropped_now;
  }
  dropped_ += dropped_now;
  health->set_spool_depth(entries_.size() + 1);
  health->set_dropped_reports(dropped_);
  health->set_rejected_reports(rejected_);
  // proto3 strings must be UTF-8 or the bytes do not parse back (here or at provd). The
  // collector already repaired its strings; this catches any other producer, unbounded.
  StringRepairs repairs = RepairStrings(report, StringPolicy{});
  if (repairs.any()) {
    health->set_strings_repaired(health->strings_repaired() + repairs.repaired);
  }
  health->set_unreadable_reports(unreadable_);
  std::string bytes;
  if (!report->SerializeToString(&bytes)) {
    ++unreadable_;
    (void)SaveState();
    return absl::InternalError(absl::StrCat("report seq ", seq,
                                            " could not be serialized; counted in "
                                            "health.unreadable_reports"));
  }
  absl::Status written = store_->Write(out.id, bytes);
  if (!written.ok()) return written;  // the drops above stand: the spool was full regardless
  entries_.emplace(out.id, Entry{boot, seq, bytes.size()});
  bytes_ += bytes.size();
  ++next_id_;
  boot_id_ = boot;
  last_seq_ = seq;
  // No state write here: the report file itself records (boot_id, seq) until it is erased.
  if (dropped_now > 0) (void)SaveState();  // counters only
  return out;
}

std::vector<uint64_t> ReportSpool::Ack(const std::string& boot_id, uint64_t committed_seq) {
  std::vector<uint64_t> ids;
  for (const auto& [id, entry] : entries_) {
    if (entry.boot_id == boot_id && entry.seq <= committed_seq) ids.push_back(id);
  }
  for (uint64_t id : ids) Erase(id);
  return ids;
}

uint64_t ReportSpool::Reject(const std::string& boot_id, uint64_t seq) {
  ++rejected_;
  uint64_t found = 0;
  for (const auto& [id, entry] : entries_) {
    if (entry.boot_id == boot_id && entry.seq == seq) {
      found = id;
      break;
    }
  }
  if (found != 0) Erase(found);
  if (!StateCurrent()) (void)SaveState();  // counters only; losing one is harmless
  return found;
}

absl::StatusOr<NodeReport> ReportSpool::Load(uint64_t id) {
  auto bytes = store_->Read(id);
  NodeReport report;
  if (bytes.ok() && report.ParseFromString(*bytes)) return report;
  Erase(id);
  ++unreadable_;
  if (!StateCurrent()) (void)SaveState();  // the count survives a restart
  return absl::DataLossError(
      absl::StrCat("spool entry ", id,
                   " unreadable: ", bytes.ok() ? "not a NodeReport" : bytes.status().message()));
}

}  // namespace prov::agent
