#include "platform/auth/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <map>
#include <utility>

namespace trellis::platform::auth {

namespace json = boost::json;
using core::ErrorCode;
using core::Fail;
using core::Result;

namespace {

constexpr std::size_t kCoordinateBytes = 32;  // P-256 field element
constexpr std::size_t kSignatureBytes = 2 * kCoordinateBytes;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// Headers that name other keys or demand extensions: never honoured, always refused.
constexpr std::array<std::string_view, 6> kRefusedHeaders = {"jku", "jwk",  "x5u",
                                                             "x5c", "crit", "zip"};

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using SigPtr = std::unique_ptr<ECDSA_SIG, SigFree>;

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {  // NOLINT(google-runtime-int): OpenSSL's type
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? "openssl: unknown error" : out;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// True when the key is an EC key on P-256.
bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  std::array<char, 64> group{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                     &len) != 1) {
    return false;
  }
  std::string_view name(group.data(), len);
  return name == "prime256v1" || name == "P-256";
}

// The public point's affine coordinates, 32 bytes each, big-endian.
Result<std::pair<std::string, std::string>> Coordinates(EVP_PKEY* pkey) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) != 1) {
    return Fail(ErrorCode::kInternal, "key error", OpenSslError());
  }
  BnPtr x(x_raw);
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) != 1) {
    return Fail(ErrorCode::kInternal, "key error", OpenSslError());
  }
  BnPtr y(y_raw);
  std::string xs(kCoordinateBytes, '\0');
  std::string ys(kCoordinateBytes, '\0');
  if (BN_bn2binpad(x.get(), reinterpret_cast<unsigned char*>(xs.data()), kCoordinateBytes) < 0 ||
      BN_bn2binpad(y.get(), reinterpret_cast<unsigned char*>(ys.data()), kCoordinateBytes) < 0) {
    return Fail(ErrorCode::kInternal, "key error", "coordinate does not fit 32 bytes");
  }
  return std::pair{std::move(xs), std::move(ys)};
}

// A public key from raw coordinates; checks that the point is on the curve.
Result<PkeyPtr> PublicKeyFromCoordinates(std::string_view x, std::string_view y) {
  if (x.size() != kCoordinateBytes || y.size() != kCoordinateBytes) {
    return Fail(ErrorCode::kInvalidArgument, "bad key", "EC coordinate is not 32 bytes");
  }
  std::string point;
  point.reserve(1 + 2 * kCoordinateBytes);
  point.push_back('\x04');  // uncompressed point (SEC 1)
  point.append(x);
  point.append(y);

  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Fail(ErrorCode::kInternal, "key error", OpenSslError());
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return Fail(ErrorCode::kInternal, "key error", OpenSslError());
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return Fail(ErrorCode::kInvalidArgument, "bad key", OpenSslError());
  }
  PkeyPtr pkey(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return Fail(ErrorCode::kInvalidArgument, "bad key", "EC point is not on P-256");
  }
  return pkey;
}

// Raw R||S (JWS) to the DER ECDSA-Sig-Value OpenSSL verifies.
Result<std::string> RawToDer(std::string_view raw) {
  BnPtr r(BN_bin2bn(Bytes(raw.substr(0, kCoordinateBytes)), kCoordinateBytes, nullptr));
  BnPtr s(BN_bin2bn(Bytes(raw.substr(kCoordinateBytes)), kCoordinateBytes, nullptr));
  SigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return Fail(ErrorCode::kInternal, "signature error", OpenSslError());
  }
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return Fail(ErrorCode::kInternal, "signature error", OpenSslError());
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) {
    return Fail(ErrorCode::kInternal, "signature error", OpenSslError());
  }
  return der;
}

// DER ECDSA-Sig-Value to raw R||S.
Result<std::string> DerToRaw(std::string_view der) {
  const unsigned char* in = Bytes(der);
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size())));  // NOLINT
  if (!sig) return Fail(ErrorCode::kInternal, "signature error", OpenSslError());
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(kSignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordinateBytes) < 0 ||
      BN_bn2binpad(s, out + kCoordinateBytes, kCoordinateBytes) < 0) {
    return Fail(ErrorCode::kInternal, "signature error", "R or S does not fit 32 bytes");
  }
  return raw;
}

Result<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Fail(ErrorCode::kInvalidArgument, "bad json", ec.message());
  if (!v.is_object()) return Fail(ErrorCode::kInvalidArgument, "bad json", "not a JSON object");
  return std::move(v.as_object());
}

std::unexpected<core::Error> Reject(std::string internal) {
  return Fail(ErrorCode::kUnauthenticated, "invalid token", std::move(internal));
}

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
};

Result<Segments> Split(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return Reject("token too long");
  const auto first = token.find('.');
  if (first == std::string_view::npos) return Reject("token is not 3 segments");
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return Reject("token is not 3 segments");
  if (token.find('.', second + 1) != std::string_view::npos) {
    return Reject("token is not 3 segments");
  }
  Segments s{token.substr(0, first), token.substr(first + 1, second - first - 1),
             token.substr(second + 1)};
  if (s.header.empty() || s.payload.empty() || s.signature.empty()) {
    return Reject("token has an empty segment");
  }
  return s;
}

// An optional string member: "" when absent; an error when present but not a string.
Result<std::string> OptionalString(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr) return std::string();
  if (!v->is_string()) {
    return Reject("header member " + std::string(key) + " is not a string");
  }
  return std::string(v->as_string());
}

Result<JwsHeader> CheckHeader(std::string_view header_b64,
                              const std::vector<std::string>& allowed_algs) {
  auto header_text = Base64UrlDecode(header_b64);
  if (!header_text) return Reject("header is not base64url: " + header_text.error().internal);
  auto header = ParseObject(*header_text);
  if (!header) return Reject("header is not a JSON object: " + header.error().internal);
  for (auto refused : kRefusedHeaders) {
    if (header->contains(refused)) return Reject("refused header member " + std::string(refused));
  }
  JwsHeader out;
  auto alg = OptionalString(*header, "alg");
  if (!alg) return std::unexpected(alg.error());
  out.alg = std::move(*alg);
  if (out.alg.empty()) return Reject("header has no alg");
  if (std::find(allowed_algs.begin(), allowed_algs.end(), out.alg) == allowed_algs.end()) {
    return Reject("alg not allowed: " + out.alg);
  }
  if (out.alg != kAlgEs256) return Reject("alg not supported: " + out.alg);
  auto typ = OptionalString(*header, "typ");
  if (!typ) return std::unexpected(typ.error());
  out.typ = std::move(*typ);
  auto kid = OptionalString(*header, "kid");
  if (!kid) return std::unexpected(kid.error());
  out.kid = std::move(*kid);
  if (out.kid.empty()) return Reject("header has no kid");
  return out;
}

}  // namespace

// ---- base64url ----

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned n = (at(i) << 16U) | (at(i + 1) << 8U) | at(i + 2);
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
    out.push_back(kAlphabet[(n >> 6U) & 63U]);
    out.push_back(kAlphabet[n & 63U]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned n = at(i) << 16U;
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
  } else if (rest == 2) {
    const unsigned n = (at(i) << 16U) | (at(i + 1) << 8U);
    out.push_back(kAlphabet[(n >> 18U) & 63U]);
    out.push_back(kAlphabet[(n >> 12U) & 63U]);
    out.push_back(kAlphabet[(n >> 6U) & 63U]);
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) {
    return Fail(ErrorCode::kInvalidArgument, "bad base64url", "impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return Fail(ErrorCode::kInvalidArgument, "bad base64url", "bad character");
    acc = (acc << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  // Canonical encodings only: the unused low bits of the last character must be zero.
  if (bits > 0 && (acc & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
    return Fail(ErrorCode::kInvalidArgument, "bad base64url", "non-zero trailing bits");
  }
  return out;
}

// ---- SigningKey ----

struct SigningKey::Impl {
  std::string kid;
  PkeyPtr pkey;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Generate(std::string kid) {
  if (kid.empty()) return Fail(ErrorCode::kInvalidArgument, "a signing key needs a kid");
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return Fail(ErrorCode::kInternal, "key generation failed", OpenSslError());
  auto impl = std::make_unique<Impl>();
  impl->kid = std::move(kid);
  impl->pkey = std::move(pkey);
  return SigningKey(std::move(impl));
}

Result<SigningKey> SigningKey::FromPrivatePem(std::string kid, std::string_view pem) {
  if (kid.empty()) return Fail(ErrorCode::kInvalidArgument, "a signing key needs a kid");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail(ErrorCode::kInternal, "key error", OpenSslError());
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return Fail(ErrorCode::kInvalidArgument, "not a PEM private key", OpenSslError());
  }
  if (!IsP256(pkey.get())) {
    return Fail(ErrorCode::kInvalidArgument, "the signing key must be EC P-256");
  }
  auto impl = std::make_unique<Impl>();
  impl->kid = std::move(kid);
  impl->pkey = std::move(pkey);
  return SigningKey(std::move(impl));
}

std::string SigningKey::PrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<std::size_t>(len));
}

std::string SigningKey::PublicJwkJson() const {
  auto xy = Coordinates(impl_->pkey.get());
  if (!xy) return {};
  json::object jwk;
  jwk["kty"] = "EC";
  jwk["crv"] = "P-256";
  jwk["x"] = Base64UrlEncode(xy->first);
  jwk["y"] = Base64UrlEncode(xy->second);
  jwk["kid"] = impl_->kid;
  jwk["alg"] = kAlgEs256;
  jwk["use"] = "sig";
  return json::serialize(jwk);
}

const std::string& SigningKey::Kid() const { return impl_->kid; }

Result<std::string> SigningKey::Sign(std::string_view typ, std::string_view payload_json) const {
  if (auto payload = ParseObject(payload_json); !payload) {
    return Fail(ErrorCode::kInvalidArgument, "the payload must be a JSON object",
                payload.error().internal);
  }
  json::object header;
  header["alg"] = kAlgEs256;
  if (!typ.empty()) header["typ"] = typ;
  header["kid"] = impl_->kid;
  std::string input = Base64UrlEncode(json::serialize(header));
  input.push_back('.');
  input += Base64UrlEncode(payload_json);

  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(input), input.size()) != 1) {
    return Fail(ErrorCode::kInternal, "signing failed", OpenSslError());
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, Bytes(input),
                     input.size()) != 1) {
    return Fail(ErrorCode::kInternal, "signing failed", OpenSslError());
  }
  der.resize(len);
  auto raw = DerToRaw(der);
  if (!raw) return std::unexpected(raw.error());
  input.push_back('.');
  input += Base64UrlEncode(*raw);
  return input;
}

std::string JwksJson(const std::vector<std::string>& public_jwks) {
  std::string out = R"({"keys":[)";
  bool first = true;
  for (const auto& jwk : public_jwks) {
    if (!first) out.push_back(',');
    first = false;
    out += jwk;
  }
  out += "]}";
  return out;
}

// ---- JwkSet ----

struct JwkSet::Impl {
  std::map<std::string, std::shared_ptr<EVP_PKEY>, std::less<>> keys;
};

struct JwkSetAccess {
  static EVP_PKEY* Find(const JwkSet& set, std::string_view kid) {
    auto it = set.impl_->keys.find(kid);
    return it == set.impl_->keys.end() ? nullptr : it->second.get();
  }
};

JwkSet::JwkSet() : impl_(std::make_shared<Impl>()) {}

Result<JwkSet> JwkSet::Parse(std::string_view jwks_json) {
  auto doc = ParseObject(jwks_json);
  if (!doc) return Fail(ErrorCode::kInvalidArgument, "bad JWKS", doc.error().internal);
  const auto* keys = doc->if_contains("keys");
  if (keys == nullptr || !keys->is_array()) {
    return Fail(ErrorCode::kInvalidArgument, "bad JWKS", "no keys array");
  }
  auto impl = std::make_shared<Impl>();
  auto str = [](const json::object& o, std::string_view k) -> std::string_view {
    const auto* v = o.if_contains(k);
    return (v != nullptr && v->is_string()) ? std::string_view(v->as_string()) : "";
  };
  for (const auto& entry : keys->as_array()) {
    if (!entry.is_object()) continue;
    const auto& jwk = entry.as_object();
    if (str(jwk, "kty") != "EC" || str(jwk, "crv") != "P-256") continue;
    const std::string_view kid = str(jwk, "kid");
    if (kid.empty()) continue;
    if (jwk.contains("use") && str(jwk, "use") != "sig") continue;
    if (jwk.contains("alg") && str(jwk, "alg") != kAlgEs256) continue;
    if (jwk.contains("d")) continue;  // a private key has no business in a JWKS
    auto x = Base64UrlDecode(str(jwk, "x"));
    auto y = Base64UrlDecode(str(jwk, "y"));
    if (!x || !y) continue;
    auto pkey = PublicKeyFromCoordinates(*x, *y);
    if (!pkey) continue;
    // The first key with a kid wins; a duplicate cannot shadow it.
    impl->keys.try_emplace(std::string(kid),
                           std::shared_ptr<EVP_PKEY>(pkey->release(), PkeyFree{}));
  }
  JwkSet set;
  set.impl_ = std::move(impl);
  return set;
}

bool JwkSet::Contains(std::string_view kid) const { return impl_->keys.contains(kid); }
std::size_t JwkSet::Size() const { return impl_->keys.size(); }

// ---- verification ----

Result<JwsHeader> ParseJwsHeader(std::string_view token,
                                 const std::vector<std::string>& allowed_algs) {
  auto segments = Split(token);
  if (!segments) return std::unexpected(segments.error());
  return CheckHeader(segments->header, allowed_algs);
}

Result<VerifiedJws> VerifyJws(std::string_view token, const JwkSet& keys,
                              const std::vector<std::string>& allowed_algs) {
  auto segments = Split(token);
  if (!segments) return std::unexpected(segments.error());
  auto header = CheckHeader(segments->header, allowed_algs);
  if (!header) return std::unexpected(header.error());
  EVP_PKEY* key = JwkSetAccess::Find(keys, header->kid);
  if (key == nullptr) return Reject("unknown kid " + header->kid);
  auto signature = Base64UrlDecode(segments->signature);
  if (!signature) return Reject("signature is not base64url");
  if (signature->size() != kSignatureBytes) return Reject("signature is not 64 bytes");
  auto payload = Base64UrlDecode(segments->payload);
  if (!payload) return Reject("payload is not base64url");
  if (auto obj = ParseObject(*payload); !obj) return Reject("payload is not a JSON object");

  auto der = RawToDer(*signature);
  if (!der) return Reject(der.error().internal);
  const std::string_view input =
      token.substr(0, segments->header.size() + 1 + segments->payload.size());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return Reject(OpenSslError());
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(*der), der->size(), Bytes(input), input.size()) != 1) {
    ERR_clear_error();
    return Reject("bad signature");
  }
  VerifiedJws out;
  out.header = std::move(*header);
  out.payload_json = std::move(*payload);
  return out;
}

Result<std::string> UnverifiedPayload(std::string_view token) {
  auto segments = Split(token);
  if (!segments) return std::unexpected(segments.error());
  auto payload = Base64UrlDecode(segments->payload);
  if (!payload) return Reject("payload is not base64url");
  if (auto obj = ParseObject(*payload); !obj) return Reject("payload is not a JSON object");
  return std::move(*payload);
}

}  // namespace trellis::platform::auth
