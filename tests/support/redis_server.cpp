#include "tests/support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "tests/support/launcher_util.hpp"

extern char** environ;

namespace trellis::tests::support {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kServerBin = "/usr/bin/redis-server";
constexpr const char* kSentinelBin = "/usr/bin/redis-sentinel";
constexpr const char* kCliBin = "/usr/bin/redis-cli";
constexpr const char* kKeepEnv = "TRELLIS_KEEP_REDIS";
constexpr int kStartAttempts = 5;
constexpr milliseconds kReadyTimeout{10'000};
constexpr milliseconds kSyncTimeout{20'000};
constexpr milliseconds kSentinelReadyTimeout{30'000};
constexpr milliseconds kCliTimeout{10'000};
constexpr milliseconds kPollInterval{10};
constexpr std::size_t kSentinels = 3;

bool KeepDir() {
  const char* v = std::getenv(kKeepEnv);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

std::filesystem::path MakeDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  return pattern;
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path.string());
  chmod(path.c_str(), S_IRUSR | S_IWUSR);
}

// A config file value in double quotes (Redis's sdssplitargs rules).
std::string ConfQuote(const std::string& v) {
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// Starts argv (argv[0] an absolute path) with stdout and stderr appended to `log`, in its own
// process group (so a terminal's ^C reaches only the test). Returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
            const std::filesystem::path& cwd) {
  std::vector<std::string> storage = argv;
  std::vector<char*> args;
  for (auto& a : storage) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string cwd_s = cwd.string();
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + log.string());
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(log_fd);
    if (devnull >= 0) close(devnull);
    throw std::system_error(err, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    setpgid(0, 0);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (chdir(cwd_s.c_str()) != 0) _exit(127);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  close(log_fd);
  if (devnull >= 0) close(devnull);
  return pid;
}

// Whether `pid` (our child) has exited; reaps it.
bool Exited(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

void KillAndReap(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  kill(pid, SIGCONT);  // harmless; a stopped process dies of SIGKILL anyway
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Connects to 127.0.0.1:port, sends PING and reads the first reply line; "" when the server
// does not answer. A blocking probe with short timeouts: the harness's own thread only.
std::string Ping(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{};
  tv.tv_sec = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string line;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    static constexpr char kPing[] = "*1\r\n$4\r\nPING\r\n";
    if (send(fd, kPing, sizeof kPing - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kPing - 1)) {
      char buf[256];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) line.assign(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return TrimNewlines(line);
}

bool Answers(const std::string& ping) {
  // -NOAUTH: up, with a password; -LOADING: not ready yet.
  return ping.starts_with("+PONG") || ping.starts_with("-NOAUTH");
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// redis-cli with argv, REDISCLI_AUTH in its environment when a password is given.
CliResult RunCli(int port, const std::string& password, const std::vector<std::string>& args) {
  std::vector<std::string> storage = {kCliBin, "-h", "127.0.0.1", "-p", std::to_string(port)};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("REDISCLI_")) continue;
    env_storage.emplace_back(*e);
  }
  if (!password.empty()) env_storage.push_back("REDISCLI_AUTH=" + password);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_fds[2];
  int err_fds[2];
  if (pipe2(out_fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  if (pipe2(err_fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(out_fds[1], STDOUT_FILENO);
    dup2(err_fds[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_fds[1]);
  close(err_fds[1]);
  if (devnull >= 0) close(devnull);
  CliResult result;
  pollfd fds[2] = {{out_fds[0], POLLIN, 0}, {err_fds[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const auto deadline = Clock::now() + kCliTimeout;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (timed_out) result.err += "(redis-cli timed out)";
  return result;
}

std::string CliChecked(int port, const std::string& password,
                       const std::vector<std::string>& args) {
  CliResult r = RunCli(port, password, args);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    throw std::runtime_error("redis-cli -p " + std::to_string(port) + cmd + " failed (" +
                             std::to_string(r.exit_code) + "): " + r.err + r.out);
  }
  return TrimNewlines(std::move(r.out));
}

// "key:value" lines of INFO into a map.
std::map<std::string, std::string> ParseInfo(const std::string& info) {
  std::map<std::string, std::string> out;
  std::istringstream in(info);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.starts_with("#")) continue;
    out[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return out;
}

// The alternate key/value lines of a raw redis-cli array reply (SENTINEL master <name>).
std::map<std::string, std::string> ParsePairs(const std::string& raw) {
  std::map<std::string, std::string> out;
  std::istringstream in(raw);
  std::string key;
  std::string value;
  while (std::getline(in, key) && std::getline(in, value)) out[key] = value;
  return out;
}

// The watchdog: /bin/sh in its own session reading one end of a socket pair. "done" from the
// destructor ends it; EOF (its owner died) makes it SIGKILL every pid in $1/*.pid and remove
// $1. The script is a constant; the path reaches it as an argument.
constexpr const char* kWatchdogScript = R"sh(IFS= read -r line
[ "$line" = done ] && exit 0
for f in "$1"/*.pid; do
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
done
[ "$2" = keep ] || rm -rf -- "$1"
)sh";

std::pair<pid_t, int> StartWatchdog(const std::filesystem::path& dir) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<std::string> argv_storage = {"/bin/sh",       "-c",
                                           kWatchdogScript, "trellis-redis-watchdog",
                                           dir.string(),    KeepDir() ? "keep" : "remove"};
  std::vector<char*> args;
  for (auto& a : argv_storage) args.push_back(a.data());
  args.push_back(nullptr);
  std::string path_env = "PATH=/usr/bin:/bin";
  char* envp[] = {path_env.data(), nullptr};
  const pid_t pid = fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    setsid();
    dup2(fds[1], STDIN_FILENO);
    if (devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    if (chdir("/") != 0) _exit(127);
    execve(args[0], args.data(), envp);
    _exit(127);
  }
  close(fds[1]);
  if (devnull >= 0) close(devnull);
  return {pid, fds[0]};
}

void StopWatchdog(int& fd, int& pid) {
  if (fd >= 0) {
    static constexpr char kDone[] = "done\n";
    (void)send(fd, kDone, sizeof kDone - 1, MSG_NOSIGNAL);
    close(fd);
    fd = -1;
  }
  if (pid > 0) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid = 0;
  }
}

void RemoveDir(const std::filesystem::path& dir, const char* what) {
  if (dir.empty()) return;
  if (KeepDir()) {
    std::cerr << what << ": " << kKeepEnv << " set, keeping " << dir.string() << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void WritePidFile(const std::filesystem::path& path, pid_t pid) {
  WriteFile(path, std::to_string(pid) + "\n");
}

}  // namespace

// ---- RedisServer ----------------------------------------------------------------------------

std::unique_ptr<RedisServer> RedisServer::Start(RedisServerOptions options) {
  if (access(kServerBin, X_OK) != 0) {
    throw std::runtime_error(std::string("RedisServer: no ") + kServerBin +
                             " (install the Debian package redis-server: scripts/bootstrap)");
  }
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->options_ = std::move(options);
  server->dir_ = MakeDir("trellis-redis-");
  std::tie(server->watchdog_pid_, server->watchdog_fd_) = StartWatchdog(server->dir_);
  server->Launch(/*pick_new_port_on_clash=*/true);
  if (server->options_.replica_of != 0) server->WaitForSync();
  return server;
}

RedisServer::~RedisServer() {
  Kill();
  StopWatchdog(watchdog_fd_, watchdog_pid_);
  RemoveDir(dir_, "RedisServer");
}

void RedisServer::Launch(bool pick_new_port_on_clash) {
  const auto conf = dir_ / "redis.conf";
  for (int attempt = 1;; ++attempt) {
    if (port_ == 0 || (attempt > 1 && pick_new_port_on_clash)) port_ = PickFreePort();
    std::string text =
        "# trellis test harness (tests/support/redis_server.cpp)\n"
        "port " +
        std::to_string(port_) +
        "\n"
        "bind 127.0.0.1\n"
        "daemonize no\n"
        "logfile \"\"\n"
        "save \"\"\n"
        "appendonly no\n"
        "dir " +
        ConfQuote(dir_.string()) +
        "\n"
        "repl-diskless-sync yes\n"
        "repl-diskless-sync-delay 0\n"
        "repl-ping-replica-period 1\n";
    if (!options_.password.empty()) {
      text += "requirepass " + ConfQuote(options_.password) + "\n";
      text += "masterauth " + ConfQuote(options_.password) + "\n";
    }
    if (options_.replica_of != 0) {
      text += "replicaof 127.0.0.1 " + std::to_string(options_.replica_of) + "\n";
    }
    WriteFile(conf, text);
    WriteFile(Log(), "");
    pid_ = Spawn({kServerBin, conf.string()}, Log(), dir_);
    WritePidFile(dir_ / "redis.pid", pid_);
    const auto deadline = Clock::now() + kReadyTimeout;
    bool exited = false;
    while (true) {
      if (Answers(Ping(port_))) return;
      if (Exited(pid_)) {
        exited = true;
        break;
      }
      if (Clock::now() > deadline) break;
      std::this_thread::sleep_for(kPollInterval);
    }
    if (!exited) KillAndReap(pid_);
    pid_ = 0;
    std::filesystem::remove(dir_ / "redis.pid");
    const std::string tail = LogTail(Log());
    const bool clash = tail.find("Address already in use") != std::string::npos;
    if (!clash || !pick_new_port_on_clash || attempt >= kStartAttempts) {
      Fail(exited ? "redis-server exited at start" : "redis-server did not answer PING in time");
    }
  }
}

void RedisServer::Fail(const std::string& what) const {
  throw std::runtime_error("RedisServer (" + dir_.string() + ", port " + std::to_string(port_) +
                           "): " + what + "\n--- tail of redis.log ---\n" + LogTail(Log()));
}

// Signals are delivered asynchronously: wait (it is our child) until the kernel reports the
// stop or the continue, so that the caller's next step sees the new state.
void RedisServer::Freeze() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid_, &status, WUNTRACED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) pid_ = 0;
    return;
  }
}

void RedisServer::Thaw() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid_, &status, WCONTINUED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) pid_ = 0;
    return;
  }
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  KillAndReap(pid_);
  pid_ = 0;
  std::error_code ec;
  std::filesystem::remove(dir_ / "redis.pid", ec);
}

void RedisServer::Restart() {
  Kill();
  Launch(/*pick_new_port_on_clash=*/false);
}

void RedisServer::WaitForSync() const {
  const auto deadline = Clock::now() + kSyncTimeout;
  std::string last;
  while (true) {
    CliResult r = RunCli(port_, options_.password, {"INFO", "replication"});
    last = r.out + r.err;
    if (r.exit_code == 0 && ParseInfo(r.out)["master_link_status"] == "up") return;
    if (Clock::now() > deadline) Fail("the replica did not sync in time (last INFO: " + last + ")");
    std::this_thread::sleep_for(kPollInterval * 5);
  }
}

std::string RedisServer::CliArgs(const std::vector<std::string>& args) const {
  return CliChecked(port_, options_.password, args);
}

// ---- RedisSentinelGroup ---------------------------------------------------------------------

std::unique_ptr<RedisSentinelGroup> RedisSentinelGroup::Start(RedisSentinelOptions options) {
  if (access(kSentinelBin, X_OK) != 0) {
    throw std::runtime_error(std::string("RedisSentinelGroup: no ") + kSentinelBin +
                             " (install the Debian package redis-sentinel: scripts/bootstrap)");
  }
  std::unique_ptr<RedisSentinelGroup> group(new RedisSentinelGroup());
  group->options_ = std::move(options);
  RedisServerOptions master;
  master.password = group->options_.password;
  group->servers_[0] = RedisServer::Start(master);
  RedisServerOptions replica;
  replica.password = group->options_.password;
  replica.replica_of = group->servers_[0]->Port();
  group->servers_[1] = RedisServer::Start(replica);
  group->dir_ = MakeDir("trellis-sentinel-");
  std::tie(group->watchdog_pid_, group->watchdog_fd_) = StartWatchdog(group->dir_);
  group->sentinels_.resize(kSentinels);
  for (std::size_t i = 0; i < kSentinels; ++i) {
    Sentinel& s = group->sentinels_[i];
    s.conf = group->dir_ / ("sentinel-" + std::to_string(i) + ".conf");
    s.log = group->dir_ / ("sentinel-" + std::to_string(i) + ".log");
    group->StartSentinel(s);
  }
  group->WaitUntilReady();
  return group;
}

RedisSentinelGroup::~RedisSentinelGroup() {
  for (Sentinel& s : sentinels_) {
    KillAndReap(s.pid);
    s.pid = 0;
  }
  StopWatchdog(watchdog_fd_, watchdog_pid_);
  RemoveDir(dir_, "RedisSentinelGroup");
  // servers_ go with their own destructors.
}

void RedisSentinelGroup::StartSentinel(Sentinel& s) {
  const std::string name = MasterName();
  for (int attempt = 1;; ++attempt) {
    s.port = PickFreePort();
    // Sentinel rewrites this file (known replicas and sentinels, the epoch), so it is its own.
    std::string text =
        "# trellis test harness (tests/support/redis_server.cpp)\n"
        "port " +
        std::to_string(s.port) +
        "\n"
        "bind 127.0.0.1\n"
        "daemonize no\n"
        "logfile \"\"\n"
        "dir " +
        ConfQuote(dir_.string()) +
        "\n"
        "sentinel monitor " +
        name + " 127.0.0.1 " + std::to_string(MasterPort()) +
        " 2\n"
        "sentinel down-after-milliseconds " +
        name + " " + std::to_string(options_.down_after.count()) +
        "\n"
        "sentinel failover-timeout " +
        name + " " + std::to_string(options_.failover_timeout.count()) +
        "\n"
        "sentinel parallel-syncs " +
        name + " 1\n";
    if (!options_.password.empty()) {
      text += "sentinel auth-pass " + name + " " + ConfQuote(options_.password) + "\n";
    }
    WriteFile(s.conf, text);
    WriteFile(s.log, "");
    s.pid = Spawn({kSentinelBin, s.conf.string()}, s.log, dir_);
    WritePidFile(std::filesystem::path(s.conf).replace_extension(".pid"), s.pid);
    const auto deadline = Clock::now() + kReadyTimeout;
    bool exited = false;
    while (true) {
      if (Answers(Ping(s.port))) return;
      if (Exited(s.pid)) {
        exited = true;
        break;
      }
      if (Clock::now() > deadline) break;
      std::this_thread::sleep_for(kPollInterval);
    }
    if (!exited) KillAndReap(s.pid);
    s.pid = 0;
    const std::string tail = LogTail(s.log);
    if (tail.find("Address already in use") == std::string::npos || attempt >= kStartAttempts) {
      throw std::runtime_error("RedisSentinelGroup: redis-sentinel did not start\n--- tail of " +
                               s.log.string() + " ---\n" + tail);
    }
  }
}

void RedisSentinelGroup::WaitUntilReady() const {
  // Sentinels find the replica from the master's INFO and each other from hello messages on
  // the master (every 2 s); a failover needs a majority that knows each other.
  const auto deadline = Clock::now() + kSentinelReadyTimeout;
  std::string last;
  while (true) {
    bool ready = true;
    for (std::size_t i = 0; i < sentinels_.size() && ready; ++i) {
      CliResult r = RunCli(sentinels_[i].port, "", {"SENTINEL", "master", MasterName()});
      auto fields = ParsePairs(r.out);
      last = r.out + r.err;
      ready = r.exit_code == 0 && fields["num-slaves"] == "1" &&
              fields["num-other-sentinels"] == std::to_string(kSentinels - 1);
    }
    if (ready) return;
    if (Clock::now() > deadline) Fail("the sentinels did not see each other in time: " + last);
    std::this_thread::sleep_for(kPollInterval * 10);
  }
}

std::vector<int> RedisSentinelGroup::SentinelPorts() const {
  std::vector<int> ports;
  for (const Sentinel& s : sentinels_) ports.push_back(s.port);
  return ports;
}

void RedisSentinelGroup::KillMaster() {
  failed_master_port_ = MasterPort();
  servers_[master_]->Kill();
}

int RedisSentinelGroup::WaitForFailover(std::chrono::milliseconds timeout) {
  const int old_port = failed_master_port_ != 0 ? failed_master_port_ : MasterPort();
  const auto deadline = Clock::now() + timeout;
  std::string last;
  while (true) {
    int agreed = 0;
    bool all = true;
    for (const Sentinel& s : sentinels_) {
      CliResult r = RunCli(s.port, "", {"SENTINEL", "get-master-addr-by-name", MasterName()});
      last = r.out + r.err;
      std::istringstream in(r.out);
      std::string host;
      int port = 0;
      if (r.exit_code != 0 || !(in >> host >> port) || port == old_port) {
        all = false;
        break;
      }
      if (agreed != 0 && agreed != port) all = false;
      agreed = port;
    }
    if (all && agreed != 0) {
      const int idx = servers_[0]->Port() == agreed ? 0 : 1;
      CliResult role = RunCli(agreed, options_.password, {"ROLE"});
      if (role.exit_code == 0 && role.out.starts_with("master")) {
        master_ = idx;
        failed_master_port_ = 0;
        return agreed;
      }
    }
    if (Clock::now() > deadline) {
      Fail("no failover within " + std::to_string(timeout.count()) + " ms (last answer: " + last +
           ")");
    }
    std::this_thread::sleep_for(kPollInterval * 5);
  }
}

std::string RedisSentinelGroup::SentinelCli(std::size_t i,
                                            const std::vector<std::string>& args) const {
  return CliChecked(sentinels_.at(i).port, "", args);
}

void RedisSentinelGroup::Fail(const std::string& what) const {
  std::string msg = "RedisSentinelGroup (" + dir_.string() + "): " + what;
  for (const Sentinel& s : sentinels_) {
    msg += "\n--- tail of " + s.log.filename().string() + " ---\n" + LogTail(s.log);
  }
  throw std::runtime_error(msg);
}

}  // namespace trellis::tests::support
