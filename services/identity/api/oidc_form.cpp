#include "services/identity/api/oidc_form.hpp"

namespace trellis::identity::api {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

FormFields ParseForm(std::string_view text) {
  FormFields out;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(Decode(pair), std::string());
      } else {
        out.emplace_back(Decode(pair.substr(0, eq)), Decode(pair.substr(eq + 1)));
      }
    }
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return out;
}

std::string FormValue(const FormFields& form, std::string_view name) {
  for (const auto& [k, v] : form) {
    if (k == name) return v;
  }
  return {};
}

std::size_t FormCount(const FormFields& form, std::string_view name) {
  std::size_t n = 0;
  for (const auto& [k, v] : form) n += k == name ? 1 : 0;
  return n;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4U]);
      out.push_back(kHex[u & 0x0FU]);
    }
  }
  return out;
}

std::string WithQuery(std::string_view uri, const FormFields& pairs) {
  std::string out(uri);
  char sep = out.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : pairs) {
    out.push_back(sep);
    out += UrlEncode(k);
    out.push_back('=');
    out += UrlEncode(v);
    sep = '&';
  }
  return out;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      auto value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string SetCookie(std::string_view name, std::string_view value, const CookieOptions& options) {
  std::string out(name);
  out.push_back('=');
  out += value;
  out += "; Path=";
  out += options.path;
  if (options.max_age_seconds >= 0) {
    out += "; Max-Age=";
    out += std::to_string(options.max_age_seconds);
  }
  out += "; HttpOnly; SameSite=Lax";
  if (options.secure) out += "; Secure";
  return out;
}

}  // namespace trellis::identity::api
