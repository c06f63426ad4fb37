#include "adapters/redis/internal/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>

#include <boost/asio/post.hpp>
#include <utility>

namespace trellis::adapters::redis::internal {

namespace asio = boost::asio;

namespace {

// What hiredis keeps per queued command (freed in OnReply, which hiredis always calls: with
// the reply, or with null when the connection goes away).
struct Pending {
  std::shared_ptr<Batch> batch;
  std::size_t index = 0;
};

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::kNil; break;
  }
  return out;
}

void Finish(Batch& batch) {
  if (batch.received >= batch.replies.size() && !batch.done) {
    batch.done = true;
    batch.timer.cancel();
  }
}

// Whether fd is ready now (level), so that a wait is not started for an edge that the
// edge-triggered epoll reactor has already reported.
bool ReadyNow(int fd, bool read) {
  pollfd p{};
  p.fd = fd;
  p.events = static_cast<short>(read ? POLLIN : POLLOUT);
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

std::shared_ptr<Connection> Connection::Open(const asio::any_io_executor& executor,
                                             const std::string& host, int port,
                                             std::string& error) {
  redisAsyncContext* ac = redisAsyncConnect(host.c_str(), port);
  if (ac == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  if (ac->err != 0) {
    error = ac->errstr;
    redisAsyncFree(ac);
    return nullptr;
  }
  std::shared_ptr<Connection> conn(new Connection(executor, ac, host + ":" + std::to_string(port)));
  boost::system::error_code ec;
  conn->socket_.assign(ac->c.fd, ec);
  if (ec) {
    error = "cannot watch the socket: " + ec.message();
    return nullptr;  // the destructor frees ac
  }
  ac->data = conn.get();
  ac->ev.data = conn.get();
  ac->ev.addRead = &Connection::AddRead;
  ac->ev.delRead = &Connection::DelRead;
  ac->ev.addWrite = &Connection::AddWrite;
  ac->ev.delWrite = &Connection::DelWrite;
  ac->ev.cleanup = &Connection::Cleanup;
  // The connect completes when the socket becomes writable (hiredis then reads as well).
  AddWrite(conn.get());
  return conn;
}

Connection::Connection(const asio::any_io_executor& executor, redisAsyncContext* ac,
                       std::string peer)
    : executor_(executor), ac_(ac), socket_(executor), peer_(std::move(peer)) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  // Runs every pending callback with a null reply, then Cleanup (which releases the socket
  // before hiredis closes it).
  redisAsyncFree(ac);
  ac_ = nullptr;
}

bool Connection::Send(std::span<const RedisCommand> commands, const std::shared_ptr<Batch>& batch) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    bool queued = false;
    if (ac_ != nullptr) {
      argv.clear();
      lens.clear();
      for (const std::string& arg : commands[i]) {
        argv.push_back(arg.data());
        lens.push_back(arg.size());
      }
      auto* pending = new Pending{batch, i};
      queued =
          redisAsyncCommandArgv(ac_, &Connection::OnReply, pending, static_cast<int>(argv.size()),
                                argv.data(), lens.data()) == REDIS_OK;
      if (queued) {
        batch->last_seq = ++sent_;
      } else {
        delete pending;
      }
    }
    if (!queued) {
      // The rest never reaches the server; the ones already queued are failed by hiredis.
      batch->failed = true;
      batch->received += commands.size() - i;
      Finish(*batch);
      return false;
    }
  }
  return true;
}

void Connection::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  Batch& batch = *pending->batch;
  if (reply == nullptr) {
    batch.failed = true;
  } else {
    if (auto* self = static_cast<Connection*>(ac->data); self != nullptr) ++self->answered_;
    batch.replies[pending->index] = Convert(static_cast<const redisReply*>(reply));
  }
  ++batch.received;
  Finish(batch);
}

void Connection::AddRead(void* self) {
  auto* c = static_cast<Connection*>(self);
  c->want_read_ = true;
  c->Arm(true);
}

void Connection::DelRead(void* self) { static_cast<Connection*>(self)->want_read_ = false; }

void Connection::AddWrite(void* self) {
  auto* c = static_cast<Connection*>(self);
  c->want_write_ = true;
  c->Arm(false);
}

void Connection::DelWrite(void* self) { static_cast<Connection*>(self)->want_write_ = false; }

void Connection::Cleanup(void* self) {
  auto* c = static_cast<Connection*>(self);
  if (c->ac_ != nullptr && c->ac_->errstr != nullptr && c->ac_->err != 0) {
    c->last_error_ = c->ac_->errstr;
  }
  c->want_read_ = false;
  c->want_write_ = false;
  ++c->generation_;
  boost::system::error_code ignored;
  c->socket_.cancel(ignored);
  (void)c->socket_.release();  // hiredis closes the fd itself, right after this
  c->ac_ = nullptr;
}

void Connection::Arm(bool read) {
  bool& armed = read ? read_armed_ : write_armed_;
  if (armed || ac_ == nullptr || !socket_.is_open()) return;
  armed = true;
  std::weak_ptr<Connection> weak = weak_from_this();
  const std::uint64_t generation = generation_;
  auto handler = [weak, generation, read](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || self->generation_ != generation) return;
    (read ? self->read_armed_ : self->write_armed_) = false;
    if (ec) return;
    self->Ready(read);
  };
  if (ReadyNow(socket_.native_handle(), read)) {
    asio::post(executor_, [handler] { handler(boost::system::error_code()); });
  } else {
    socket_.async_wait(
        read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write,
        handler);
  }
}

void Connection::Ready(bool read) {
  // hiredis may free the context (and call Cleanup) inside either call.
  if (ac_ != nullptr && read && want_read_) redisAsyncHandleRead(ac_);
  if (ac_ != nullptr && !read && want_write_) redisAsyncHandleWrite(ac_);
  if (ac_ != nullptr && want_read_) Arm(true);
  if (ac_ != nullptr && want_write_) Arm(false);
}

}  // namespace trellis::adapters::redis::internal
