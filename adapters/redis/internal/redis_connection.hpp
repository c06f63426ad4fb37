// One hiredis asynchronous connection driven by Asio on one event loop (private to the Redis
// adapter; hiredis's types stay in redis_connection.cpp).
//
// hiredis's event hooks (addRead/delRead/addWrite/delWrite/cleanup) become waits on a
// posix::stream_descriptor over the connection's fd. Commands queued in one turn of the loop go
// out in one write (hiredis buffers them until the socket is writable), and replies come back
// in order into the Batch each command belongs to; a Batch wakes its awaiting coroutine through
// its timer. Everything here runs on the connection's loop thread.
//
//   auto conn = Connection::Open(executor, "127.0.0.1", 6379, error);
//   auto batch = std::make_shared<Batch>(executor, commands.size());
//   conn->Send(commands, batch);   // then await batch->timer until batch->done or a deadline
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "adapters/redis/redis_client.hpp"

struct redisAsyncContext;

namespace trellis::adapters::redis::internal {

// The replies of one call. done: every reply arrived (or failed: the connection went away
// first). Whoever completes it cancels `timer`, on which the caller waits.
struct Batch {
  Batch(const boost::asio::any_io_executor& executor, std::size_t n)
      : timer(executor), replies(n) {}
  boost::asio::steady_timer timer;
  std::vector<RedisReply> replies;
  std::size_t received = 0;
  bool failed = false;
  bool done = false;
  std::uint64_t last_seq = 0;  // the connection's sequence number of the batch's last command
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Starts a non-blocking TCP connect; commands may be sent at once (they go out once
  // connected). Null, with `error` set, when it fails at once.
  [[nodiscard]] static std::shared_ptr<Connection> Open(
      const boost::asio::any_io_executor& executor, const std::string& host, int port,
      std::string& error);
  // Closes it if open: batches still waiting fail.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues the commands, their replies going to `batch` (indices 0..n-1). False when the
  // connection is closed (the batch is then failed and done).
  bool Send(std::span<const RedisCommand> commands, const std::shared_ptr<Batch>& batch);
  // Tears it down now; waiting batches fail. Never call it from inside a hiredis callback.
  void Close();

  [[nodiscard]] bool IsOpen() const { return ac_ != nullptr; }
  [[nodiscard]] std::uint64_t Sent() const { return sent_; }
  [[nodiscard]] std::uint64_t Answered() const { return answered_; }
  // hiredis's words for why it closed ("" when closed by us or still open).
  [[nodiscard]] const std::string& LastError() const { return last_error_; }
  [[nodiscard]] const std::string& Peer() const { return peer_; }

 private:
  Connection(const boost::asio::any_io_executor& executor, redisAsyncContext* ac, std::string peer);

  static void AddRead(void* self);
  static void DelRead(void* self);
  static void AddWrite(void* self);
  static void DelWrite(void* self);
  static void Cleanup(void* self);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);

  // Waits for the socket to be readable (or writable), then lets hiredis read (or write).
  void Arm(bool read);
  void Ready(bool read);

  boost::asio::any_io_executor executor_;
  redisAsyncContext* ac_;  // null once hiredis has freed it
  boost::asio::posix::stream_descriptor socket_;
  std::string peer_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  std::uint64_t generation_ = 0;  // bumped when the socket is released; stale waits do nothing
  std::uint64_t sent_ = 0;
  std::uint64_t answered_ = 0;
  std::string last_error_;
};

}  // namespace trellis::adapters::redis::internal
