#include "common/integrity/hash_chain.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace prov::integrity {
namespace {

void AppendField(std::string* out, absl::string_view field) {
  absl::StrAppend(out, field.size(), ":", field, ";");
}

}  // namespace

std::string EntryHash(const ChainEntry& e) {
  std::string canonical = "prov-audit-v1;";
  AppendField(&canonical, absl::StrCat(e.seq));
  AppendField(&canonical, absl::StrCat(e.time_unix_micros));
  AppendField(&canonical, e.actor);
  AppendField(&canonical, e.action);
  AppendField(&canonical, e.payload);
  AppendField(&canonical, e.prev_hash);
  return Sha256Hex(canonical);
}

ChainEntry MakeNextEntry(const ChainEntry* previous, absl::string_view actor,
                         absl::string_view action, absl::string_view payload, absl::Time time) {
  ChainEntry e;
  e.seq = previous == nullptr ? 1 : previous->seq + 1;
  e.time_unix_micros = absl::ToUnixMicros(time);
  e.actor = std::string(actor);
  e.action = std::string(action);
  e.payload = std::string(payload);
  e.prev_hash = previous == nullptr ? kGenesisHash : previous->hash;
  e.hash = EntryHash(e);
  return e;
}

std::vector<ChainProblem> VerifyChain(const std::vector<ChainEntry>& entries,
                                      const std::optional<ChainAnchor>& anchor) {
  using Kind = ChainProblem::Kind;
  std::vector<ChainProblem> problems;
  const ChainEntry* prev = nullptr;
  for (const ChainEntry& e : entries) {
    if (EntryHash(e) != e.hash) {
      problems.push_back({Kind::kEdited, e.seq,
                          absl::StrCat("entry ", e.seq, " (", e.action, " by ", e.actor,
                                       "): its content does not match its hash: edited")});
    }
    const uint64_t expected_seq = prev == nullptr ? 1 : prev->seq + 1;
    if (e.seq < expected_seq) {
      problems.push_back({Kind::kReordered, e.seq,
                          absl::StrCat("entry ", e.seq, " comes after entry ",
                                       prev == nullptr ? 0 : prev->seq, ": reordered")});
    } else if (e.seq > expected_seq) {
      problems.push_back({Kind::kRemoved, e.seq,
                          e.seq == expected_seq + 1
                              ? absl::StrCat("entry ", expected_seq, " is missing: removed")
                              : absl::StrCat("entries ", expected_seq, " to ", e.seq - 1,
                                             " are missing: removed")});
    }
    const std::string& expected_prev = prev == nullptr ? std::string(kGenesisHash) : prev->hash;
    if (e.seq == expected_seq && e.prev_hash != expected_prev) {
      problems.push_back({Kind::kBrokenLink, e.seq,
                          absl::StrCat("entry ", e.seq, " does not link to entry ", e.seq - 1,
                                       ": entry ", e.seq - 1, " was edited or replaced")});
    }
    prev = &e;
  }
  if (anchor.has_value() && anchor->seq > 0) {
    const ChainEntry* anchored = nullptr;
    for (const ChainEntry& e : entries) {
      if (e.seq == anchor->seq) anchored = &e;
    }
    if (anchored == nullptr) {
      problems.push_back({Kind::kTruncated, anchor->seq,
                          absl::StrCat("entry ", anchor->seq,
                                       ", the head recorded in the last export, is gone: "
                                       "entries were cut off or removed")});
    } else if (anchored->hash != anchor->hash) {
      problems.push_back({Kind::kEdited, anchor->seq,
                          absl::StrCat("entry ", anchor->seq,
                                       " differs from the head recorded in the last export: "
                                       "the chain was rewritten")});
    }
  }
  return problems;
}

const char* ProblemKindName(ChainProblem::Kind kind) {
  switch (kind) {
    case ChainProblem::Kind::kEdited:
      return "edited";
    case ChainProblem::Kind::kRemoved:
      return "removed";
    case ChainProblem::Kind::kReordered:
      return "reordered";
    case ChainProblem::Kind::kBrokenLink:
      return "broken-link";
    case ChainProblem::Kind::kTruncated:
      return "truncated";
  }
  return "unknown";
}

}  // namespace prov::integrity
