// HashChain: a tamper-evident, append-only log. Each entry's hash covers its own fields and the
// previous entry's hash, so editing, removing or reordering any entry breaks the chain.
//
//   ChainEntry e1 = MakeNextEntry(nullptr, "alice", "case.update", R"({"flag":7})", now);
//   ChainEntry e2 = MakeNextEntry(&e1, "bob", "policy.load", R"({"version":"v3"})", now);
//   std::vector<ChainProblem> problems = VerifyChain({e1, e2});   // empty: intact
//
// What verification can and cannot see: an edit (content no longer matches its hash, or a later
// entry's prev_hash no longer matches), a removal (a gap in seq or a broken link), a reordering
// (seq out of order). Cutting entries off the end, or rewriting the whole chain with fresh hashes,
// is only visible against an anchor kept elsewhere — the signed head (seq, hash) that every audit
// export records — so pass the last exported anchor to VerifyChain. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov::integrity {

inline constexpr char kGenesisHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct ChainEntry {
  uint64_t seq = 0;  // 1, 2, 3, ... without gaps
  int64_t time_unix_micros = 0;
  std::string actor;      // who: "cert:CN=alice", "token:ops-bot", "provd"
  std::string action;     // what: "case.update", "policy.load", "kyc.import", "export"
  std::string payload;    // details, canonical JSON
  std::string prev_hash;  // hex SHA-256 of the previous entry, kGenesisHash for seq 1
  std::string hash;       // hex SHA-256 of this entry (EntryHash)
};

// The head of a chain as recorded elsewhere (in a signed export manifest).
struct ChainAnchor {
  uint64_t seq = 0;
  std::string hash;
};

struct ChainProblem {
  enum class Kind { kEdited, kRemoved, kReordered, kBrokenLink, kTruncated };
  Kind kind;
  uint64_t seq;         // the entry the problem was found at (0: the chain as a whole)
  std::string message;  // a sentence naming the entry and what is wrong
};

// SHA-256 over a length-prefixed encoding of seq, time, actor, action, payload and prev_hash.
std::string EntryHash(const ChainEntry& entry);
ChainEntry MakeNextEntry(const ChainEntry* previous, absl::string_view actor,
                         absl::string_view action, absl::string_view payload, absl::Time time);
// Entries in stored order. Every problem is listed, in order; empty means intact (and, with an
// anchor, that the anchored head is still there unchanged).
std::vector<ChainProblem> VerifyChain(const std::vector<ChainEntry>& entries,
                                      const std::optional<ChainAnchor>& anchor = std::nullopt);
const char* ProblemKindName(ChainProblem::Kind kind);

}  // namespace prov::integrity
