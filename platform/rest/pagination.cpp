#include "platform/rest/pagination.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <system_error>

#include "platform/core/log.hpp"

namespace trellis::platform::rest {
namespace {

// Layout: kFormat, varint count, then per element varint length + bytes; then the MAC.
constexpr unsigned char kFormat = 1;
// 128 bits of HMAC-SHA256: forging one is as hard as guessing a random 128-bit value.
constexpr std::size_t kMacBytes = 16;
// A keyset position is a few columns; more is not a cursor we minted.
constexpr std::size_t kMaxPositionParts = 16;
constexpr std::size_t kRandomKeyBytes = 32;

// The signing key; guarded by KeyMutex().
std::mutex& KeyMutex() {
  static std::mutex m;
  return m;
}
std::string& KeyStorage() {
  static std::string key;
  return key;
}
// Bumped by SetCursorKey, so that each thread's prepared MAC notices a new key.
std::atomic<std::uint64_t> g_key_generation{0};

std::string CurrentKey() {
  std::lock_guard lock(KeyMutex());
  std::string& key = KeyStorage();
  if (key.empty()) {
    std::array<unsigned char, kRandomKeyBytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      core::Log(core::LogLevel::kError, "RAND_bytes failed drawing the cursor key");
      std::abort();  // no entropy: cannot mint unforgeable cursors
    }
    key.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  return key;
}

void PutVarint(std::string& out, std::size_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

bool GetVarint(std::string_view& in, std::size_t& n) {
  n = 0;
  for (int shift = 0; shift < 28; shift += 7) {  // 4 bytes: far more than any cursor needs
    if (in.empty()) return false;
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    n |= static_cast<std::size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// HMAC-SHA256 fetched once per process, and per thread a context keyed once: each cursor then
// costs a reset and the hashing, not a fetch of SHA-256 and a key schedule (issue 3 profile).
class PreparedMac {
 public:
  PreparedMac() = default;
  PreparedMac(const PreparedMac&) = delete;
  PreparedMac& operator=(const PreparedMac&) = delete;
  ~PreparedMac() { EVP_MAC_CTX_free(ctx_); }

  // Starts a MAC under the current key; false if OpenSSL fails.
  bool Begin() {
    const std::uint64_t generation = g_key_generation.load();  // before the key: see SetCursorKey
    if (ctx_ != nullptr && generation == generation_)
      return EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1;
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac == nullptr) return false;
    EVP_MAC_CTX_free(ctx_);
    ctx_ = EVP_MAC_CTX_new(hmac);
    if (ctx_ == nullptr) return false;
    const std::string key = CurrentKey();
    char digest[] = "SHA256";
    const std::array<OSSL_PARAM, 2> params = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params.data()) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
      return false;
    }
    generation_ = generation;
    return true;
  }
  EVP_MAC_CTX* Ctx() { return ctx_; }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  std::uint64_t generation_ = 0;
};

std::string Mac(std::string_view binding, std::string_view payload) {
  // The binding is length-prefixed so that binding/payload boundaries cannot shift.
  std::string prefix;
  PutVarint(prefix, binding.size());
  thread_local PreparedMac mac;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  std::size_t size = 0;
  if (!mac.Begin() ||
      EVP_MAC_update(mac.Ctx(), reinterpret_cast<const unsigned char*>(prefix.data()),
                     prefix.size()) != 1 ||
      EVP_MAC_update(mac.Ctx(), reinterpret_cast<const unsigned char*>(binding.data()),
                     binding.size()) != 1 ||
      EVP_MAC_update(mac.Ctx(), reinterpret_cast<const unsigned char*>(payload.data()),
                     payload.size()) != 1 ||
      EVP_MAC_final(mac.Ctx(), digest.data(), &size, digest.size()) != 1 || size < kMacBytes) {
    core::Log(core::LogLevel::kError, "HMAC-SHA256 failed for a cursor");
    std::abort();  // cannot sign or check cursors: cannot happen with a working OpenSSL
  }
  return std::string(reinterpret_cast<const char*>(digest.data()), kMacBytes);
}

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
        static_cast<unsigned char>(in[i + 2]);
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    out.push_back(kBase64Url[(v >> 6) & 63]);
    out.push_back(kBase64Url[v & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kBase64Url[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const auto pos = kBase64Url.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Unused trailing bits must be zero, so each cursor has exactly one spelling.
  if (bits > 0 && (acc & ((1U << bits) - 1)) != 0) return std::nullopt;
  return out;
}

core::Error InvalidCursor(std::string internal) {
  return core::Error(core::ErrorCode::kInvalidArgument, "invalid cursor", std::move(internal));
}

}  // namespace

void SetCursorKey(std::string key) {
  std::lock_guard lock(KeyMutex());
  KeyStorage() = std::move(key);
  // After the key: a thread that reads the old generation and then the new key re-keys again.
  g_key_generation.fetch_add(1);
}

std::string EncodeCursor(const std::vector<std::string>& position, std::string_view binding) {
  std::string payload;
  payload.push_back(static_cast<char>(kFormat));
  PutVarint(payload, position.size());
  for (const auto& part : position) {
    PutVarint(payload, part.size());
    payload.append(part);
  }
  // The last cursor this thread minted, by key generation, binding and payload: a hot first page
  // (served from the cache) asks for the same next cursor on every request, and the HMAC was
  // ~3.5% of a cached task-list request (issue 3 profile). The generation is read before the
  // MAC, so a key changed meanwhile only makes the next call compute afresh.
  struct LastCursor {
    std::uint64_t generation = 0;
    bool set = false;
    std::string binding;
    std::string payload;
    std::string cursor;
  };
  thread_local LastCursor last;
  const std::uint64_t generation = g_key_generation.load();
  if (last.set && last.generation == generation && last.binding == binding &&
      last.payload == payload) {
    return last.cursor;
  }
  std::string signed_payload = payload;
  signed_payload.append(Mac(binding, payload));
  last.cursor = Base64UrlEncode(signed_payload);
  last.generation = generation;
  last.binding.assign(binding);
  last.payload = std::move(payload);
  last.set = true;
  return last.cursor;
}

core::Result<std::vector<std::string>> DecodeCursor(std::string_view cursor,
                                                    std::string_view binding) {
  if (cursor.size() > kMaxCursorLength) return std::unexpected(InvalidCursor("cursor too long"));
  auto raw = Base64UrlDecode(cursor);
  if (!raw || raw->size() < kMacBytes + 2) {
    return std::unexpected(InvalidCursor("cursor is not base64url of a cursor"));
  }
  const std::string_view all(*raw);
  const std::string_view payload = all.substr(0, all.size() - kMacBytes);
  const std::string_view mac = all.substr(all.size() - kMacBytes);
  const std::string expected = Mac(binding, payload);
  if (CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) != 0) {
    return std::unexpected(InvalidCursor("cursor MAC mismatch (tampered, or another binding)"));
  }
  // Signed by us, so well-formed unless the format changed; checked all the same.
  std::string_view in = payload;
  if (static_cast<unsigned char>(in.front()) != kFormat) {
    return std::unexpected(InvalidCursor("unknown cursor format"));
  }
  in.remove_prefix(1);
  std::size_t count = 0;
  if (!GetVarint(in, count) || count > kMaxPositionParts) {
    return std::unexpected(InvalidCursor("bad part count"));
  }
  std::vector<std::string> parts;
  parts.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = 0;
    if (!GetVarint(in, len) || len > in.size()) return std::unexpected(InvalidCursor("bad part"));
    parts.emplace_back(in.substr(0, len));
    in.remove_prefix(len);
  }
  if (!in.empty()) return std::unexpected(InvalidCursor("trailing bytes"));
  return parts;
}

core::Result<PageRequest> ParsePage(const http::Request& req, std::string_view binding) {
  PageRequest page;
  if (auto limit = req.QueryParam("limit")) {
    int v = 0;
    const char* end = limit->data() + limit->size();
    auto [ptr, ec] = std::from_chars(limit->data(), end, v);
    if (limit->empty() || ec != std::errc() || ptr != end || v < 1 || v > kMaxLimit) {
      core::Error e(core::ErrorCode::kValidation, "invalid query parameters");
      e.fields.push_back(
          core::FieldError{"/limit", "must be an integer from 1 to " + std::to_string(kMaxLimit)});
      return std::unexpected(std::move(e));
    }
    page.limit = v;
  }
  if (auto cursor = req.QueryParam("cursor"); cursor && !cursor->empty()) {
    auto position = DecodeCursor(*cursor, binding);
    if (!position) return std::unexpected(position.error());
    page.after = std::move(*position);
  }
  return page;
}

std::string ListBody(const std::vector<std::string>& items,
                     const std::optional<std::string>& next_cursor) {
  std::size_t size = 0;
  for (const auto& item : items) size += item.size() + 1;
  std::string joined;
  joined.reserve(size);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) joined += ',';
    joined += items[i];
  }
  return JoinedListBody(joined, next_cursor);
}

std::string JoinedListBody(std::string_view items, const std::optional<std::string>& next_cursor) {
  std::string out;
  out.reserve(items.size() + 32 + (next_cursor ? next_cursor->size() : 0));
  out += "{\"items\":[";
  out += items;
  out += "],\"next_cursor\":";
  if (next_cursor) {
    core::AppendJsonString(out, *next_cursor);
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

}  // namespace trellis::platform::rest
