// The change feed between provd replicas sharing one store (issue 12): a replica that changed
// something other replicas hold in memory (analysis state, cases, identity, inventory, ingest)
// announces it, and every replica's listener hears it. (Not ingest: the leader's feed polls the
// batch log, since a NOTIFY inside each ingest transaction would serialise all commits on
// PostgreSQL's notify lock: pg_ingest.h.) On PostgreSQL this is LISTEN/NOTIFY
// (server/store/pg/pg_change_feed.h); SQLite has one provd, which needs no feed
// (StoreBackend::OpenChangeFeed says UNIMPLEMENTED there).
//
//   PROV_ASSIGN_OR_RETURN(ChangeFeed feed, backend->OpenChangeFeed());
//   PROV_RETURN_IF_ERROR(feed.listener->Start({kCasesChannel}, [&](const ChangeEvent& e) {
//     if (e.resync) ReloadEverything(); else Reload(e.channel, e.payload);
//   }));
//   ... commit a case change ...
//   (void)feed.announcer->Announce(kCasesChannel, flag_id);   // after the commit
//
// Announce sends after the change committed (its own statement), so a replica that dies between
// the commit and the announcement leaves the others stale until the next announcement on that
// channel or a resync; each consumer says what bounds that (docs/design/scale-out.md section 4).
// Listener callbacks run on the listener's thread, one at a time. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prov::server {

// The channels provd uses (PostgreSQL channel names).
inline constexpr char kFlagsChannel[] = "prov_flags";          // the leader saved analysis facts
inline constexpr char kCasesChannel[] = "prov_cases";          // payload: the flag id
inline constexpr char kIdentityChannel[] = "prov_identity";    // KYC, screening list or policy
inline constexpr char kInventoryChannel[] = "prov_inventory";  // a declared-inventory import

struct ChangeEvent {
  std::string channel;
  std::string payload;
  bool resync = false;  // the listener's session was lost and is back: changes may have been missed
};

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // Listens on `channels` (before returning: a change announced after Start returns is heard) and
  // starts delivering. FAILED_PRECONDITION when started twice.
  virtual absl::Status Start(std::vector<std::string> channels,
                             std::function<void(const ChangeEvent&)> on_event) = 0;
  // Stops delivering; idempotent; no callback runs after it returns. Not from inside a callback.
  virtual void Stop() = 0;
};

class ChangeAnnouncer {
 public:
  virtual ~ChangeAnnouncer() = default;
  // INVALID_ARGUMENT for an empty channel or a payload over 7999 bytes; UNAVAILABLE when the
  // store cannot be reached (the change itself is committed: callers log and go on).
  virtual absl::Status Announce(absl::string_view channel, absl::string_view payload) = 0;
};

struct ChangeFeed {
  std::unique_ptr<ChangeListener> listener;
  std::unique_ptr<ChangeAnnouncer> announcer;
};

}  // namespace prov::server
