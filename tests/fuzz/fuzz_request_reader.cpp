// libFuzzer target for the request path: arbitrary bytes, fed to the RequestReader in
// arbitrary splits, must never crash, hang or break its own invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "platform/http/request.hpp"
#include "platform/http/request_reader.hpp"

namespace http = trellis::platform::http;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte chooses how the input is split into reads, as a socket would deliver it.
  const std::size_t step = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  http::RequestReader reader(
      {.max_header_bytes = 2048, .max_body_bytes = 4096, .max_url_bytes = 512});
  std::string buffer;
  std::size_t offset = 0;
  int messages = 0;
  while (offset < input.size() || !buffer.empty()) {
    const std::size_t take = std::min(step, input.size() - offset);
    buffer.append(input.substr(offset, take));
    offset += take;
    std::size_t used = 0;
    const auto status = reader.Feed(buffer, used);
    Check(used <= buffer.size());
    buffer.erase(0, used);
    if (status == http::RequestReader::Status::kError) {
      const int code = static_cast<int>(reader.Error().code);
      Check(code >= 0);
      Check(!reader.Error().message.empty());
      break;
    }
    if (status == http::RequestReader::Status::kDone) {
      http::Request req;
      reader.Fill(req);
      Check(req.body.size() <= 4096);
      Check(req.target.size() <= 512);
      Check(!req.path.empty());
      for (const auto& h : req.headers) {
        Check(h.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
      }
      (void)req.QueryParam("a");
      reader.Reset();
      ++messages;
      continue;
    }
    if (take == 0) break;  // need more, and there is no more
  }
  return messages >= 0 ? 0 : 1;
}
