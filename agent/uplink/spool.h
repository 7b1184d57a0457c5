// ReportSpool: the uplink's bounded, persistent queue of reports waiting for the server's ack.
//
//   PROV_ASSIGN_OR_RETURN(auto spool, ReportSpool::Open(std::move(store), {8640, 256 << 20}));
//   PROV_ASSIGN_OR_RETURN(ReportSpool::Appended a, spool->Append(report));  // assigns report.seq
//   for (uint64_t id : spool->Ack(boot_id, committed_seq)) { ... }           // deleted on ack
//
// - seq rises by one per report within a boot_id and survives agent restarts (a new boot_id
//   restarts it at 1). Where it is kept: each report file records its own (boot_id, seq), and the
//   newest file decides the current boot on recovery; the state blob is written only when the
//   file holding the last seq is about to be deleted (ack, rejection, drop) or a counter changes.
//   So a burst of Appends costs one file each, and an ack of a whole burst one state write.
// - Bounded by count and bytes: when full, the oldest reports are dropped (and counted).
// - Order: entries are kept in insertion order (spool id); a restart reloads them in that order.
//   A stored report that cannot be read back or no longer parses is deleted, counted as
//   unreadable (persisted in the state blob) and logged; it is never lost silently.
// - Append repairs any string that is not valid UTF-8 (common/proto_strings.h: proto3 would
//   otherwise write bytes that never parse back), fills report.health.{spool_depth,
//   dropped_reports, rejected_reports, unreadable_reports} and adds its repairs to
//   strings_repaired before storing. A report that still cannot be serialized is counted as
//   unreadable and Append returns an error.
//
// State blob format (text, one "key value" per line; unknown keys ignored):
//   boot_id <boot id of the last report>   last_seq <n>   next_id <n>   dropped <n>   rejected <n>
//   unreadable <n>   (absent in older spools: 0)
// A state blob that does not parse fails Open(): restarting seq silently would make the server
// discard new reports as duplicates.
//
// Thread-safety: not thread-safe; the uplink calls it under its own mutex.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/uplink/spool_store.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct SpoolLimits {
  size_t max_reports = 8640;
  size_t max_bytes = 256 << 20;
};

class ReportSpool {
 public:
  struct Entry {
    std::string boot_id;
    uint64_t seq = 0;
    size_t bytes = 0;
  };
  struct Appended {
    uint64_t id = 0;
    std::vector<uint64_t> dropped_ids;  // oldest entries dropped to make room
  };

  static absl::StatusOr<std::unique_ptr<ReportSpool>> Open(std::unique_ptr<SpoolStore> store,
                                                           SpoolLimits limits);

  // Assigns report->seq, fills its health counters and stores it (one file, no state write). On
  // error nothing is stored and no seq is consumed.
  absl::StatusOr<Appended> Append(provenance::v1::NodeReport* report);
  // Deletes every entry of boot_id with seq <= committed_seq; returns their ids.
  std::vector<uint64_t> Ack(const std::string& boot_id, uint64_t committed_seq);
  // Deletes the entry (boot_id, seq) if present, counts a rejection; returns its id or 0.
  uint64_t Reject(const std::string& boot_id, uint64_t seq);
  // Reads a stored report. A corrupt one is deleted, counted as unreadable, and an error returned.
  absl::StatusOr<provenance::v1::NodeReport> Load(uint64_t id);

  const std::map<uint64_t, Entry>& entries() const { return entries_; }
  uint64_t depth() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t unreadable() const { return unreadable_; }
  uint64_t last_seq() const { return last_seq_; }
  const std::string& boot_id() const { return boot_id_; }

 private:
  ReportSpool(std::unique_ptr<SpoolStore> store, SpoolLimits limits)
      : store_(std::move(store)), limits_(limits) {}
  absl::Status Recover();
  absl::Status ParseState(const std::string& text);
  absl::Status SaveState();
  bool StateCurrent() const;
  // Writes the state first when `entry` is the only record of the current boot's last seq.
  // false: it could not, and the entry's file must stay on disk.
  bool SaveStateBeforeErase(const Entry& entry);
  void Erase(uint64_t id);

  std::unique_ptr<SpoolStore> store_;
  SpoolLimits limits_;
  std::map<uint64_t, Entry> entries_;
  uint64_t bytes_ = 0;
  std::string boot_id_;
  uint64_t last_seq_ = 0;
  uint64_t next_id_ = 1;
  uint64_t dropped_ = 0;
  uint64_t rejected_ = 0;
  uint64_t unreadable_ = 0;
  // What the state blob holds now (to skip redundant writes).
  std::string saved_boot_id_;
  uint64_t saved_last_seq_ = 0, saved_next_id_ = 0, saved_dropped_ = 0, saved_rejected_ = 0,
           saved_unreadable_ = 0;
};

}  // namespace prov::agent
