// Small text helpers shared by the real-server launchers (postgres_cluster, redis_server): the
// tail of a server's log for an error message, and a command's output without its newline.
//
//   throw std::runtime_error("redis-server did not start:\n" + LogTail(log));
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
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

inline std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace trellis::tests::support
