#include "common/location/probe_wire.h"

#include "absl/strings/str_cat.h"
#include "common/location/probe_sig.h"

namespace prov::location {
namespace {

bool IdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

// Reads fields front to back; every read checks the bytes left first.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  size_t left() const { return data_.size() - pos_; }
  bool Bytes(size_t n, std::string* out) {
    if (left() < n) return false;
    out->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool U8(uint8_t* out) {
    if (left() < 1) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool U64(uint64_t* out) {
    if (left() < 8) return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += 8;
    *out = v;
    return true;
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

struct Header {
  std::string nonce;
  uint64_t seq = 0;
  std::string landmark_id, target_id;
};

absl::Status Bad(absl::string_view kind, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed ", kind, " datagram: ", what));
}

absl::Status ReadId(Reader& r, absl::string_view kind, absl::string_view what, std::string* out) {
  uint8_t n = 0;
  if (!r.U8(&n)) return Bad(kind, absl::StrCat("truncated before the ", what, " length"));
  if (n == 0 || n > kMaxWireIdSize) {
    return Bad(kind, absl::StrCat(what, " length ", n, " (must be 1..", kMaxWireIdSize, ")"));
  }
  if (!r.Bytes(n, out)) return Bad(kind, absl::StrCat("truncated inside the ", what));
  for (char c : *out) {
    if (!IdChar(c)) return Bad(kind, absl::StrCat(what, " has a byte outside [A-Za-z0-9._:-]"));
  }
  return absl::OkStatus();
}

absl::Status ReadHeader(Reader& r, uint8_t want_kind, absl::string_view kind, Header* h) {
  std::string magic;
  if (!r.Bytes(kWireMagic.size(), &magic)) return Bad(kind, "shorter than the magic");
  if (magic != kWireMagic) return Bad(kind, "wrong magic (not a prov location datagram)");
  uint8_t version = 0, got_kind = 0;
  if (!r.U8(&version) || !r.U8(&got_kind)) return Bad(kind, "truncated header");
  if (version != kWireVersion) return Bad(kind, absl::StrCat("unsupported version ", version));
  if (got_kind != want_kind) {
    return Bad(kind, absl::StrCat("kind ", got_kind, " (expected ", want_kind, ")"));
  }
  if (!r.Bytes(kNonceSize, &h->nonce)) return Bad(kind, "truncated inside the nonce");
  if (!r.U64(&h->seq)) return Bad(kind, "truncated inside the seq");
  if (auto s = ReadId(r, kind, "landmark id", &h->landmark_id); !s.ok()) return s;
  return ReadId(r, kind, "target id", &h->target_id);
}

absl::StatusOr<std::string> EncodeHeader(uint8_t kind, absl::string_view nonce, uint64_t seq,
                                         absl::string_view landmark_id,
                                         absl::string_view target_id) {
  if (nonce.size() != kNonceSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("nonce is ", nonce.size(), " bytes (must be ", kNonceSize, ")"));
  }
  if (auto s = ValidateWireId(landmark_id, "landmark id"); !s.ok()) return s;
  if (auto s = ValidateWireId(target_id, "target id"); !s.ok()) return s;
  std::string out(kWireMagic);
  out.push_back(static_cast<char>(kWireVersion));
  out.push_back(static_cast<char>(kind));
  out.append(nonce.data(), nonce.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((seq >> shift) & 0xff));
  }
  out.push_back(static_cast<char>(landmark_id.size()));
  out.append(landmark_id.data(), landmark_id.size());
  out.push_back(static_cast<char>(target_id.size()));
  out.append(target_id.data(), target_id.size());
  return out;
}

}  // namespace

absl::Status ValidateWireId(absl::string_view id, absl::string_view what) {
  if (id.empty() || id.size() > kMaxWireIdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", id.substr(0, 80), "' must be 1..", kMaxWireIdSize, " bytes"));
  }
  for (char c : id) {
    if (!IdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", id, "' has a character outside [A-Za-z0-9._:-]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeProbe(const ProbeDatagram& probe) {
  if (probe.signature.size() != kProbeSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat("probe signature is ", probe.signature.size(),
                                                   " bytes (must be ", kProbeSignatureSize, ")"));
  }
  auto out =
      EncodeHeader(kWireKindProbe, probe.nonce, probe.seq, probe.landmark_id, probe.target_id);
  if (!out.ok()) return out.status();
  out->append(probe.signature);
  return out;
}

absl::StatusOr<std::string> EncodeAnswer(const AnswerDatagram& answer) {
  if (answer.signature.empty() || answer.signature.size() > kMaxAnswerSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat("answer signature is ", answer.signature.size(),
                                                   " bytes (must be 1..", kMaxAnswerSignatureSize,
                                                   ")"));
  }
  auto out =
      EncodeHeader(kWireKindAnswer, answer.nonce, answer.seq, answer.landmark_id, answer.target_id);
  if (!out.ok()) return out.status();
  out->push_back(static_cast<char>(answer.signature.size()));
  out->append(answer.signature);
  return out;
}

absl::StatusOr<ProbeDatagram> ParseProbe(absl::string_view datagram) {
  Reader r(datagram);
  Header h;
  if (auto s = ReadHeader(r, kWireKindProbe, "probe", &h); !s.ok()) return s;
  ProbeDatagram out{
      std::move(h.nonce), h.seq, std::move(h.landmark_id), std::move(h.target_id), {}};
  if (!r.Bytes(kProbeSignatureSize, &out.signature)) {
    return Bad("probe", "truncated inside the signature");
  }
  if (r.left() != 0) return Bad("probe", absl::StrCat(r.left(), " trailing bytes"));
  return out;
}

absl::StatusOr<AnswerDatagram> ParseAnswer(absl::string_view datagram) {
  Reader r(datagram);
  Header h;
  if (auto s = ReadHeader(r, kWireKindAnswer, "answer", &h); !s.ok()) return s;
  AnswerDatagram out{
      std::move(h.nonce), h.seq, std::move(h.landmark_id), std::move(h.target_id), {}};
  uint8_t n = 0;
  if (!r.U8(&n)) return Bad("answer", "truncated before the signature length");
  if (n == 0 || n > kMaxAnswerSignatureSize) {
    return Bad("answer",
               absl::StrCat("signature length ", n, " (must be 1..", kMaxAnswerSignatureSize, ")"));
  }
  if (!r.Bytes(n, &out.signature)) return Bad("answer", "truncated inside the signature");
  if (r.left() != 0) return Bad("answer", absl::StrCat(r.left(), " trailing bytes"));
  return out;
}

}  // namespace prov::location
