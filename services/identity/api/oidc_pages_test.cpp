#include "services/identity/api/oidc_pages.hpp"

#include <gtest/gtest.h>

#include "services/identity/api/oidc_form.hpp"

namespace trellis::identity::api {
namespace {

TEST(OidcPagesTest, HtmlEscapeCoversTextAndAttributes) {
  EXPECT_EQ(HtmlEscape(R"(<a href="x" onclick='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
}

TEST(OidcPagesTest, SignInPageEscapesEveryValueAndLabelsItsInputs) {
  SignInPage page;
  page.params.client_id = "web";
  page.params.state = "\"><script>alert(1)</script>";
  page.params.nonce = "'onmouseover='x";
  page.csrf = "tok";
  page.error = "<b>bad</b>";
  page.email = "a\"@x.y";
  page.sign_up = false;
  const auto html = RenderSignInPage(page);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("'onmouseover"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bad&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("value=\"a&quot;@x.y\""), std::string::npos);
  // Every visible input has a label pointing at it.
  for (const char* id :
       {"signin-email", "signin-password", "signup-email", "signup-name", "signup-password"}) {
    EXPECT_NE(html.find(std::string("<label for=\"") + id + "\">"), std::string::npos) << id;
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(html.find("name=\"csrf\" value=\"tok\""), std::string::npos);
  EXPECT_NE(html.find("minlength=\"10\""), std::string::npos);
}

TEST(OidcPagesTest, MessageAndConsolePagesEscape) {
  const auto msg = RenderMessagePage("<t>", "<m>");
  EXPECT_EQ(msg.find("<t>"), std::string::npos);
  EXPECT_NE(msg.find("&lt;m&gt;"), std::string::npos);
  ConsolePage c;
  c.access_token = "aaa.bbb.ccc";
  c.expires_in = 900;
  c.api_base = "http://127.0.0.1:8080";
  c.sign_out_url = "/oidc/end-session?a=1&b=2";
  const auto html = RenderConsolePage(c);
  EXPECT_NE(html.find("aaa.bbb.ccc"), std::string::npos);
  EXPECT_NE(html.find("http://127.0.0.1:8080/api/v1/orgs"), std::string::npos);
  EXPECT_NE(html.find(R"(-d '{"name":"Acme","slug":"acme"}')"), std::string::npos);
  EXPECT_NE(html.find("a=1&amp;b=2"), std::string::npos);
}

TEST(OidcFormTest, ParsesEncodesAndReadsCookies) {
  auto f = ParseForm("a=1+2&b=%3D%26&c&a=3&bad=%zz");
  EXPECT_EQ(FormValue(f, "a"), "1 2");
  EXPECT_EQ(FormCount(f, "a"), 2U);
  EXPECT_EQ(FormValue(f, "b"), "=&");
  EXPECT_EQ(FormValue(f, "c"), "");
  EXPECT_EQ(FormValue(f, "bad"), "%zz");
  EXPECT_EQ(UrlEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(WithQuery("https://x/cb", {{"code", "c 1"}, {"state", "s"}}),
            "https://x/cb?code=c%201&state=s");
  EXPECT_EQ(WithQuery("https://x/cb?k=v", {{"code", "c"}}), "https://x/cb?k=v&code=c");
  EXPECT_EQ(CookieValue("a=1; trellis_session=xyz; b=2", "trellis_session"), "xyz");
  EXPECT_EQ(CookieValue("trellis_session_x=1", "trellis_session"), "");
  CookieOptions o;
  o.path = "/oidc";
  o.max_age_seconds = 0;
  EXPECT_EQ(SetCookie("n", "", o), "n=; Path=/oidc; Max-Age=0; HttpOnly; SameSite=Lax");
}

}  // namespace
}  // namespace trellis::identity::api
