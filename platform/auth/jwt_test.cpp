#include "platform/auth/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace trellis::platform::auth {
namespace {

using core::ErrorCode;

const std::vector<std::string> kEs256 = {"ES256"};

std::string Token(std::string_view header_json, std::string_view payload_json,
                  std::string_view signature) {
  return Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json) + "." +
         Base64UrlEncode(signature);
}

// The signature segment of a real token, to graft onto a forged header.
std::string SignatureOf(const std::string& token) { return token.substr(token.rfind('.') + 1); }

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = SigningKey::Generate("k1");
    ASSERT_TRUE(key.has_value());
    key_.emplace(std::move(*key));
    auto set = JwkSet::Parse(JwksJson({key_->PublicJwkJson()}));
    ASSERT_TRUE(set.has_value());
    keys_ = *set;
  }
  std::optional<SigningKey> key_;
  JwkSet keys_;
};

TEST(Base64UrlTest, RoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, RejectsPaddingBadCharactersAndNonCanonicalInput) {
  EXPECT_FALSE(Base64UrlDecode("YQ==").has_value());
  EXPECT_FALSE(Base64UrlDecode("a+b/").has_value());
  EXPECT_FALSE(Base64UrlDecode("Y").has_value());     // impossible length
  EXPECT_FALSE(Base64UrlDecode("YR").has_value());    // "a" is "YQ"; R leaves bits set
  EXPECT_FALSE(Base64UrlDecode("YW J").has_value());  // whitespace
  EXPECT_EQ(Base64UrlDecode("YQ").value(), "a");
}

TEST_F(JwtTest, SignsAndVerifies) {
  auto token = key_->Sign("at+jwt", R"({"sub":"u1","n":1})");
  ASSERT_TRUE(token.has_value()) << token.error().internal;
  auto verified = VerifyJws(*token, keys_, kEs256);
  ASSERT_TRUE(verified.has_value()) << verified.error().internal;
  EXPECT_EQ(verified->header.alg, "ES256");
  EXPECT_EQ(verified->header.typ, "at+jwt");
  EXPECT_EQ(verified->header.kid, "k1");
  EXPECT_EQ(verified->payload_json, R"({"sub":"u1","n":1})");
  EXPECT_EQ(SignatureOf(*token).size(), 86U);  // 64 bytes, base64url
}

TEST_F(JwtTest, SignRefusesANonObjectPayload) {
  auto token = key_->Sign("JWT", "[1,2]");
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(JwtTest, PublicJwkHasTheAdvertisedShape) {
  boost::json::value jwk = boost::json::parse(key_->PublicJwkJson());
  const auto& o = jwk.as_object();
  EXPECT_EQ(o.at("kty").as_string(), "EC");
  EXPECT_EQ(o.at("crv").as_string(), "P-256");
  EXPECT_EQ(o.at("kid").as_string(), "k1");
  EXPECT_EQ(o.at("alg").as_string(), "ES256");
  EXPECT_EQ(o.at("use").as_string(), "sig");
  EXPECT_EQ(Base64UrlDecode(o.at("x").as_string()).value().size(), 32U);
  EXPECT_EQ(Base64UrlDecode(o.at("y").as_string()).value().size(), 32U);
  EXPECT_FALSE(o.contains("d"));
}

TEST_F(JwtTest, PrivatePemRoundTrips) {
  const std::string pem = key_->PrivatePem();
  EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto again = SigningKey::FromPrivatePem("k1", pem);
  ASSERT_TRUE(again.has_value()) << again.error().internal;
  EXPECT_EQ(again->PublicJwkJson(), key_->PublicJwkJson());
  auto token = again->Sign("at+jwt", R"({"a":1})");
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE(VerifyJws(*token, keys_, kEs256).has_value());
  EXPECT_FALSE(SigningKey::FromPrivatePem("k1", "not a pem").has_value());
  EXPECT_FALSE(SigningKey::Generate("").has_value());
}

TEST_F(JwtTest, OneFlippedSignatureBitFails) {
  std::string token = key_->Sign("at+jwt", R"({"sub":"u1"})").value();
  auto sig = Base64UrlDecode(SignatureOf(token)).value();
  sig[10] = static_cast<char>(sig[10] ^ 0x01);
  const std::string forged = token.substr(0, token.rfind('.') + 1) + Base64UrlEncode(sig);
  auto verified = VerifyJws(forged, keys_, kEs256);
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(verified.error().message, "invalid token");
}

TEST_F(JwtTest, ChangedPayloadFails) {
  std::string token = key_->Sign("at+jwt", R"({"sub":"u1"})").value();
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const std::string forged =
      token.substr(0, dot1 + 1) + Base64UrlEncode(R"({"sub":"u2"})") + token.substr(dot2);
  EXPECT_FALSE(VerifyJws(forged, keys_, kEs256).has_value());
}

TEST_F(JwtTest, RefusesAlgNoneHmacAndRsa) {
  const std::string sig = SignatureOf(key_->Sign("JWT", "{}").value());
  for (const char* alg : {"none", "HS256", "RS256", "ES384", "PS256"}) {
    const std::string header = std::string(R"({"alg":")") + alg + R"(","kid":"k1"})";
    const std::string token = Base64UrlEncode(header) + "." + Base64UrlEncode("{}") + "." + sig;
    auto verified = VerifyJws(token, keys_, {"ES256", "HS256", "RS256", "none"});
    ASSERT_FALSE(verified.has_value()) << alg;
    EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
  }
  // alg none with an empty signature segment.
  EXPECT_FALSE(VerifyJws(Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode("{}") + ".",
                         keys_, {"none"})
                   .has_value());
}

TEST_F(JwtTest, AlgMustBeInTheAllowList) {
  const std::string token = key_->Sign("at+jwt", "{}").value();
  EXPECT_FALSE(VerifyJws(token, keys_, {}).has_value());
  EXPECT_FALSE(VerifyJws(token, keys_, {"RS256"}).has_value());
}

TEST_F(JwtTest, RefusesKeyPointingAndCriticalHeaders) {
  const std::string sig = SignatureOf(key_->Sign("JWT", "{}").value());
  for (const char* member :
       {R"("jku":"http://127.0.0.1:1/jwks")", R"("jwk":{"kty":"EC"})",
        R"("x5u":"http://127.0.0.1:1/x")", R"("x5c":["MIIB"])", R"("crit":["exp"])"}) {
    const std::string header = std::string(R"({"alg":"ES256","kid":"k1",)") + member + "}";
    const std::string token = Base64UrlEncode(header) + "." + Base64UrlEncode("{}") + "." + sig;
    EXPECT_FALSE(ParseJwsHeader(token, kEs256).has_value()) << member;
    EXPECT_FALSE(VerifyJws(token, keys_, kEs256).has_value()) << member;
  }
}

TEST_F(JwtTest, RefusesMalformedTokens) {
  const std::string good = key_->Sign("JWT", R"({"a":1})").value();
  const std::string sig = SignatureOf(good);
  const std::vector<std::string> bad = {
      "",
      "abc",
      "a.b",
      good + ".x",
      "." + good.substr(good.find('.') + 1),
      good.substr(0, good.rfind('.') + 1),  // empty signature
      Token("[1]", "{}", "s"),              // header not an object
      Base64UrlEncode(R"({"alg":"ES256","kid":"k1"})") + "." + Base64UrlEncode("[]") + "." + sig,
      Base64UrlEncode(R"({"alg":"ES256"})") + "." + Base64UrlEncode("{}") + "." + sig,  // no kid
      Base64UrlEncode(R"({"alg":"ES256","kid":7})") + "." + Base64UrlEncode("{}") + "." + sig,
      Base64UrlEncode(R"({"alg":"ES256","kid":"other"})") + "." + Base64UrlEncode("{}") + "." +
          sig,                                                                      // unknown kid
      good.substr(0, good.rfind('.') + 1) + Base64UrlEncode(std::string(63, 'a')),  // 63 bytes
      good.substr(0, good.rfind('.') + 1) + Base64UrlEncode(std::string(65, 'a')),  // 65 bytes
      good + "=",
      std::string(kMaxTokenBytes + 1, 'a'),
  };
  for (const auto& token : bad) {
    auto verified = VerifyJws(token, keys_, kEs256);
    EXPECT_FALSE(verified.has_value()) << token.substr(0, 80);
    if (!verified) {
      EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
    }
  }
}

TEST_F(JwtTest, AnotherKeysSignatureFails) {
  auto other = SigningKey::Generate("k1").value();  // same kid, different key
  const std::string token = other.Sign("JWT", "{}").value();
  EXPECT_FALSE(VerifyJws(token, keys_, kEs256).has_value());
}

TEST(JwkSetTest, KeepsOnlyUsableEcP256KeysWithAKid) {
  auto a = SigningKey::Generate("a").value();
  auto b = SigningKey::Generate("b").value();
  boost::json::object no_kid = boost::json::parse(a.PublicJwkJson()).as_object();
  no_kid.erase("kid");
  boost::json::object enc = boost::json::parse(a.PublicJwkJson()).as_object();
  enc["kid"] = "enc";
  enc["use"] = "enc";
  boost::json::object off_curve = boost::json::parse(a.PublicJwkJson()).as_object();
  off_curve["kid"] = "off";
  off_curve["y"] = off_curve["x"];
  const std::string jwks = JwksJson({
      R"({"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"})",
      R"({"kty":"oct","kid":"h","k":"c2VjcmV0"})",
      boost::json::serialize(no_kid),
      boost::json::serialize(enc),
      boost::json::serialize(off_curve),
      a.PublicJwkJson(),
      b.PublicJwkJson(),
  });
  auto set = JwkSet::Parse(jwks);
  ASSERT_TRUE(set.has_value()) << set.error().internal;
  EXPECT_EQ(set->Size(), 2U);
  EXPECT_TRUE(set->Contains("a"));
  EXPECT_TRUE(set->Contains("b"));
  EXPECT_FALSE(set->Contains("enc"));
  EXPECT_FALSE(set->Contains("off"));
  EXPECT_TRUE(VerifyJws(b.Sign("JWT", "{}").value(), *set, kEs256).has_value());
}

TEST(JwkSetTest, RejectsDocumentsWithoutAKeysArray) {
  EXPECT_FALSE(JwkSet::Parse("").has_value());
  EXPECT_FALSE(JwkSet::Parse("[]").has_value());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":{}})").has_value());
  EXPECT_EQ(JwkSet::Parse(R"({"keys":[]})").value().Size(), 0U);
}

TEST(UnverifiedPayloadTest, DecodesWithoutCheckingTheSignature) {
  const std::string token =
      Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(R"({"iss":"x"})") + ".c2ln";
  EXPECT_EQ(UnverifiedPayload(token).value(), R"({"iss":"x"})");
  EXPECT_FALSE(UnverifiedPayload("a.b").has_value());
}

}  // namespace
}  // namespace trellis::platform::auth
