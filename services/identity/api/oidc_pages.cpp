#include "services/identity/api/oidc_pages.hpp"

namespace trellis::identity::api {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d2330}h1{font-size:1.4rem}form{border:1px solid #d0d5dd;border-radius:8px;"
    "padding:1rem 1.2rem;margin:1rem 0}label{display:block;margin:.6rem 0 .2rem}"
    "input[type=email],input[type=password],input[type=text]{width:100%;padding:.45rem;"
    "box-sizing:border-box}button{margin-top:.9rem;padding:.45rem 1rem}"
    ".error{background:#fde8e8;border:1px solid #f5b5b5;padding:.6rem .8rem;border-radius:6px}"
    "pre{background:#f3f4f6;padding:.8rem;overflow-x:auto;white-space:pre-wrap;"
    "word-break:break-all}.muted{color:#5b6473;font-size:.9rem}";

std::string Head(std::string_view title) {
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out += "<title>";
  out += HtmlEscape(title);
  out += "</title><style>";
  out += kStyle;
  out += "</style></head><body>\n";
  return out;
}

void Hidden(std::string& out, std::string_view name, std::string_view value) {
  out += "<input type=\"hidden\" name=\"";
  out += HtmlEscape(name);
  out += "\" value=\"";
  out += HtmlEscape(value);
  out += "\">";
}

void HiddenParams(std::string& out, const SignInPage& page) {
  const auto& p = page.params;
  Hidden(out, "client_id", p.client_id);
  Hidden(out, "redirect_uri", p.redirect_uri);
  Hidden(out, "response_type", p.response_type);
  Hidden(out, "scope", p.scope);
  Hidden(out, "state", p.state);
  Hidden(out, "nonce", p.nonce);
  Hidden(out, "code_challenge", p.code_challenge);
  Hidden(out, "code_challenge_method", p.code_challenge_method);
  Hidden(out, "csrf", page.csrf);
}

void Field(std::string& out, std::string_view id, std::string_view label, std::string_view type,
           std::string_view name, std::string_view value, std::string_view autocomplete,
           std::string_view extra = {}) {
  out += "<label for=\"";
  out += id;
  out += "\">";
  out += HtmlEscape(label);
  out += "</label><input id=\"";
  out += id;
  out += "\" type=\"";
  out += type;
  out += "\" name=\"";
  out += name;
  out += "\" autocomplete=\"";
  out += autocomplete;
  out += "\" required";
  if (!value.empty()) {
    out += " value=\"";
    out += HtmlEscape(value);
    out += "\"";
  }
  out += extra;
  out += ">\n";
}

}  // namespace

std::string RenderSignInPage(const SignInPage& page) {
  std::string out = Head("Sign in to Trellis");
  out += "<h1>Sign in to Trellis</h1>\n<p class=\"muted\">Application: <strong>";
  out += HtmlEscape(page.params.client_id);
  out += "</strong></p>\n";
  if (!page.error.empty()) {
    out += "<p class=\"error\" role=\"alert\">";
    out += HtmlEscape(page.error);
    out += "</p>\n";
  }
  out += "<form method=\"post\" action=\"";
  out += HtmlEscape(page.action);
  out += "\">\n<h2>Sign in</h2>";
  HiddenParams(out, page);
  Hidden(out, "action", "sign_in");
  Field(out, "signin-email", "Email", "email", "email", page.sign_up ? "" : page.email, "username");
  Field(out, "signin-password", "Password", "password", "password", "", "current-password");
  out += "<button type=\"submit\">Sign in</button>\n</form>\n";

  out += "<form method=\"post\" action=\"";
  out += HtmlEscape(page.action);
  out += "\">\n<h2>Create an account</h2>";
  HiddenParams(out, page);
  Hidden(out, "action", "sign_up");
  Field(out, "signup-email", "Email", "email", "email", page.sign_up ? page.email : "", "email");
  Field(out, "signup-name", "Name", "text", "name", page.sign_up ? page.name : "", "name");
  const std::string min_len = " minlength=\"" + std::to_string(page.min_password_length) + "\"";
  Field(out, "signup-password",
        "Password (at least " + std::to_string(page.min_password_length) + " characters)",
        "password", "password", "", "new-password", min_len);
  out += "<button type=\"submit\">Create account</button>\n</form>\n</body></html>\n";
  return out;
}

std::string RenderMessagePage(std::string_view title, std::string_view message) {
  std::string out = Head(title);
  out += "<h1>";
  out += HtmlEscape(title);
  out += "</h1>\n<p>";
  out += HtmlEscape(message);
  out += "</p>\n</body></html>\n";
  return out;
}

std::string RenderConsolePage(const ConsolePage& page) {
  const std::string base = HtmlEscape(page.api_base);
  std::string out = Head("Trellis console");
  out += "<h1>You are signed in</h1>\n<p>Your access token (valid for ";
  out += std::to_string(page.expires_in / 60);
  out += " minutes):</p>\n<pre id=\"token\">";
  out += HtmlEscape(page.access_token);
  out += "</pre>\n<p>Use it from a shell:</p>\n<pre>TOKEN='";
  out += HtmlEscape(page.access_token);
  out +=
      "'\n\n# create an organization\ncurl -H \"Authorization: Bearer $TOKEN\" "
      "-H 'content-type: application/json' \\\n  -d '{\"name\":\"Acme\",\"slug\":\"acme\"}' ";
  out += base;
  out += "/api/v1/orgs\n\n# list your organizations\ncurl -H \"Authorization: Bearer $TOKEN\" ";
  out += base;
  out +=
      "/api/v1/orgs</pre>\n<p class=\"muted\">Reload <a href=\"/console\">/console</a> for a "
      "fresh token. <a href=\"";
  out += HtmlEscape(page.sign_out_url);
  out += "\">Sign out</a>.</p>\n</body></html>\n";
  return out;
}

}  // namespace trellis::identity::api
