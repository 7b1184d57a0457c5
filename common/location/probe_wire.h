// The UDP datagrams of location verification (issue 11, docs/location.md): a landmark's probe and
// a target's answer. Fixed binary layout, not protobuf; every multi-byte integer big-endian.
//
//   ProbeDatagram probe{.nonce = nonce, .seq = 7, .landmark_id = "lm-fra-1",
//                       .target_id = "gpu-017", .signature = SignEd25519Raw(sk, message)};
//   PROV_ASSIGN_OR_RETURN(std::string bytes, EncodeProbe(probe));
//   absl::StatusOr<ProbeDatagram> back = ParseProbe(bytes);   // strict
//
// Layout (both kinds start with the same header):
//   "PVLC" | u8 version (1) | u8 kind (1 probe, 2 answer) | nonce (16) | be64 seq |
//   u8 len | landmark_id | u8 len | target_id |
//   probe:  Ed25519 signature (64 bytes) over ProbeMessage(nonce, landmark, target, seq)
//   answer: u8 len | signature (1..80 bytes) over AnswerMessage(...) (ECDSA P-256 DER from a
//           node, raw Ed25519 from a landmark)
// Ids are 1..64 bytes of [A-Za-z0-9._:-]. Nothing may follow the last field. A probe is at most
// 224 bytes and an answer at most 241, far below any path MTU.
//
// Parsing is strict: every malformed datagram gives INVALID_ARGUMENT naming what is wrong; it
// never reads past the buffer. Thread-safe (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::location {

inline constexpr absl::string_view kWireMagic = "PVLC";
inline constexpr uint8_t kWireVersion = 1;
inline constexpr uint8_t kWireKindProbe = 1;
inline constexpr uint8_t kWireKindAnswer = 2;
inline constexpr size_t kMaxWireIdSize = 64;
inline constexpr size_t kProbeSignatureSize = 64;
inline constexpr size_t kMaxAnswerSignatureSize = 80;
inline constexpr size_t kMaxDatagramSize =
    4 + 1 + 1 + 16 + 8 + 2 * (1 + kMaxWireIdSize) + 1 + kMaxAnswerSignatureSize;  // 241

struct ProbeDatagram {
  std::string nonce;  // kNonceSize bytes
  uint64_t seq = 0;
  std::string landmark_id;
  std::string target_id;
  std::string signature;  // 64 bytes, Ed25519
};

struct AnswerDatagram {
  std::string nonce;
  uint64_t seq = 0;
  std::string landmark_id;
  std::string target_id;
  std::string signature;  // 1..80 bytes
};

// OK when `id` is 1..64 bytes of [A-Za-z0-9._:-]; else INVALID_ARGUMENT naming `what`.
absl::Status ValidateWireId(absl::string_view id, absl::string_view what);

// INVALID_ARGUMENT when a field does not fit the layout (wrong nonce or signature size, bad id).
absl::StatusOr<std::string> EncodeProbe(const ProbeDatagram& probe);
absl::StatusOr<std::string> EncodeAnswer(const AnswerDatagram& answer);

absl::StatusOr<ProbeDatagram> ParseProbe(absl::string_view datagram);
absl::StatusOr<AnswerDatagram> ParseAnswer(absl::string_view datagram);

}  // namespace prov::location
