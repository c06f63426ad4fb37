// Helpers shared by the real-server launchers (postgres_cluster, redis_server): a free loopback
// port, the tail of a server's log for an error message, a command's output without its newline.
//
//   const int port = PickFreePort();
//   throw std::runtime_error("redis-server did not start:\n" + LogTail(log));
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace trellis::tests::support {

// The last `lines` lines of a log file (each ending in '\n'), or a note that it is missing.
inline std::string LogTail(const std::filesystem::path& path, std::size_t lines = 30) {
  std::ifstream f(path);
  if (!f) return "(no log at " + path.string() + ")\n";
  std::vector<std::string> all;
  for (std::string line; std::getline(f, line);) all.push_back(std::move(line));
  const std::size_t from = all.size() > lines ? all.size() - lines : 0;
  std::string tail;
  for (std::size_t i = from; i < all.size(); ++i) tail += all[i] + "\n";
  return tail;
}

// A free TCP port on 127.0.0.1, by binding port 0. Another process may take it before the
// server binds it: launchers retry on that clash.
inline int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    throw std::system_error(err, std::generic_category(), "bind 127.0.0.1:0");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

inline std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace trellis::tests::support
