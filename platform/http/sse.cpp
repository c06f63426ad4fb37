#include "platform/http/sse.hpp"

namespace trellis::platform::http {

void AppendSseEvent(std::string& out, std::string_view event, std::string_view data,
                    std::string_view id) {
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  std::size_t start = 0;
  while (true) {
    const auto nl = data.find('\n', start);
    out += "data: ";
    out += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
}

bool SseChannel::Send(std::string_view event, std::string_view data, std::string_view id) {
  std::function<void()> wake;
  bool accepted = true;
  {
    std::lock_guard lock(mu_);
    if (closed_ || overflow_) return false;
    // Event names and ids are single-line by the format; refuse rather than corrupt the stream.
    if (event.find_first_of("\r\n") != std::string_view::npos ||
        id.find_first_of("\r\n") != std::string_view::npos) {
      return false;
    }
    AppendSseEvent(queue_, event, data, id);
    if (queue_.size() > max_) {
      overflow_ = true;
      queue_.clear();
      queue_.shrink_to_fit();
      accepted = false;
    }
    wake = wake_;
  }
  if (wake) wake();
  return accepted;
}

void SseChannel::Close() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    wake = wake_;
  }
  if (wake) wake();
}

bool SseChannel::IsOpen() const {
  std::lock_guard lock(mu_);
  return !closed_ && !overflow_;
}

void SseChannel::Attach(std::size_t max_buffer_bytes, std::function<void()> wake) {
  std::lock_guard lock(mu_);
  max_ = max_buffer_bytes;
  wake_ = std::move(wake);
  if (queue_.size() > max_) {
    overflow_ = true;
    queue_.clear();
  }
}

SseChannel::State SseChannel::TakeAll(std::string& out) {
  std::lock_guard lock(mu_);
  if (overflow_) return State::kOverflow;
  if (!queue_.empty()) {
    out.append(queue_);
    queue_.clear();
    return State::kData;
  }
  return closed_ ? State::kClosed : State::kEmpty;
}

void SseChannel::Detach() {
  std::lock_guard lock(mu_);
  closed_ = true;
  wake_ = nullptr;
  queue_.clear();
}

}  // namespace trellis::platform::http
