#include "services/identity/app/oidc_crypto.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "platform/auth/jwt.hpp"

namespace trellis::identity::app {
namespace {

class OidcCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().has_value()); }
};

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(kHex[u >> 4U]);
    out.push_back(kHex[u & 0xFU]);
  }
  return out;
}

TEST_F(OidcCryptoTest, PkceS256MatchesTheRfc7636AppendixBVector) {
  const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const std::string challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  EXPECT_EQ(Sha256Base64Url(verifier), challenge);
  EXPECT_TRUE(PkceS256Matches(verifier, challenge));
  EXPECT_FALSE(PkceS256Matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
  // The "plain" method's answer (verifier == challenge) never passes.
  EXPECT_FALSE(PkceS256Matches(challenge, challenge));
  // A verifier shorter than 43 characters is refused before hashing.
  EXPECT_FALSE(PkceS256Matches("abc", Sha256Base64Url("abc")));
}

TEST_F(OidcCryptoTest, Sha256AndHmacMatchKnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  auto mac =
      platform::auth::Base64UrlDecode(HmacSha256Base64Url("Jefe", "what do ya want for nothing?"));
  ASSERT_TRUE(mac.has_value());
  EXPECT_EQ(Hex(*mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(OidcCryptoTest, RandomTokensAre32BytesOfBase64Url) {
  const auto a = RandomToken();
  const auto b = RandomToken();
  EXPECT_EQ(a.size(), 43U);
  EXPECT_NE(a, b);
  auto raw = platform::auth::Base64UrlDecode(a);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32U);
}

TEST_F(OidcCryptoTest, PasswordsHashWithArgon2idAndVerify) {
  PasswordHashing cheap{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  auto hash = HashPassword("correct horse battery", cheap);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse batterY"));
  EXPECT_FALSE(VerifyPassword("not a hash", "x"));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace trellis::identity::app
