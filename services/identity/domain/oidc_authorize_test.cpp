#include "services/identity/domain/oidc_authorize.hpp"

#include <gtest/gtest.h>

namespace trellis::identity::domain {
namespace {

std::vector<OidcClient> Clients() {
  OidcClient c;
  c.id = "web";
  c.redirect_uris = {"https://app.example/cb"};
  c.post_logout_redirect_uris = {"https://app.example/"};
  return {c};
}

AuthorizeParams Good() {
  AuthorizeParams p;
  p.client_id = "web";
  p.redirect_uri = "https://app.example/cb";
  p.response_type = "code";
  p.scope = "openid email";
  p.state = "s1";
  p.nonce = "n1";
  p.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  p.code_challenge_method = "S256";
  return p;
}

TEST(OidcAuthorizeTest, AcceptsAWellFormedRequest) {
  EXPECT_TRUE(ValidateAuthorize(Good(), Clients()).Ok());
}

TEST(OidcAuthorizeTest, UnknownClientOrRedirectIsShownOnThePage) {
  auto p = Good();
  p.client_id = "evil";
  auto check = ValidateAuthorize(p, Clients());
  EXPECT_FALSE(check.Ok());
  EXPECT_TRUE(check.show_on_page);

  p = Good();
  p.redirect_uri = "https://app.example/cb/../evil";  // exact match only, no normalizing
  check = ValidateAuthorize(p, Clients());
  EXPECT_TRUE(check.show_on_page);
  p.redirect_uri = "https://app.example/cb?x=1";
  EXPECT_TRUE(ValidateAuthorize(p, Clients()).show_on_page);
  p.redirect_uri = "";
  EXPECT_TRUE(ValidateAuthorize(p, Clients()).show_on_page);
}

TEST(OidcAuthorizeTest, OtherErrorsGoBackToTheClient) {
  auto p = Good();
  p.response_type = "token";
  auto check = ValidateAuthorize(p, Clients());
  EXPECT_EQ(check.error, "unsupported_response_type");
  EXPECT_FALSE(check.show_on_page);

  p = Good();
  p.scope = "email profile";
  EXPECT_EQ(ValidateAuthorize(p, Clients()).error, "invalid_scope");

  p = Good();
  p.code_challenge_method = "plain";
  EXPECT_EQ(ValidateAuthorize(p, Clients()).error, "invalid_request");
  p.code_challenge_method = "";
  EXPECT_EQ(ValidateAuthorize(p, Clients()).error, "invalid_request");

  p = Good();
  p.code_challenge = "";
  EXPECT_EQ(ValidateAuthorize(p, Clients()).error, "invalid_request");
  p.code_challenge = "short";
  EXPECT_EQ(ValidateAuthorize(p, Clients()).error, "invalid_request");
}

TEST(OidcAuthorizeTest, ScopesSplitOnSpaces) {
  EXPECT_EQ(SplitScope("openid  email openid"), (std::vector<std::string>{"openid", "email"}));
  EXPECT_TRUE(HasScope("email openid", "openid"));
  EXPECT_FALSE(HasScope("openidx", "openid"));
}

TEST(OidcAuthorizeTest, PkceValuesAreUnreservedCharactersOfTheRightLength) {
  EXPECT_TRUE(IsPkceValue(std::string(43, 'a')));
  EXPECT_TRUE(IsPkceValue(std::string(128, '~')));
  EXPECT_FALSE(IsPkceValue(std::string(42, 'a')));
  EXPECT_FALSE(IsPkceValue(std::string(129, 'a')));
  EXPECT_FALSE(IsPkceValue(std::string(43, '+')));
}

TEST(OidcAuthorizeTest, EmailsAreTrimmedAndLowerCased) {
  EXPECT_EQ(NormalizeEmail("  Ada@Example.COM "), "ada@example.com");
  EXPECT_FALSE(NormalizeEmail("no-at-sign").has_value());
  EXPECT_FALSE(NormalizeEmail("@example.com").has_value());
  EXPECT_FALSE(NormalizeEmail("a@b@c").has_value());
  EXPECT_FALSE(NormalizeEmail("a b@example.com").has_value());
  EXPECT_FALSE(NormalizeEmail("<a>@example.com").has_value());
}

TEST(OidcAuthorizeTest, PasswordsNeedTheMinimumLengthInCharacters) {
  EXPECT_FALSE(CheckNewPassword("short", 10).empty());
  EXPECT_TRUE(CheckNewPassword("long enough!", 10).empty());
  // Ten code points in twenty bytes.
  EXPECT_TRUE(CheckNewPassword("ééééééééé\xc3\xa9", 10).empty());
  EXPECT_FALSE(CheckNewPassword("éééé", 10).empty());
  EXPECT_FALSE(CheckDisplayName("  ").empty());
  EXPECT_FALSE(CheckDisplayName("a\nb").empty());
  EXPECT_TRUE(CheckDisplayName("Ada Lovelace").empty());
}

}  // namespace
}  // namespace trellis::identity::domain
